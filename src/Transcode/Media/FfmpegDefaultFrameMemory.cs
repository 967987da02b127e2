namespace StreamServer.Transcode.Media;

/// <summary>
/// Marker that selects FFmpeg's own allocators instead of a managed <see cref="IFrameMemory"/>:
/// avcodec_default_get_buffer2 (AVBufferPool per decoder) for decoded frames and av_frame_get_buffer for
/// scaler output. Used as the comparison point of the frame-path benchmark; never rents itself.
/// </summary>
public sealed class FfmpegDefaultFrameMemory : IFrameMemory
{
    public static FfmpegDefaultFrameMemory Instance { get; } = new();

    private FfmpegDefaultFrameMemory()
    {
    }

    public nint Rent(nuint size, nuint alignment) => 0;

    public void Release(nint block)
    {
    }
}
