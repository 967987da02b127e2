using System.Runtime.InteropServices;

namespace StreamServer.BufferPool.Interop;

/// <summary>The few libc calls the pool needs: an anonymous shared-memory file and its mapping.</summary>
internal static partial class LibC
{
    public const uint MFD_CLOEXEC = 0x0001;
    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x01;
    public static readonly nint MAP_FAILED = -1;

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int FTruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint MMap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int MUnmap(nint addr, nuint length);

    public static string LastError(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        return $"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
    }
}
