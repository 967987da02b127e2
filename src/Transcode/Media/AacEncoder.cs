using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Media;

/// <summary>
/// FFmpeg's native AAC-LC encoder fed through swresample + a FIFO, so any decoded audio (rate, layout,
/// sample format) becomes encoder-sized planar float frames. Time base is 1/sample rate.
/// </summary>
public sealed class AacEncoder : IDisposable
{
    private readonly CodecContextHandle context;
    private readonly AudioConverterHandle converter;
    private readonly FrameHandle converted = new();

    public AacEncoder(int sampleRate, int channels, long bitrate)
    {
        SampleRate = sampleRate;
        Channels = channels;
        FfmpegError.Check(SsAv.AudioEncoderOpen(sampleRate, channels, bitrate, out var ctx), $"avcodec_open2(aac {sampleRate} Hz {channels} ch)");
        context = CodecContextHandle.FromNative(ctx);
        FrameSize = SsAv.EncoderFrameSize(ctx);
        FfmpegError.Check(SsAv.AudioConvCreate(sampleRate, channels, FrameSize, out var conv), "audio converter");
        converter = AudioConverterHandle.FromNative(conv);
    }

    public int SampleRate { get; }
    public int Channels { get; }
    public int FrameSize { get; }

    internal nint Ptr => context.DangerousGetHandle();

    /// <summary>
    /// Resamples a decoded frame (null at end of input) and encodes every full frame available; packets go to
    /// <paramref name="onPacket"/>. <paramref name="atMicroseconds"/>: where the frame starts on the output timeline
    /// (<see cref="long.MinValue"/> = unknown: samples simply follow each other); with it, a late start is padded with
    /// silence, an early one trimmed, and gaps over 0.1 s filled, so the audio keeps its place next to the video.
    /// </summary>
    public void Encode(FrameHandle? decoded, long atMicroseconds, PacketHandle packet, Action<PacketHandle> onPacket)
    {
        var conv = converter.DangerousGetHandle();
        FfmpegError.Check(SsAv.AudioConvPush(conv, decoded?.Ptr ?? 0, atMicroseconds), "swr_convert");
        var flush = decoded is null ? 1 : 0;
        while (FfmpegError.Check(SsAv.AudioConvPop(conv, converted.Ptr, flush), "audio fifo") == 1)
        {
            FfmpegError.Check(SsAv.EncoderSend(Ptr, converted.Ptr), "avcodec_send_frame(aac)");
            Drain(packet, onPacket);
        }

        if (decoded is null)
        {
            FfmpegError.Check(SsAv.EncoderSend(Ptr, 0), "avcodec_send_frame(aac flush)");
            Drain(packet, onPacket);
        }
    }

    private void Drain(PacketHandle packet, Action<PacketHandle> onPacket)
    {
        while (true)
        {
            var ret = SsAv.EncoderReceive(Ptr, packet.Ptr);
            if (ret == FfmpegError.Again || ret == FfmpegError.Eof)
            {
                return;
            }

            FfmpegError.Check(ret, "avcodec_receive_packet(aac)");
            onPacket(packet);
            packet.Unref();
        }
    }

    public void Dispose()
    {
        converted.Dispose();
        converter.Dispose();
        context.Dispose();
    }
}
