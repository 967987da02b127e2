using System.Buffers;
using System.Collections.Concurrent;
using StreamServer.Transcode.Interop;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Transcode.Live;

/// <summary>
/// A live ladder: the publisher's H.264 is decoded once (frames from <see cref="PackagingOptions.FrameMemory"/>, the buffer
/// pool in the server), each rung of the VOD ladder planner scales it (cascading from the rung above when
/// <see cref="PackagingOptions.CascadeScaling"/>) and encodes it with libx264 through the VOD's <see cref="RenditionEncoder"/>
/// (closed GOPs, no B-frames or lookahead so nothing is held back, IDR frames forced at the same instants in every rung), and
/// one <see cref="LiveRemuxer"/> with a video track per rung packages them; AAC is passed through. The work runs on the
/// transcoder's own thread behind a bounded queue, so the publisher's socket thread only copies access units; a ladder that
/// cannot keep up fails the publish with a clear message instead of growing memory.
/// </summary>
public sealed unsafe class LiveTranscoder : ILiveIngest
{
    /// <summary>Access units the ladder may be behind the publish (~10 s of 30 fps video with 48 kHz AAC).</summary>
    public const int QueueLimit = 1024;

    private readonly LiveStreamInfo _source;
    private readonly PackagingOptions _ladder;
    private readonly long _segmentMs;
    private readonly Rational _frameRate;
    private readonly Func<LiveStreamInfo, LiveRemuxer> _open;
    private readonly string _label;
    private readonly BlockingCollection<Unit> _queue = new(QueueLimit);
    private readonly Thread _thread;
    private readonly MediaDecoder _decoder;
    private readonly PacketHandle _input = new();
    private readonly FrameHandle _frame = new();
    private readonly PacketHandle _encoded = new();
    private readonly Action<FrameHandle> _encode; // Encode, made a delegate once
    private RenditionEncoder[] _rungs = [];
    private LiveRemuxer? _remuxer;
    private long _nextKeyMs = long.MinValue;
    private long _lastPts = long.MinValue;
    private volatile string? _failure;
    private bool _finishing;
    private bool _joined;

    private readonly record struct Unit(byte[] Data, int Length, long Time, int Composition, bool Key, bool Audio);

    /// <param name="source">The publisher's stream (one video track: its avcC; AAC configuration if any).</param>
    /// <param name="ladder">Rung heights, bitrates, preset, encoder threads, cascade and frame memory, as for VOD.</param>
    /// <param name="frameRate">The publisher's announced frame rate (libx264's rate control), 0 = unknown (30 is assumed).</param>
    /// <param name="open">Opens the remuxer for the ladder's tracks, once the first frame gave the source's size.</param>
    public LiveTranscoder(LiveStreamInfo source, PackagingOptions ladder, double segmentSeconds, double frameRate, Func<LiveStreamInfo, LiveRemuxer> open, string label)
    {
        _source = source;
        _ladder = ladder;
        _segmentMs = Math.Max(1, (long)Math.Round(segmentSeconds * 1000));
        _frameRate = frameRate is > 0 and <= 240 ? new Rational((int)Math.Round(frameRate * 1000), 1000) : new Rational(30, 1);
        _open = open;
        _label = label;
        // One decoder thread: frame threads would hold frames back (latency) for no gain at live frame sizes.
        _decoder = MediaDecoder.ForH264(source.Video[0].Config, ladder.FrameBuffers, threads: 1);
        _encode = Encode;
        _thread = new Thread(Run) { IsBackground = true, Name = "live ladder " + label };
        _thread.Start();
    }

    public void WriteVideo(ReadOnlySpan<byte> accessUnit, long dtsMs, int compositionMs, bool keyframe) =>
        Enqueue(accessUnit, dtsMs, compositionMs, keyframe, audio: false);

    public void WriteAudio(ReadOnlySpan<byte> frame, long ptsMs) => Enqueue(frame, ptsMs, 0, true, audio: true);

    public void Finish()
    {
        _finishing = true;
        Join();
        if (_failure is { } failure)
        {
            throw new TranscodeException($"{_label}: {failure}");
        }
    }

