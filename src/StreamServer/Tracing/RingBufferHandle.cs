using System.Runtime.InteropServices;

namespace StreamServer.Tracing;

/// <summary>A libbpf ring_buffer consumer (epoll over one or more BPF ring buffer maps).</summary>
internal sealed class RingBufferHandle : SafeHandle
{
    public RingBufferHandle(nint handle)
        : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LibBpf.RingBufferFree(handle);
        return true;
    }
}
