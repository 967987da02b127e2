using Microsoft.Win32.SafeHandles;

namespace StreamServer.BufferPool.Interop;

/// <summary>Owns one mmap'ed region; unmapped exactly once when released.</summary>
internal sealed class MappedRegionHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private MappedRegionHandle(nint address, nuint length)
        : base(ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    public nuint Length { get; }

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="file"/> read/write, MAP_SHARED,
    /// so writes through the mapping are what pread/sendfile on the fd see.</summary>
    public static MappedRegionHandle MapShared(SafeFileHandle file, nuint length)
    {
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            var address = LibC.MMap(0, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, (int)file.DangerousGetHandle(), 0);
            if (address == LibC.MAP_FAILED)
            {
                throw new IOException(LibC.LastError("mmap"));
            }

            return new MappedRegionHandle(address, length);
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    protected override bool ReleaseHandle() => LibC.MUnmap(handle, Length) == 0;
}