    private void Enqueue(ReadOnlySpan<byte> data, long time, int composition, bool key, bool audio)
    {
        if (_failure is { } failure)
        {
            throw new TranscodeException($"{_label}: {failure}");
        }

        var copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, data.Length));
        data.CopyTo(copy);
        if (!_queue.TryAdd(new Unit(copy, data.Length, time, composition, key, audio)))
        {
            ArrayPool<byte>.Shared.Return(copy);
            throw new TranscodeException($"{_label}: the ladder fell {QueueLimit} access units behind the publish (more rungs or pixels than the CPU encodes in real time)");
        }
    }

    private void Join()
    {
        if (!_joined)
        {
            _joined = true;
            _queue.CompleteAdding();
            _thread.Join();
        }
    }

    // The ladder's thread: every access unit in order; after the queue is completed, the tail is flushed (Finish) or dropped.
    private void Run()
    {
        foreach (var unit in _queue.GetConsumingEnumerable())
        {
            try
            {
                if (_failure is null)
                {
                    if (unit.Audio)
                    {
                        _remuxer?.WriteAudio(unit.Data.AsSpan(0, unit.Length), unit.Time); // audio before the first picture waits for nothing
                    }
                    else
                    {
                        Decode(unit);
                    }
                }
            }
            catch (Exception ex)
            {
                // Anything thrown here would end the process: it ends the publish instead, with its reason.
                _failure = ex.Message;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(unit.Data);
            }
        }

        if (!_finishing)
        {
            return;
        }

        try
        {
            if (_failure is null)
            {
                Flush();
            }

            _remuxer?.Finish();
        }
        catch (Exception ex)
        {
            _failure ??= ex.Message;
        }
    }

    private void Decode(in Unit unit)
    {
        fixed (byte* d = unit.Data)
        {
            FfmpegError.Check(SsAv.PacketSet(_input.Ptr, d, unit.Length, unit.Time + unit.Composition, unit.Time, 0, unit.Key ? 1 : 0), "av_new_packet (live ladder)");
        }

        try
        {
            _decoder.Decode(_input, _frame, _encode);
        }
        finally
        {
            _input.Unref();
        }
    }

    private void Encode(FrameHandle frame)
    {
        var pts = frame.Pts;
        if (pts == long.MinValue || pts <= _lastPts)
        {
            return; // no time, or going back: the encoders need increasing times
        }

        _lastPts = pts;
        if (_rungs.Length == 0)
        {
            Open(frame);
        }

        // An IDR in every rung once a segment's length has passed since the last one: the remuxer cuts all tracks there.
        var key = pts >= _nextKeyMs;
        if (key)
        {
            _nextKeyMs = pts + _segmentMs;
        }

        frame.SetForcedKey(key); // also clears the picture type the decoder left, which libx264 would obey
        _rungs[0].Encode(frame);
        for (var i = 1; i < _rungs.Length; i++)
        {
            if (_rungs[i - 1].Downstream is null)
            {
                _rungs[i].Encode(frame);
            }
        }

        Drain();
    }

    private void Open(FrameHandle frame)
    {
        var plans = LadderPlanner.Plan(frame.Width, frame.Height, frame.SampleAspectRatio, _ladder);
        var rungs = new RenditionEncoder[plans.Count];
        var tracks = new LiveVideoTrack[plans.Count];
        try
        {
            for (var i = 0; i < rungs.Length; i++)
            {
                var plan = plans[i];
                var settings = new H264EncoderSettings(plan.Width, plan.Height, new Rational(1, 1000), _frameRate,
                    GopFrames: 10 * 60 * 60, plan.Bitrate, plan.Maxrate, plan.BufferBits, _ladder.Preset, _ladder.EncoderThreads, Profile: "high",
                    X264Params: "scenecut=0:open-gop=0:bframes=0:rc-lookahead=0:sync-lookahead=0:sliced-threads=1"); // nothing held back
                rungs[i] = new RenditionEncoder(plan, settings, _ladder.FrameBuffers);
                tracks[i] = new LiveVideoTrack(plan.Name, rungs[i].Encoder.Extradata.ToArray(), plan.Width, plan.Height);
            }

            if (_ladder.CascadeScaling)
            {
                for (var i = 0; i + 1 < rungs.Length; i++)
                {
                    rungs[i].Downstream = rungs[i + 1].Encode;
                }
            }

            _remuxer = _open(new LiveStreamInfo(tracks, _source.AudioConfig, _source.WallClockAtZero));
        }
        catch
        {
            foreach (var rung in rungs)
            {
                rung?.Dispose();
            }

            throw;
        }

        _rungs = rungs;
    }

    // Every rung's packets into its track; the playlists of all rungs are replaced together.
    private void Drain()
    {
        var remuxer = _remuxer!;
        for (var i = 0; i < _rungs.Length; i++)
        {
            while (_rungs[i].Receive(_encoded))
            {
                try
                {
                    var dts = _encoded.Dts;
                    remuxer.WriteVideo(i, _encoded.Data, dts, (int)(_encoded.Pts - dts), _encoded.IsKey);
                }
                finally
                {
                    _encoded.Unref();
                }
            }
        }

        remuxer.PublishWritten();
    }

    private void Flush()
    {
        _decoder.Decode(null, _frame, _encode);
        if (_remuxer is null)
        {
            return;
        }

        foreach (var rung in _rungs)
        {
            rung.Drain();
        }

        Drain();
    }

    public void Dispose()
    {
        Join();
        foreach (var rung in _rungs)
        {
            rung.Dispose();
        }

        _remuxer?.Dispose();
        _decoder.Dispose();
        _input.Dispose();
        _frame.Dispose();
        _encoded.Dispose();
        _queue.Dispose();
    }
}
