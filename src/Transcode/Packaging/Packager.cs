using System.Collections.Concurrent;
using System.Diagnostics;
using StreamServer.Transcode.Interop;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Packaging;

/// <summary>
/// VOD packaging, one linear pipeline (like FFmpeg's doc/examples/transcoding.c): demux -> decode once
/// -> per rendition swscale + libx264 (own thread, fed the decoded frame by reference) and AAC -> CMAF
/// fMP4 segments -> HLS + DASH manifests, written into a hidden staging folder renamed into place when
/// complete. Every object has one owner; every failure and cancellation takes one cleanup path.
/// </summary>
public static class Packager
{
    private static readonly int[] AacSampleRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000];

    public const string MasterPlaylistName = "master.m3u8";
    public const string ManifestName = "manifest.mpd";
    public const string AudioFolder = "audio";

    // Containers round their durations and streams end a frame apart: only a shortfall beyond both of these is truncation.
    private const double TruncationToleranceSeconds = 1.0;
    private const double TruncationToleranceShare = 0.02;

    public static Task<PackagingResult> PackageAsync(string input, string outDir, PackagingOptions options,
        IProgress<PackagingProgress>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(outDir);
        ArgumentNullException.ThrowIfNull(options);
        return Task.Factory.StartNew(() => Run(input, outDir, options, progress, ct), ct,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static PackagingResult Run(string input, string outDir, PackagingOptions options,
        IProgress<PackagingProgress>? progress, CancellationToken ct)
    {
        Validate(options);
        FfmpegLibraries.EnsureCompatible();
        var clock = Stopwatch.StartNew();
        using var source = OpenSource(input);
        var video = source.BestStream(MediaKind.Video);
        var audio = source.BestStream(MediaKind.Audio);
        if (video is null && audio is null)
        {
            throw new TranscodeException($"no audio or video stream in {Path.GetFileName(input)}");
        }

        if (video is not null && (video.Width <= 0 || video.Height <= 0))
        {
            throw new TranscodeException($"video stream of {Path.GetFileName(input)} has no frame size (codec {video.CodecName})");
        }

        using var staging = StagingFolder.Create(outDir, options.Overwrite);
        using var run = new PackagingRun(source, video, audio, options, staging.Path, progress, ct);
        var result = run.Execute(clock);
        staging.Publish();
        return result with { OutputDirectory = staging.Target, Elapsed = clock.Elapsed };
    }

    private static MediaSource OpenSource(string input)
    {
        try
        {
            return MediaSource.Open(input);
        }
        catch (TranscodeException e) when (e.FfmpegError != 0)
        {
            throw new TranscodeException($"cannot read input {Path.GetFileName(input)}: {e.Message}", e);
        }
    }

    private static void Validate(PackagingOptions o)
    {
        if (o.Ladder.Length == 0)
        {
            throw new TranscodeException("the ladder is empty");
        }

        if (!(o.SegmentSeconds is >= 0.5 and <= 60))
        {
            throw new TranscodeException($"segment length {o.SegmentSeconds}s is out of range (0.5-60)");
        }

        if (string.IsNullOrWhiteSpace(o.Preset))
        {
            throw new TranscodeException("x264 preset is empty");
        }
    }

    internal static int AacSampleRate(int sourceRate)
    {
        foreach (var r in AacSampleRates)
        {
            if (r == sourceRate)
            {
                return r;
            }
        }

        return 48000;
    }

    /// <summary>The state of one run: opened decoders, encoders, writers and worker threads.</summary>
    private sealed class PackagingRun : IDisposable
    {
        private const int QueueDepth = 4;

        private readonly MediaSource source;
        private readonly MediaStreamInfo? video;
        private readonly MediaStreamInfo? audio;
        private readonly PackagingOptions options;
        private readonly string root;
        private readonly IProgress<PackagingProgress>? progress;
        private readonly CancellationTokenSource cts;
        private readonly List<VideoRenditionWorker> workers = [];
        private readonly List<BlockingCollection<FrameHandle>> queues = [];
        private readonly List<Task> workerTasks = [];
        private int roots;

        // FrameHandles (the AVFrame structs, not pixels) cycle between the decode thread and each
        // worker instead of being allocated per frame.
        private readonly List<ConcurrentQueue<FrameHandle>> spareFrames = [];
        private readonly PacketHandle audioPacket = new();
        private readonly Action<FrameHandle> onVideoFrame;
        private readonly Action<FrameHandle> onAudioFrame;
        private readonly Action<PacketHandle> writeAudio;
        private MediaDecoder? videoDecoder;
        private MediaDecoder? audioDecoder;
        private AacEncoder? aac;
        private Fmp4TrackWriter? audioWriter;
        private SegmentMemory? segmentMemory;
        private Rational timeBase;
        private Rational frameRate;
        private long frameDuration;
        private long origin = long.MinValue;
        private long lastPts = long.MinValue;
        private double nextBoundary;
        private double nextAudioBoundary;
        private long framesDecoded;
        private long decodeErrors;
        private double sourceReached;
        private string? readError;
        private string? lastDecodeError;
        private double position;
        private long lastProgressTicks;
        private Stopwatch clock = new();

        public PackagingRun(MediaSource source, MediaStreamInfo? video, MediaStreamInfo? audio, PackagingOptions options,
            string root, IProgress<PackagingProgress>? progress, CancellationToken ct)
        {
            this.source = source;
            this.video = video;
            this.audio = audio;
            this.options = options;
            this.root = root;
            this.progress = progress;
            cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            onVideoFrame = OnVideoFrame;
            onAudioFrame = OnAudioFrame;
            writeAudio = WriteAudio;
        }

        private TimeSpan Duration => source.Duration > TimeSpan.Zero ? source.Duration : TimeSpan.Zero;

        public PackagingResult Execute(Stopwatch runClock)
        {
            clock = runClock;
            Open();
            try
            {
                Pump();
                Finish();
            }
            catch (Exception e)
            {
                cts.Cancel();
                WaitWorkers(swallow: true);
                throw WorkerFailure() ?? (cts.IsCancellationRequested && e is OperationCanceledException ? new OperationCanceledException("packaging cancelled", e, cts.Token) : e);
            }

            return BuildResult();
        }

        private void Open()
        {
            IReadOnlyList<RenditionPlan> plans = video is null ? [] : LadderPlanner.Plan(video, options);
            var budgets = new List<long>();
            foreach (var plan in plans)
            {
                budgets.Add(SegmentMemory.VideoSegmentBudget(plan, options.SegmentSeconds));
            }

            var audioBitrate = options.AudioBitrateKbps * 1000L;
            if (audio is not null)
            {
                budgets.Add(SegmentMemory.AudioSegmentBudget(audioBitrate, options.SegmentSeconds));
            }

            var segments = segmentMemory = SegmentMemory.Create(options, budgets);
            if (video is not null)
            {
                timeBase = video.TimeBase.IsValid ? video.TimeBase : new Rational(1, 90000);
                frameRate = video.EffectiveFrameRate;
                frameDuration = Math.Max(1, (long)Math.Round(timeBase.Den / (timeBase.Num * frameRate.ToDouble())));
                videoDecoder = new MediaDecoder(source, video, options.FrameBuffers);
                var gop = Math.Max(1, (int)Math.Round(frameRate.ToDouble() * options.SegmentSeconds));
                foreach (var plan in plans)
                {
                    var settings = new H264EncoderSettings(plan.Width, plan.Height, timeBase, frameRate, gop,
                        plan.Bitrate, plan.Maxrate, plan.BufferBits, options.Preset, options.EncoderThreads);
                    var output = segments.CreateBuffer(SegmentMemory.VideoSegmentBudget(plan, options.SegmentSeconds), plan.Name);
                    try
                    {
                        workers.Add(new VideoRenditionWorker(plan, settings, frameDuration, Path.Combine(root, plan.Name), options.FrameBuffers, output));
                    }
                    catch
                    {
                        output.Dispose();
                        throw;
                    }
                }

                foreach (var sink in options.FrameSinks)
                {
                    (sink as IPackagingOutputSink)?.Begin(root, Duration);
                    sink.Start(video);
                }
            }

            if (audio is not null)
            {
                audioDecoder = new MediaDecoder(source, audio, frameMemory: null); // audio frames: FFmpeg's buffers
                var channels = Math.Clamp(audio.Channels, 1, 2);
                aac = new AacEncoder(AacSampleRate(audio.SampleRate), channels, audioBitrate);
                var output = segments.CreateBuffer(SegmentMemory.AudioSegmentBudget(audioBitrate, options.SegmentSeconds), "audio");
                try
                {
                    audioWriter = new Fmp4TrackWriter(aac.Ptr, new Rational(1, aac.SampleRate), Path.Combine(root, AudioFolder), "audio", output);
                }
                catch
                {
                    output.Dispose();
                    throw;
                }
            }

            // Cascade: when the top rung is itself a downscale, lower rungs scale from its output
            // (smaller input, cheaper swscale) instead of from the decoded frame. Still no copies.
            var cascade = options.CascadeScaling && workers.Count > 1 && video is not null
                && (long)workers[0].Plan.Width * workers[0].Plan.Height < (long)video.Width * video.Height;
            if (options.ParallelRenditions && workers.Count > 0)
            {
                for (var i = 0; i < workers.Count; i++)
                {
                    queues.Add(new BlockingCollection<FrameHandle>(QueueDepth));
                    spareFrames.Add(new ConcurrentQueue<FrameHandle>());
                }

                roots = cascade ? 1 : workers.Count;
                if (cascade)
                {
                    workers[0].Downstream = frame => Dispatch(frame, 1, workers.Count);
                }

                for (var i = 0; i < workers.Count; i++)
                {
                    var index = i;
                    var downstream = cascade && i == 0 ? queues.GetRange(1, workers.Count - 1) : [];
                    workerTasks.Add(Task.Factory.StartNew(() => RunWorker(workers[index], queues[index], spareFrames[index], downstream),
                        CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
                }
            }
            else if (cascade)
            {
                roots = 1;
                workers[0].Downstream = frame =>
                {
                    for (var i = 1; i < workers.Count; i++)
                    {
                        workers[i].Encode(frame);
                    }
                };
            }
            else
            {
                roots = workers.Count;
            }
        }

        /// <summary>Hands <paramref name="frame"/> by reference to the queues of workers [from, to).</summary>
        private void Dispatch(FrameHandle frame, int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                // Each rendition gets its own AVFrame referencing the same pixel buffers: no copy.
                var reference = spareFrames[i].TryDequeue(out var spare) ? spare : new FrameHandle();
                reference.RefFrom(frame);
                try
                {
                    queues[i].Add(reference, cts.Token);
                }
                catch
                {
                    reference.Dispose();
                    throw;
                }
            }
        }

        private void RunWorker(VideoRenditionWorker worker, BlockingCollection<FrameHandle> queue, ConcurrentQueue<FrameHandle> spares,
            List<BlockingCollection<FrameHandle>> downstream)
        {
            try
            {
                foreach (var frame in queue.GetConsumingEnumerable(cts.Token))
                {
                    try
                    {
                        worker.Encode(frame);
                    }
                    finally
                    {
                        frame.Unref();
                        spares.Enqueue(frame);
                    }
                }

                foreach (var q in downstream)
                {
                    q.CompleteAdding();
                }

                worker.Finish();
            }
            catch
            {
                cts.Cancel();
                throw;
            }
        }

        private void Pump()
        {
            using var packet = new PacketHandle();
            using var frame = new FrameHandle();
            long packets = 0;
            while (ReadPacket(packet, packets))
            {
                packets++;
                cts.Token.ThrowIfCancellationRequested();
                var index = packet.StreamIndex;
                NoteReached(packet);
                if (video is not null && index == video.Index)
                {
                    DecodeTolerant(videoDecoder!, packet, frame, onVideoFrame);
                }
                else if (audio is not null && index == audio.Index)
                {
                    DecodeTolerant(audioDecoder!, packet, frame, onAudioFrame);
                }
            }

            ThrowIfTruncated();
            if (videoDecoder is not null)
            {
                DecodeTolerant(videoDecoder, null, frame, onVideoFrame);
                if (framesDecoded == 0)
                {
                    throw new TranscodeException($"no decodable video frames in {Path.GetFileName(source.Path)}{LastDecodeError()}");
                }
            }

            if (audioDecoder is not null)
            {
                DecodeTolerant(audioDecoder, null, frame, onAudioFrame);
                aac!.Encode(null, long.MinValue, audioPacket, writeAudio);
            }
        }

        private bool ReadPacket(PacketHandle packet, long packetsSoFar)
        {
            try
            {
                return source.ReadPacket(packet);
            }
            catch (TranscodeException e) when (packetsSoFar > 0)
            {
                // A read error after real data: the input ends early (ThrowIfTruncated says where).
                readError = e.Message;
                return false;
            }
        }

        /// <summary>How far into the source (seconds from its stream's start) the demuxer has delivered data.</summary>
        private void NoteReached(PacketHandle packet)
        {
            var streams = source.Streams;
            var index = packet.StreamIndex;
            var ts = packet.Pts != long.MinValue ? packet.Pts : packet.Dts;
            if ((uint)index >= (uint)streams.Count || ts == long.MinValue)
            {
                return;
            }

            var stream = streams[index];
            var tb = stream.TimeBase;
            if (!tb.IsValid)
            {
                return;
            }

            var start = stream.StartTime != long.MinValue ? stream.StartTime : 0;
            var end = (ts + Math.Max(0, packet.Duration) - start) * tb.ToDouble();
            if (end > sourceReached)
            {
                sourceReached = end;
            }
        }

        /// <summary>
        /// A source that stops early (cut in transfer, a download that broke off) must fail, not publish as a shorter
        /// VOD: a read error after real data, or an end of input well before the duration the container declares
        /// (an index or header that promises more than the file holds). Bitrate-guessed durations are not trusted.
        /// </summary>
        private void ThrowIfTruncated()
        {
            var declared = source.DurationIsDeclared ? source.Duration.TotalSeconds : 0;
            var shortfall = declared - sourceReached;
            var tooShort = declared > 0 && shortfall > Math.Max(TruncationToleranceSeconds, declared * TruncationToleranceShare);
            if (readError is null && !tooShort)
            {
                return;
            }

            var name = Path.GetFileName(source.Path);
            var where = declared > 0
                ? $"source {name} ends at {sourceReached:0.0} s of {declared:0.0} s (truncated?)"
                : $"source {name} ends at {sourceReached:0.0} s with a read error (truncated?)";
            throw new TranscodeException(readError is null ? where : $"{where}: {readError}");
        }

        /// <summary>
        /// Corrupt packets (truncated or damaged input) are skipped like the ffmpeg CLI does; a source
        /// that is mostly corrupt fails with FFmpeg's message.
        /// </summary>
        private void DecodeTolerant(MediaDecoder decoder, PacketHandle? packet, FrameHandle frame, Action<FrameHandle> onFrame)
        {
            try
            {
                decoder.Decode(packet, frame, onFrame);
            }
            catch (TranscodeException e) when (e.FfmpegError != 0 && e.Operation is not null && e.Operation.StartsWith("avcodec_", StringComparison.Ordinal)
                && e.Operation.Contains(decoder.Stream.CodecName, StringComparison.Ordinal))
            {
                decodeErrors++;
                lastDecodeError = e.Message;
                if (decodeErrors > 25 && decodeErrors > framesDecoded / 10)
                {
                    throw new TranscodeException($"too many corrupt packets in {Path.GetFileName(source.Path)} ({decodeErrors}): {e.Message}", e);
                }
            }
        }

        private string LastDecodeError() => lastDecodeError is null ? "" : $" ({lastDecodeError})";

        private void OnVideoFrame(FrameHandle frame)
        {
            var info = frame.Info;
            var ts = info.BestEffortTimestamp != long.MinValue ? info.BestEffortTimestamp : info.Pts;
            if (ts == long.MinValue)
            {
                ts = lastPts == long.MinValue ? 0 : origin + lastPts + frameDuration;
            }

            if (origin == long.MinValue)
            {
                origin = ts;
            }

            var pts = ts - origin;
            if (lastPts != long.MinValue && pts <= lastPts)
            {
                // Broken or variable-rate sources can repeat timestamps; encoders need them strictly increasing.
                pts = lastPts + 1;
            }

            lastPts = pts;
            var seconds = pts * (double)timeBase.Num / timeBase.Den;
            var key = false;
            var halfFrame = 0.5 / frameRate.ToDouble();
            if (seconds >= nextBoundary - halfFrame)
            {
                key = true;
                while (nextBoundary <= seconds + halfFrame)
                {
                    nextBoundary += options.SegmentSeconds;
                }
            }

            frame.SetPts(pts);
            frame.SetForcedKey(key);
            framesDecoded++;
            TranscodeMetrics.FramesDecoded.Add(1);
            position = Math.Max(position, seconds);

            foreach (var sink in options.FrameSinks)
            {
                sink.OnFrame(frame, TimeSpan.FromSeconds(seconds));
            }

            if (queues.Count > 0)
            {
                Dispatch(frame, 0, roots);
            }
            else
            {
                for (var i = 0; i < roots; i++)
                {
                    workers[i].Encode(frame);
                }
            }

            ReportProgress(false);
        }

        private void OnAudioFrame(FrameHandle frame)
        {
            aac!.Encode(frame, AudioTimelineMicroseconds(frame), audioPacket, writeAudio);
            if (video is null)
            {
                var info = frame.Info;
                if (info.SampleRate > 0 && audio!.TimeBase.IsValid && info.BestEffortTimestamp != long.MinValue)
                {
                    position = Math.Max(position, (info.BestEffortTimestamp - Math.Max(0, audio.StartTime)) * (double)audio.TimeBase.Num / audio.TimeBase.Den);
                }

                ReportProgress(false);
            }
        }

        /// <summary>
        /// Where an audio frame starts on the output timeline, whose zero is the first video frame (its stream's start
        /// time until that frame is decoded): audio that starts later than the video keeps its delay (silence before
        /// it), audio from before the first picture is trimmed. Audio-only: unknown, the samples are the timeline.
        /// </summary>
        private long AudioTimelineMicroseconds(FrameHandle frame)
        {
            var ts = frame.Info.BestEffortTimestamp;
            if (video is null || ts == long.MinValue || !audio!.TimeBase.IsValid)
            {
                return long.MinValue;
            }

            var zero = origin != long.MinValue ? origin : video.StartTime != long.MinValue ? video.StartTime : 0;
            var seconds = (ts * (double)audio.TimeBase.Num / audio.TimeBase.Den) - (zero * (double)timeBase.Num / timeBase.Den);
            return (long)Math.Round(seconds * 1_000_000);
        }

        private void WriteAudio(PacketHandle packet)
        {
            var seconds = packet.Pts / (double)aac!.SampleRate;
            var starts = false;
            if (nextAudioBoundary == 0)
            {
                // The first packet opens segment 1 whatever its timestamp (AAC priming makes it negative).
                nextAudioBoundary = options.SegmentSeconds;
            }
            else if (seconds >= nextAudioBoundary)
            {
                starts = true;
                while (nextAudioBoundary <= seconds)
                {
                    nextAudioBoundary += options.SegmentSeconds;
                }
            }

            audioWriter!.Write(packet, starts, aac.FrameSize);
        }

        private void Finish()
        {
            if (queues.Count > 0)
            {
                for (var i = 0; i < roots; i++)
                {
                    queues[i].CompleteAdding();
                }

                WaitWorkers(swallow: false);
            }
            else
            {
                foreach (var worker in workers)
                {
                    worker.Finish();
                }
            }

            audioWriter?.Finish();
            var count = workers.Count > 0 ? workers[0].Writer.Segments.Count : 0;
            foreach (var w in workers)
            {
                if (w.Writer.Segments.Count != count)
                {
                    throw new TranscodeException("renditions ended with different segment counts (keyframes not aligned)");
                }
            }

            foreach (var sink in options.FrameSinks)
            {
                sink.Complete();
            }

            ReportProgress(true);
        }

        private void WaitWorkers(bool swallow)
        {
            try
            {
                Task.WaitAll([.. workerTasks]);
            }
            catch (AggregateException) when (swallow)
            {
            }
            catch (AggregateException e)
            {
                throw WorkerFailure() ?? e.InnerExceptions[0];
            }
        }

        private Exception? WorkerFailure()
        {
            foreach (var t in workerTasks)
            {
                if (t.IsFaulted && t.Exception!.InnerException is { } inner and not OperationCanceledException)
                {
                    return inner;
                }
            }

            return null;
        }

        private void ReportProgress(bool done)
        {
            if (progress is null)
            {
                return;
            }

            var now = clock.ElapsedTicks;
            if (!done && now - lastProgressTicks < Stopwatch.Frequency / 4)
            {
                return;
            }

            lastProgressTicks = now;
            var elapsed = clock.Elapsed.TotalSeconds;
            var total = Duration.TotalSeconds;
            var percent = done ? 100 : total > 0 ? Math.Clamp(position / total * 100, 0, 99.9) : 0;
            progress.Report(new PackagingProgress(percent, elapsed > 0 ? framesDecoded / elapsed : 0, elapsed > 0 ? position / elapsed : 0));
        }

        private PackagingResult BuildResult()
        {
            var renditions = new List<TrackResult>(workers.Count);
            foreach (var w in workers)
            {
                var (peak, average) = TrackResult.MeasureBandwidth(w.Writer.Segments);
                var track = new TrackResult(w.Plan.Name, w.Codecs, w.Plan.Width, w.Plan.Height, frameRate.ToDouble(), 0, 0, peak, average, w.Writer.Segments);
                renditions.Add(track);
                File.WriteAllText(Path.Combine(root, w.Plan.Name, HlsPlaylistWriter.MediaPlaylistName), HlsPlaylistWriter.Media(track));
            }

            TrackResult? audioTrack = null;
            if (audioWriter is not null)
            {
                var (peak, average) = TrackResult.MeasureBandwidth(audioWriter.Segments);
                audioTrack = new TrackResult(AudioFolder, CodecStrings.AacLc, 0, 0, 0, aac!.SampleRate, aac.Channels, peak, average, audioWriter.Segments);
                File.WriteAllText(Path.Combine(root, AudioFolder, HlsPlaylistWriter.MediaPlaylistName), HlsPlaylistWriter.Media(audioTrack));
            }

            File.WriteAllText(Path.Combine(root, MasterPlaylistName), HlsPlaylistWriter.Master(renditions, audioTrack));
            File.WriteAllText(Path.Combine(root, ManifestName), DashManifestWriter.Write(renditions, audioTrack, options.SegmentSeconds, options.FrameSinks));
            var duration = 0.0;
            foreach (var r in renditions)
            {
                duration = Math.Max(duration, r.DurationSeconds);
            }

            duration = Math.Max(duration, audioTrack?.DurationSeconds ?? 0);
            return new PackagingResult(root, TimeSpan.FromSeconds(duration), renditions, audioTrack, framesDecoded, clock.Elapsed);
        }

        public void Dispose()
        {
            foreach (var q in queues)
            {
                while (q.TryTake(out var leftover))
                {
                    leftover.Dispose();
                }

                q.Dispose();
            }

            foreach (var spares in spareFrames)
            {
                while (spares.TryDequeue(out var spare))
                {
                    spare.Dispose();
                }
            }

            audioPacket.Dispose();

            foreach (var w in workers)
            {
                w.Dispose();
            }

            audioWriter?.Dispose();
            segmentMemory?.Dispose(); // after every writer: their buffers have returned their leases
            aac?.Dispose();
            audioDecoder?.Dispose();
            videoDecoder?.Dispose();
            cts.Dispose();
        }
    }
}
