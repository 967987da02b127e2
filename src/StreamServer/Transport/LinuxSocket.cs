using System.Buffers;
using System.Runtime.InteropServices;
using StreamServer.Interop;

namespace StreamServer.Transport;

/// <summary>
/// The few socket syscalls our paths need and .NET does not expose: gathered sendmsg with MSG_MORE (headers and a
/// small body in one call; headers corked until the file bytes follow), sendfile(2), and recv(2) on a descriptor
/// the runtime's socket engine does not watch (the RTMP event loop). Every call is non-blocking (the sockets are
/// O_NONBLOCK); EAGAIN is reported, never waited for here.
/// </summary>
internal static unsafe partial class LinuxSocket
{
    private const int MsgNoSignal = 0x4000;
    private const int MsgMore = 0x8000;

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>
    /// One sendmsg of up to two buffers. Returns bytes sent (possibly partial), or -errno.
    /// <paramref name="more"/> sets MSG_MORE: the kernel holds a partial frame for the bytes that follow.
    /// </summary>
    public static long Send(int fd, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, bool more)
    {
        fixed (byte* a = first)
        fixed (byte* b = second)
        {
            var iov = stackalloc IoVec[2];
            iov[0] = new IoVec { Base = a, Length = (nuint)first.Length };
            iov[1] = new IoVec { Base = b, Length = (nuint)second.Length };
            var msg = new MsgHdr { Iov = first.IsEmpty ? iov + 1 : iov, IovLength = (nuint)((first.IsEmpty ? 0 : 1) + (second.IsEmpty ? 0 : 1)) };
            while (true)
            {
                var n = Libc.sendmsg(fd, &msg, MsgNoSignal | (more ? MsgMore : 0));
                if (n >= 0)
                {
                    return n;
                }

                var failure = Libc.FailureOrRetry();
                if (failure != 0)
                {
                    return failure;
                }
            }
        }
    }

    /// <summary>
    /// One sendmsg over the first <paramref name="pins"/>.Length non-empty segments of <paramref name="buffer"/>, the
    /// iovec array on the stack whatever the count (the runtime's own multi-buffer send puts it on the heap above 8).
    /// Returns bytes sent (possibly partial), or -errno. <paramref name="pins"/> is the caller's reusable scratch.
    /// </summary>
    public static long Send(int fd, in ReadOnlySequence<byte> buffer, MemoryHandle[] pins)
    {
        var iov = stackalloc IoVec[pins.Length];
        var count = 0;
        try
        {
            foreach (var segment in buffer)
            {
                if (segment.IsEmpty)
                {
                    continue;
                }

                if (count == pins.Length)
                {
                    break;
                }

                pins[count] = segment.Pin();
                iov[count] = new IoVec { Base = pins[count].Pointer, Length = (nuint)segment.Length };
                count++;
            }

            var msg = new MsgHdr { Iov = iov, IovLength = (nuint)count };
            while (true)
            {
                var n = Libc.sendmsg(fd, &msg, MsgNoSignal);
                if (n >= 0)
                {
                    return n;
                }

                var failure = Libc.FailureOrRetry();
                if (failure != 0)
                {
                    return failure;
                }
            }
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                pins[i].Dispose();
                pins[i] = default;
            }
        }
    }

    /// <summary>sendfile(2) from <paramref name="fileFd"/> at <paramref name="offset"/>; returns bytes sent or -errno.</summary>
    public static long SendFile(int socketFd, nint fileFd, long offset, long count)
    {
        var off = offset;
        while (true)
        {
            var n = Libc.sendfile(socketFd, (int)fileFd, &off, (nuint)Math.Min(count, 0x7ffff000));
            if (n >= 0)
            {
                return n;
            }

            var failure = Libc.FailureOrRetry();
            if (failure != 0)
            {
                return failure;
            }
        }
    }

    /// <summary>One recv(2) into <paramref name="buffer"/>: bytes read (0 at the peer's end of stream), or -errno.</summary>
    public static long Receive(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = Libc.recv(fd, p, (nuint)buffer.Length, 0);
                if (n >= 0)
                {
                    return n;
                }

                var failure = Libc.FailureOrRetry();
                if (failure != 0)
                {
                    return failure;
                }
            }
        }
    }
}
