using System.Runtime.InteropServices;

namespace StreamServer.Tracing;

/// <summary>An attached program (bpf_link); destroying it detaches the program from its tracepoint.</summary>
internal sealed class BpfLinkHandle : SafeHandle
{
    public BpfLinkHandle(nint handle, string programName)
        : base(0, ownsHandle: true)
    {
        SetHandle(handle);
        ProgramName = programName;
    }

    public string ProgramName { get; }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => LibBpf.LinkDestroy(handle) == 0;
}
