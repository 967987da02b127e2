using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Interop;

/// <summary>
/// Whole-file writes with the fewest system calls: open, write, close, rename. FileStream and File.OpenHandle add flock,
/// ftruncate, lseek and fstatfs per open, File.Exists and File.Move an lstat each: a live channel writes a dozen files a
/// second (parts, segments, playlists), and those calls were a third of its CPU.
/// </summary>
internal static unsafe partial class PosixFile
{
    private const int WriteOnly = 0x1, Create = 0x40, Exclusive = 0x80, Truncate = 0x200, CloseOnExec = 0x80000;
    private const int AtCurrentDirectory = -100;
    private const uint RenameNoReplace = 1;
    private const int NoEntry = 2, Interrupted = 4, Exists = 17, Invalid = 22, NotSupported = 95;

    /// <summary>Replaces <paramref name="path"/> with <paramref name="content"/> at once (a temporary file renamed over it).</summary>
    public static void WriteReplacing(string path, ReadOnlySpan<byte> content)
    {
        var temporary = path + ".tmp-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var fd = Open(temporary, WriteOnly | Create | Truncate | CloseOnExec);
        try
        {
            WriteAll(fd, content, temporary);
        }
        finally
        {
            close(fd);
        }

        if (rename(temporary, path) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            unlink(temporary);
            throw Failure("rename", path, error);
        }
    }

    /// <summary>
    /// Writes a new file from <paramref name="chunks"/> under the name <paramref name="hidden"/> and renames it to <paramref name="path"/>, which
    /// must not exist (nothing growing or replaced is ever visible under the final name).
    /// </summary>
    public static void WriteNew(string path, string hidden, IReadOnlyList<ReadOnlyMemory<byte>> chunks)
    {
        var fd = Open(hidden, WriteOnly | Create | Truncate | CloseOnExec);
        try
        {
            foreach (var chunk in chunks)
            {
                WriteAll(fd, chunk.Span, hidden);
            }
        }
        catch
        {
            close(fd);
            unlink(hidden);
            throw;
        }

        close(fd);
        if (renameat2(AtCurrentDirectory, hidden, AtCurrentDirectory, path, RenameNoReplace) == 0)
        {
            return;
        }

        var error = Marshal.GetLastPInvokeError();
        if (error is Invalid or NotSupported && !File.Exists(path) && rename(hidden, path) == 0)
        {
            return; // a filesystem without RENAME_NOREPLACE
        }

        unlink(hidden);
        throw error is Exists or Invalid or NotSupported ? new IOException($"{path} already exists") : Failure("rename", path, error);
    }

    /// <summary>Removes a file; false when there was none.</summary>
    public static bool TryDelete(string path)
    {
        if (unlink(path) == 0)
        {
            return true;
        }

        var error = Marshal.GetLastPInvokeError();
        return error == NoEntry ? false : throw Failure("unlink", path, error);
    }

    private static int Open(string path, int flags)
    {
        while (true)
        {
            var fd = open(path, flags, 0x1a4); // 0644
            if (fd >= 0)
            {
                return fd;
            }

            var error = Marshal.GetLastPInvokeError();
            if (error != Interrupted)
            {
                throw Failure("open", path, error);
            }
        }
    }

    private static void WriteAll(int fd, ReadOnlySpan<byte> content, string path)
    {
        fixed (byte* start = content)
        {
            var done = 0;
            while (done < content.Length)
            {
                var n = write(fd, start + done, (nuint)(content.Length - done));
                if (n < 0)
                {
                    var error = Marshal.GetLastPInvokeError();
                    if (error == Interrupted)
                    {
                        continue;
                    }

                    throw Failure("write", path, error);
                }

                done += (int)n;
            }
        }
    }

    private static IOException Failure(string call, string path, int error) => new($"{call} {path}: {Marshal.GetPInvokeErrorMessage(error)}");

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rename(string from, string to);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int fromDirectory, string from, int toDirectory, string to, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int unlink(string path);
}
