using System.Runtime.InteropServices;
using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Media;

/// <summary>What one libx264 encoder is asked to do.</summary>
public sealed record H264EncoderSettings(
    int Width,
    int Height,
    Rational TimeBase,
    Rational FrameRate,
    int GopFrames,
    long BitrateBitsPerSecond,
    long MaxrateBitsPerSecond,
    long BufferBits,
    string Preset,
    int Threads = 0,
    string? Profile = "high",
    string? X264Params = "scenecut=0:open-gop=0");

/// <summary>
/// libx264 with a closed GOP, no scene-cut keyframes and forced IDR on demand (frames whose key flag
/// was set with <see cref="FrameHandle.SetForcedKey"/>), so keyframes land where the caller says.
/// </summary>
public sealed unsafe class H264Encoder : IDisposable
{
    private readonly CodecContextHandle context;

    public H264Encoder(H264EncoderSettings settings, string label)
    {
        Settings = settings;
        Label = label;
        var preset = Marshal.StringToCoTaskMemUTF8(settings.Preset);
        var profile = settings.Profile is null ? 0 : Marshal.StringToCoTaskMemUTF8(settings.Profile);
        var x264 = settings.X264Params is null ? 0 : Marshal.StringToCoTaskMemUTF8(settings.X264Params);
        try
        {
            var p = new VideoEncoderParams
            {
                Width = settings.Width,
                Height = settings.Height,
                PixFmt = PixelFormats.Yuv420P,
                TbNum = settings.TimeBase.Num,
                TbDen = settings.TimeBase.Den,
                FrNum = settings.FrameRate.Num,
                FrDen = settings.FrameRate.Den,
                SarNum = 1,
                SarDen = 1,
                Gop = settings.GopFrames,
                Threads = settings.Threads,
                Bitrate = settings.BitrateBitsPerSecond,
                Maxrate = settings.MaxrateBitsPerSecond,
                Bufsize = settings.BufferBits,
                Preset = (byte*)preset,
                Profile = (byte*)profile,
                X264Params = (byte*)x264,
            };
            FfmpegError.Check(SsAv.VideoEncoderOpen(&p, out var ctx), $"avcodec_open2(libx264 {label})");
            context = CodecContextHandle.FromNative(ctx);
        }
        finally
        {
            Marshal.FreeCoTaskMem(preset);
            Marshal.FreeCoTaskMem(profile);
            Marshal.FreeCoTaskMem(x264);
        }
    }

    public H264EncoderSettings Settings { get; }
    public string Label { get; }

    internal nint Ptr => context.DangerousGetHandle();

    /// <summary>Sends a frame (null to drain).</summary>
    public void Send(FrameHandle? frame) =>
        FfmpegError.Check(SsAv.EncoderSend(Ptr, frame?.Ptr ?? 0), $"avcodec_send_frame(libx264 {Label})");

    /// <summary>Next encoded packet; false when the encoder needs more input or is drained.</summary>
    public bool Receive(PacketHandle packet)
    {
        var ret = SsAv.EncoderReceive(Ptr, packet.Ptr);
        if (ret == FfmpegError.Again || ret == FfmpegError.Eof)
        {
            return false;
        }

        FfmpegError.Check(ret, $"avcodec_receive_packet(libx264 {Label})");
        return true;
    }

    /// <summary>The encoder's global header (SPS/PPS, Annex B or avcC).</summary>
    public ReadOnlySpan<byte> Extradata
    {
        get
        {
            SsAv.CodecExtradata(Ptr, out var data, out var size);
            return data is null ? default : new ReadOnlySpan<byte>(data, size);
        }
    }

    public void Dispose() => context.Dispose();
}
