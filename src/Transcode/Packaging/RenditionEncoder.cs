using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Packaging;

/// <summary>
/// One rung's picture path: scale (unless the input already has the output size and format, then the input frame itself
/// is encoded, by reference) -> libx264. Owns its scaler and encoder; VOD renditions and live ladders both encode
/// through it. Not thread safe (one per rung thread).
/// </summary>
public sealed class RenditionEncoder : IDisposable
{
    private readonly IFrameMemory? frameMemory;
    private readonly H264Encoder encoder;
    private readonly FrameHandle scaled = new();
    private Scaler? scaler;
    private (int W, int H, int Format) input;

    public RenditionEncoder(RenditionPlan plan, H264EncoderSettings settings, IFrameMemory? frameMemory)
    {
        Plan = plan;
        this.frameMemory = frameMemory;
        encoder = new H264Encoder(settings, plan.Name);
        Codecs = CodecStrings.Avc1(encoder.Extradata);
    }

    public RenditionPlan Plan { get; }

    /// <summary>The RFC 6381 codecs string of the encoded stream.</summary>
    public string Codecs { get; }

    /// <summary>The encoder (its context describes the stream to a muxer; its extradata holds SPS/PPS).</summary>
    public H264Encoder Encoder => encoder;

    public long FramesEncoded { get; private set; }

    /// <summary>
    /// Called with every frame this rung encodes (its scaled frame, or the input itself when no scaling was needed),
    /// before the frame is released: lower rungs scale from it (cascade).
    /// </summary>
    public Action<FrameHandle>? Downstream { get; set; }

    /// <summary>Encodes one input frame (pts in the encoder time base, key flag already decided); packets via <see cref="Receive"/>.</summary>
    public void Encode(FrameHandle frameIn)
    {
        var info = frameIn.Info;
        if ((info.Width, info.Height, info.Format) != input)
        {
            // Built from the first frame and rebuilt on a mid-stream size/format change.
            scaler?.Dispose();
            scaler = ScalerFor(info.Width, info.Height, info.Format);
        }

        var frame = frameIn;
        if (scaler is not null)
        {
            scaler.Scale(frameIn, scaled);
            frame = scaled;
        }

        try
        {
            encoder.Send(frame);
            Downstream?.Invoke(frame);
        }
        finally
        {
            if (scaler is not null)
            {
                scaled.Unref();
            }
        }

        FramesEncoded++;
    }

    /// <summary>Next encoded packet; false when the encoder needs more input or is drained.</summary>
    public bool Receive(PacketHandle packet) => encoder.Receive(packet);

    /// <summary>No more frames: what the encoder holds comes out of <see cref="Receive"/>.</summary>
    public void Drain() => encoder.Send(null);

    private Scaler? ScalerFor(int width, int height, int format)
    {
        input = (width, height, format);
        if (width == Plan.Width && height == Plan.Height && format == PixelFormats.Yuv420P)
        {
            return null;
        }

        return new Scaler(width, height, format, Plan.Width, Plan.Height, PixelFormats.Yuv420P, frameMemory);
    }

    public void Dispose()
    {
        encoder.Dispose();
        scaler?.Dispose();
        scaled.Dispose();
    }
}
