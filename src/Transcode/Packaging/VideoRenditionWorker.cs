using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Packaging;

/// <summary>One VOD rendition: a <see cref="RenditionEncoder"/> into fMP4 segments. Owns its encoder and muxer.</summary>
internal sealed class VideoRenditionWorker : IDisposable
{
    private readonly RenditionEncoder rung;
    private readonly Fmp4TrackWriter writer;
    private readonly PacketHandle packet = new();
    private readonly long frameDuration;

    public VideoRenditionWorker(RenditionPlan plan, H264EncoderSettings settings, long frameDuration,
        string directory, IFrameMemory? frameMemory, SegmentBuffer output)
    {
        this.frameDuration = frameDuration;
        rung = new RenditionEncoder(plan, settings, frameMemory);
        try
        {
            writer = new Fmp4TrackWriter(rung.Encoder.Ptr, settings.TimeBase, directory, plan.Name, output);
        }
        catch
        {
            rung.Dispose();
            throw;
        }
    }

    public RenditionPlan Plan => rung.Plan;
    public string Codecs => rung.Codecs;
    public long FramesEncoded => rung.FramesEncoded;
    public Fmp4TrackWriter Writer => writer;

    /// <inheritdoc cref="RenditionEncoder.Downstream"/>
    public Action<FrameHandle>? Downstream
    {
        get => rung.Downstream;
        set => rung.Downstream = value;
    }

    /// <summary>Encodes one input frame (pts in the encoder time base, key flag already decided).</summary>
    public void Encode(FrameHandle input)
    {
        rung.Encode(input);
        Write();
    }

    public void Finish()
    {
        rung.Drain();
        Write();
        writer.Finish();
        TranscodeMetrics.FramesEncoded.Add(FramesEncoded);
    }

    private void Write()
    {
        while (rung.Receive(packet))
        {
            writer.Write(packet, packet.IsKey, frameDuration);
            packet.Unref();
        }
    }

    public void Dispose()
    {
        writer.Dispose();
        rung.Dispose();
        packet.Dispose();
    }
}
