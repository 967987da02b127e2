using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace StreamServer.BufferPool.Tests;

/// <summary>Direct syscalls, so tests see the memfd the way sendfile does: through the descriptor.</summary>
internal static partial class Native
{
    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static unsafe partial nint PRead(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static unsafe partial nint PWrite(int fd, byte* buffer, nuint count, long offset);

    public static unsafe int Pread(SafeFileHandle file, Span<byte> destination, long offset)
    {
        fixed (byte* p = destination)
        {
            var n = PRead((int)file.DangerousGetHandle(), p, (nuint)destination.Length, offset);
            return n < 0 ? throw new IOException($"pread errno {Marshal.GetLastPInvokeError()}") : (int)n;
        }
    }

    public static unsafe int Pwrite(SafeFileHandle file, ReadOnlySpan<byte> source, long offset)
    {
        fixed (byte* p = source)
        {
            var n = PWrite((int)file.DangerousGetHandle(), p, (nuint)source.Length, offset);
            return n < 0 ? throw new IOException($"pwrite errno {Marshal.GetLastPInvokeError()}") : (int)n;
        }
    }

    /// <summary>VmRSS of this process in bytes, from /proc/self/status.</summary>
    public static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS in /proc/self/status");
    }
}
