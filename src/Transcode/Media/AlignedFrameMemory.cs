using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Media;

/// <summary>Default <see cref="IFrameMemory"/>: NativeMemory.AlignedAlloc per frame.</summary>
public sealed unsafe class AlignedFrameMemory : IFrameMemory
{
    public static AlignedFrameMemory Shared { get; } = new();

    public nint Rent(nuint size, nuint alignment) => (nint)NativeMemory.AlignedAlloc(size, alignment);

    public void Release(nint block) => NativeMemory.AlignedFree((void*)block);
}
