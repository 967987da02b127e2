using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using StreamServer.Interop;

namespace StreamServer.Vod;

/// <summary>Identity of a file as the kernel sees it: what the ETag and the cache validation are built from.</summary>
internal readonly record struct FileIdentity(ulong Device, ulong Inode, long Size, long MtimeSeconds, uint MtimeNanoseconds, bool IsRegularFile);

/// <summary>
/// statx(2) and realpath(3). statx's struct layout is the same on every architecture, unlike struct stat,
/// which is why it is used instead of fstat.
/// </summary>
internal static unsafe partial class LibcFile
{
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const ushort SIfmt = 0xF000;
    private const ushort SIfreg = 0x8000;

    public static bool TryStat(SafeFileHandle handle, out FileIdentity identity)
    {
        var success = false;
        handle.DangerousAddRef(ref success);
        try
        {
            byte* empty = stackalloc byte[1];
            empty[0] = 0;
            return TryStatx((int)handle.DangerousGetHandle(), empty, AtEmptyPath, out identity);
        }
        finally
        {
            if (success)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Stats a path, following symlinks (what a new open would see).</summary>
    public static bool TryStat(string path, out FileIdentity identity)
    {
        Span<byte> buffer = stackalloc byte[Encoding.UTF8.GetMaxByteCount(path.Length) + 1];
        var n = Encoding.UTF8.GetBytes(path, buffer);
        buffer[n] = 0;
        fixed (byte* p = buffer)
        {
            return TryStatx(AtFdCwd, p, 0, out identity);
        }
    }

    private const int AtFdCwd = -100;

    private static bool TryStatx(int dirfd, byte* path, int flags, out FileIdentity identity)
    {
        byte* buf = stackalloc byte[256];
        if (Libc.statx(dirfd, path, flags, StatxBasicStats, buf) != 0)
        {
            identity = default;
            return false;
        }

        var mode = *(ushort*)(buf + 28);
        var ino = *(ulong*)(buf + 32);
        var size = *(long*)(buf + 40);
        var mtimeSec = *(long*)(buf + 112);
        var mtimeNsec = *(uint*)(buf + 120);
        var devMajor = *(uint*)(buf + 136);
        var devMinor = *(uint*)(buf + 140);
        identity = new FileIdentity(((ulong)devMajor << 32) | devMinor, ino, size, mtimeSec, mtimeNsec, (mode & SIfmt) == SIfreg);
        return true;
    }
}
