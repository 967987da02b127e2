using System.Runtime.InteropServices;
using System.Text;

namespace StreamServer.Interop;

/// <summary>
/// Every libc call of this assembly that .NET does not expose (sockets, epoll, statx, realpath, mount, malloc_trim),
/// with the two rules they share: a call interrupted by a signal is retried (<see cref="FailureOrRetry"/>), and paths
/// are compared only after realpath (<see cref="RealPath"/>, <see cref="IsWithin"/>).
/// </summary>
internal static unsafe partial class Libc
{
    public const int EAGAIN = 11;
    public const int EINTR = 4;

    /// <summary>
    /// After a call returned -1: 0 when a signal interrupted it (EINTR, the caller makes the call again), else -errno.
    /// </summary>
    public static int FailureOrRetry()
    {
        var errno = Marshal.GetLastPInvokeError();
        return errno == EINTR ? 0 : -errno;
    }

    /// <summary>Canonical absolute path with every symlink, "." and ".." resolved; null when it does not exist.</summary>
    public static string? RealPath(string path)
    {
        Span<byte> input = stackalloc byte[Encoding.UTF8.GetMaxByteCount(path.Length) + 1];
        var n = Encoding.UTF8.GetBytes(path, input);
        input[n] = 0;
        byte* resolved = stackalloc byte[4097]; // PATH_MAX + 1
        fixed (byte* p = input)
        {
            if (realpath(p, resolved) == null)
            {
                return null;
            }
        }

        return Marshal.PtrToStringUTF8((nint)resolved);
    }

    /// <summary>Whether real path <paramref name="realPath"/> lies strictly below real folder <paramref name="realRoot"/> (both from <see cref="RealPath"/>).</summary>
    public static bool IsWithin(string realPath, string realRoot) =>
        realPath.Length > realRoot.Length + 1 && realPath.StartsWith(realRoot, StringComparison.Ordinal) && realPath[realRoot.Length] == '/';

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint sendmsg(int sockfd, void* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint sendfile(int outFd, int inFd, long* offset, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recv(int sockfd, byte* buf, nuint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint sendto(int fd, nint buffer, nuint length, int flags, nint address, int addressLength);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_wait(int epfd, byte* events, int maxEvents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int statx(int dirfd, byte* pathname, int flags, uint mask, byte* statxbuf);

    [LibraryImport("libc", SetLastError = true)]
    private static partial byte* realpath(byte* path, byte* resolved);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string source, string target, string fstype, nuint flags, nint data);

    [LibraryImport("libc")]
    public static partial int malloc_trim(nuint pad);
}
