using Microsoft.Win32.SafeHandles;

namespace StreamServer.BufferPool.Interop;

/// <summary>Creates the anonymous memory file (memfd) that backs the pool.</summary>
internal static class MemfdFile
{
    /// <summary>memfd_create + ftruncate. The name shows up as <c>/memfd:NAME (deleted)</c> in /proc/PID/fd,
    /// which is how operators (and a test) see that the pool exists.</summary>
    public static SafeFileHandle Create(string name, long length)
    {
        var fd = LibC.MemfdCreate(name, LibC.MFD_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException(LibC.LastError("memfd_create"));
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (LibC.FTruncate(fd, length) != 0)
        {
            var message = LibC.LastError("ftruncate");
            handle.Dispose();
            throw new IOException(message);
        }

        return handle;
    }
}
