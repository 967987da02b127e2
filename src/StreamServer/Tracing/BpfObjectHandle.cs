using System.Runtime.InteropServices;

namespace StreamServer.Tracing;

/// <summary>An opened (and later loaded) bpf_object; closing it unloads its programs and maps.</summary>
internal sealed class BpfObjectHandle : SafeHandle
{
    public BpfObjectHandle(nint handle)
        : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LibBpf.ObjectClose(handle);
        return true;
    }
}
