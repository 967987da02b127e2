using System.Diagnostics;
using System.Globalization;
using StreamServer.Transcode.Interop;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Live;

/// <summary>What the built-in test channel shows.</summary>
public sealed record LiveTestPatternSettings(int Width = 640, int Height = 360, int FrameRate = 30, long VideoBitrate = 800_000, long AudioBitrate = 96_000)
{
    /// <summary>The font the wall clock is drawn with (Debian's fonts-dejavu-core); no clock without it.</summary>
    public string FontFile { get; init; } = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf";
}

/// <summary>
/// A live source made in-process: libavfilter's testsrc2 pattern with the wall clock burnt in (drawtext, UTC, to the
/// millisecond) and a beeping tone, encoded by the same libx264 / AAC encoders as the VOD ladder (1 s closed GOPs) and
/// paced to the wall clock, into a <see cref="LiveRemuxer"/> exactly as a publisher's packets would be. Runs on the
/// caller's thread until cancelled. The generator's frames live in libavfilter's buffers, not the pool: nothing is
/// decoded here, and the encoder reads each frame once.
/// </summary>
public sealed class LiveTestPattern(LiveTestPatternSettings settings)
{
    public LiveTestPatternSettings Settings => settings;

    // drawtext expands %{pts:gmtime:EPOCH:format} (seconds) and the milliseconds from t; the stream starts on a whole
    // second of the wall clock, so EPOCH + t is the wall-clock time the frame is due. Escaped for the filter-graph parser.
    private const string ClockText = @"%{pts\:gmtime\:EPOCH\:%H\\\:%M\\\:%S}.%{eif\:mod(t*1000\,1000)\:d\:3}";

    /// <summary>The filter graph: [v] picture with the UTC clock of <paramref name="epochSeconds"/> + t, [a] tone (beeps).</summary>
    public string GraphDescription(long epochSeconds)
    {
        var s = settings;
        var video = string.Create(CultureInfo.InvariantCulture, $"testsrc2=size={s.Width}x{s.Height}:rate={s.FrameRate}");
        if (File.Exists(s.FontFile))
        {
            var size = Math.Max(12, s.Height / 10);
            video += string.Create(CultureInfo.InvariantCulture,
                $",drawtext=fontfile={s.FontFile}:fontsize={size}:fontcolor=white:box=1:boxcolor=black:x=(w-tw)/2:y=h-th-{size}:text='")
                + ClockText.Replace("EPOCH", epochSeconds.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal) + "'";
        }

        return video + ",format=yuv420p[v];sine=frequency=440:beep_factor=2:sample_rate=48000,aformat=channel_layouts=stereo[a]";
    }

    /// <summary>
    /// Generates, encodes and hands packets to the remuxer <paramref name="open"/> returns until <paramref name="cancel"/>
    /// fires, then ends the stream (EXT-X-ENDLIST).
    /// </summary>
    public void Run(Func<LiveStreamInfo, LiveRemuxer> open, CancellationToken cancel)
    {
        FfmpegLibraries.EnsureCompatible();
        var s = settings;

        // Start on a whole second so the burnt-in clock (EPOCH + t) is the wall clock.
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        if (cancel.WaitHandle.WaitOne((int)(1000 - (now % 1000))))
        {
            return;
        }

        var clock = Stopwatch.StartNew();
        var epoch = (now / 1000) + 1;
        using var generator = GeneratorHandle.Open(GraphDescription(epoch));
        using var video = new H264Encoder(new H264EncoderSettings(s.Width, s.Height, new Rational(1, s.FrameRate), new Rational(s.FrameRate, 1),
            s.FrameRate, s.VideoBitrate, s.VideoBitrate * 3 / 2, s.VideoBitrate, "veryfast", Threads: 1, Profile: "main",
            X264Params: "scenecut=0:open-gop=0:bframes=0:rc-lookahead=0:sync-lookahead=0"), "test channel"); // no frame held back
        using var audio = new AacEncoder(48000, 2, s.AudioBitrate);
        using var frame = new FrameHandle();
        using var packet = new PacketHandle();
        // Frame t is due at epoch + t: the playlists date segments by what the picture shows, so a player's measured
        // latency behind the wall clock includes encoding and packaging.
        using var remuxer = open(new LiveStreamInfo(video.Extradata.ToArray(), Extradata(audio.Ptr), s.Width, s.Height,
            DateTimeOffset.FromUnixTimeSeconds(epoch)));
        void WriteAudio(PacketHandle p) => remuxer.WriteAudio(p.Data, p.Pts * 1000 / audio.SampleRate);
        long frameIndex = 0;
        var audioMs = 0L;
        while (true)
        {
            Pull(generator, 0, frame, out _);
            var frameMs = frameIndex * 1000 / s.FrameRate;
            var wait = frameMs - clock.ElapsedMilliseconds;
            if (wait > 0 ? cancel.WaitHandle.WaitOne((int)wait) : cancel.IsCancellationRequested)
            {
                frame.Unref();
                break;
            }

            // libavfilter marks every generated picture as an I frame, which libx264 would obey: keyframes once a second.
            frame.SetForcedKey(frameIndex % s.FrameRate == 0);
            frame.SetPts(frameIndex++);
            video.Send(frame);
            frame.Unref();
            Drain(video, packet, remuxer, s.FrameRate);

            // Audio follows the picture: everything up to this frame's time, as the encoder's frames complete.
            while (audioMs <= frameMs)
            {
                Pull(generator, 1, frame, out var tb);
                audioMs = frame.Pts * 1000 * tb.Num / tb.Den;
                audio.Encode(frame, frame.Pts * 1_000_000 * tb.Num / tb.Den, packet, WriteAudio);
                frame.Unref();
            }
        }

        remuxer.Finish();
    }

    private static void Drain(H264Encoder video, PacketHandle packet, LiveRemuxer remuxer, int fps)
    {
        while (video.Receive(packet))
        {
            var dts = packet.Dts * 1000 / fps;
            remuxer.WriteVideo(packet.Data, dts, (int)((packet.Pts * 1000 / fps) - dts), packet.IsKey);
            packet.Unref();
        }
    }

    private static void Pull(GeneratorHandle generator, int kind, FrameHandle frame, out Rational timeBase)
    {
        FfmpegError.Check(SsAv.GeneratorPull(generator.DangerousGetHandle(), kind, frame.Ptr, out var num, out var den), kind == 0 ? "test pattern (video)" : "test pattern (audio)");
        timeBase = new Rational(num, den);
    }

    private static unsafe byte[] Extradata(nint codec)
    {
        SsAv.CodecExtradata(codec, out var data, out var size);
        return data is null ? [] : new ReadOnlySpan<byte>(data, size).ToArray();
    }
}
