using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Packaging;

/// <summary>
/// One rendition: scale (unless the decoded frame already has the output size and format, then the
/// decoded frame itself is encoded) -> libx264 -> fMP4 segments. Owns its scaler, encoder and muxer.
/// </summary>
internal sealed class VideoRenditionWorker : IDisposable
{
    private readonly IFrameMemory? frameMemory;
    private Scaler? scaler;
    private (int W, int H, int Format) input;
    private readonly H264Encoder encoder;
    private readonly Fmp4TrackWriter writer;
    private readonly FrameHandle scaled = new();
    private readonly PacketHandle packet = new();
    private readonly long frameDuration;

    public VideoRenditionWorker(RenditionPlan plan, H264EncoderSettings settings, long frameDuration,
        string directory, IFrameMemory? frameMemory, SegmentBuffer output)
    {
        Plan = plan;
        this.frameDuration = frameDuration;
        this.frameMemory = frameMemory;

        encoder = new H264Encoder(settings, plan.Name);
        writer = new Fmp4TrackWriter(encoder.Ptr, settings.TimeBase, directory, plan.Name, output);
        Codecs = CodecStrings.Avc1(encoder.Extradata);
    }

    public RenditionPlan Plan { get; }
    public string Codecs { get; }
    public long FramesEncoded { get; private set; }
    public Fmp4TrackWriter Writer => writer;

    /// <summary>
    /// Called with every frame this rendition encodes (its scaled frame, or the input itself when no
    /// scaling was needed), before the frame is released: lower renditions scale from it (cascade).
    /// </summary>
    public Action<FrameHandle>? Downstream { get; set; }

    /// <summary>Encodes one input frame (pts in the encoder time base, key flag already decided).</summary>
    public void Encode(FrameHandle input)
    {
        var info = input.Info;
        if ((info.Width, info.Height, info.Format) != this.input)
        {
            // Built from the first frame (the decoded source, or the top rung's output when cascading)
            // and rebuilt on a mid-stream size/format change.
            scaler?.Dispose();
            scaler = ScalerFor(info.Width, info.Height, info.Format);
        }

        var frame = input;
        if (scaler is not null)
        {
            scaler.Scale(input, scaled);
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
        Drain();
    }

    private Scaler? ScalerFor(int width, int height, int format)
    {
        input = (width, height, format);
        if (width == Plan.Width && height == Plan.Height && format == PixelFormats.Yuv420P)
        {
            // Already the output size and format: the decoded frame itself is encoded, by reference.
            return null;
        }

        return new Scaler(width, height, format, Plan.Width, Plan.Height, PixelFormats.Yuv420P, frameMemory);
    }

    public void Finish()
    {
        encoder.Send(null);
        Drain();
        writer.Finish();
        TranscodeMetrics.FramesEncoded.Add(FramesEncoded);
    }

    private void Drain()
    {
        while (encoder.Receive(packet))
        {
            writer.Write(packet, packet.IsKey, frameDuration);
            packet.Unref();
        }
    }

    public void Dispose()
    {
        writer.Dispose();
        encoder.Dispose();
        scaler?.Dispose();
        scaled.Dispose();
        packet.Dispose();
    }
}
