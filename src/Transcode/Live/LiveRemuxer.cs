using System.Globalization;
using System.Text;
using StreamServer.BufferPool;
using StreamServer.Transcode.Interop;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Transcode.Live;

/// <summary>Where a stream's tracks stand after a publish: complete segments and parts of the open one, per track.</summary>
public readonly record struct LivePosition(int VideoSegments, int VideoParts, int AudioSegments, int AudioParts, bool Ended);

/// <summary>
/// What a live source announced: H.264 configuration (an avcC record from RTMP, or Annex B SPS/PPS from our encoder; the
/// mp4 muxer takes either, and Annex B access units with it), AAC AudioSpecificConfig (optional), frame size if known.
/// </summary>
/// <param name="WallClockAtZero">
/// The wall-clock time of media time 0 when the source knows it (a generator paced to the clock); null = each segment is
/// dated when its first packet arrives (a publisher: capture time is not on the wire).
/// </param>
public sealed record LiveStreamInfo(byte[] VideoConfig, byte[]? AudioConfig, int Width, int Height, DateTimeOffset? WallClockAtZero = null);

/// <summary>
/// Pass-through live packaging: H.264 and AAC access units as they arrive (FLV timing: milliseconds, decode order)
/// are remuxed, never decoded, by the same fMP4 writer as VOD (<see cref="Fmp4TrackWriter"/>, segment bytes in the
/// buffer pool, one write per file) into CMAF segments cut at the first keyframe after the target duration; after each
/// segment the sliding-window media playlists are rewritten (write + rename), and segments that left the window are
/// deleted. <see cref="Finish"/> closes the last segment and adds EXT-X-ENDLIST. Not thread-safe: one publisher feeds it.
/// </summary>
public sealed unsafe class LiveRemuxer : IDisposable
{
    private const string VideoFolder = "video";
    private const string AudioFolder = Packager.AudioFolder;
    private const string MediaPlaylist = "index.m3u8";
    private const string Master = "master.m3u8";
    private const string Manifest = "manifest.mpd";

    /// <summary>Files rewritten on every publish (relative to the stream's folder); everything else is written once.</summary>
    public static readonly string[] PlaylistFiles = [Master, Manifest, VideoFolder + "/" + MediaPlaylist, AudioFolder + "/" + MediaPlaylist];

    private static readonly Rational Milliseconds = new(1, 1000);

    private readonly string _root;
    private readonly double _targetSeconds;
    private readonly int _window;
    private readonly Track _video;
    private readonly Track? _audio;
    private readonly string _codecs;
    private readonly string _videoCodec;
    private readonly Action<LivePosition>? _published;
    private readonly long _partMs;
    private long _lastVideoPartCut = long.MinValue;
    private readonly int _audioRate;
    private readonly int _audioChannels;
    private long _lastVideoCut = long.MinValue;

    /// <param name="partSeconds">LL-HLS part length (0 = no parts): video parts end at the first frame at or after it.</param>
    /// <param name="published">Called after each publish (playlists replaced), on the writer's thread.</param>
    public LiveRemuxer(string root, LiveStreamInfo info, MemfdBufferPool pool, double targetSegmentSeconds, int windowSegments, double partSeconds = 0,
        Action<LivePosition>? published = null)
    {
        _root = root;
        _published = published;
        _partMs = partSeconds > 0 ? (long)Math.Round(partSeconds * 1000) : 0;
        _targetSeconds = targetSegmentSeconds;
        _window = Math.Max(3, windowSegments);
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true); // a new publish starts a new stream
        }

        Directory.CreateDirectory(root);
        _videoCodec = CodecStrings.Avc1(info.VideoConfig);
        var codecs = new StringBuilder(_videoCodec);
        _video = new Track(Path.Combine(root, VideoFolder), "video", pool, audio: false, info.VideoConfig, info.Width, info.Height, 0, 0, _partMs > 0, info.WallClockAtZero);
        try
        {
            if (info.AudioConfig is { Length: >= 2 } asc)
            {
                var (rate, channels) = AudioSpecificConfig(asc);
                _audio = new Track(Path.Combine(root, AudioFolder), "audio", pool, audio: true, asc, 0, 0, rate, channels, _partMs > 0, info.WallClockAtZero);
                _audioRate = rate;
                _audioChannels = channels;
                codecs.Append(',').Append(CodecStrings.AacLc);
            }
        }
        catch
        {
            _video.Dispose();
            throw;
        }

        _codecs = codecs.ToString();
    }

    /// <summary>Segments published so far (video track).</summary>
    public int Segments => _video.Writer.Segments.Count;

    /// <summary>One H.264 access unit (AVCC, length-prefixed NAL units) at decode time <paramref name="dtsMs"/>.</summary>
    public void WriteVideo(ReadOnlySpan<byte> accessUnit, long dtsMs, int compositionMs, bool keyframe)
    {
        var cut = keyframe && (_video.SegmentStartMs == long.MinValue || dtsMs - _video.SegmentStartMs >= _targetSeconds * 1000);
        var part = !cut && _partMs > 0 && _video.PartStartMs != long.MinValue && dtsMs - _video.PartStartMs >= _partMs - 1;
        if (cut)
        {
            _lastVideoCut = dtsMs;
        }

        if (cut || part)
        {
            _lastVideoPartCut = dtsMs;
        }

        var closed = _video.Write(accessUnit, dtsMs + compositionMs, dtsMs, keyframe, cut, part);
        if (closed != Closed.Nothing)
        {
            Publish(closed == Closed.Segment);
        }
    }

    /// <summary>One raw AAC frame at <paramref name="ptsMs"/>; audio segments start with the first frame at or after each video cut.</summary>
    public void WriteAudio(ReadOnlySpan<byte> frame, long ptsMs)
    {
        if (_audio is null)
        {
            return;
        }

        var cut = _lastVideoCut != long.MinValue && ptsMs >= _lastVideoCut && (_audio.SegmentStartMs == long.MinValue || _audio.SegmentStartMs < _lastVideoCut);
        var part = !cut && _lastVideoPartCut != long.MinValue && ptsMs >= _lastVideoPartCut && _audio.PartStartMs < _lastVideoPartCut;
        var closed = _audio.Write(frame, ptsMs, ptsMs, true, cut, part);
        if (closed != Closed.Nothing)
        {
            Publish(closed == Closed.Segment);
        }
    }

    /// <summary>The publisher stopped: the last segments are closed and the playlists end with EXT-X-ENDLIST.</summary>
    public void Finish()
    {
        _video.Finish();
        _audio?.Finish();
        Publish(segment: true, ended: true);
    }

    private enum Closed
    {
        Nothing,
        Part,
        Segment,
    }

    // Media playlists on every part and segment (each carries the other's rendition report); master and MPD with segments.
    private void Publish(bool segment, bool ended = false)
    {
        var partTarget = _partMs / 1000.0;
        _video.WritePlaylist(_window, ended, partTarget, _audio, AudioFolder);
        _audio?.WritePlaylist(_window, ended, partTarget + (_audio.DefaultDurationMs / 1000.0), _video, VideoFolder);
        var position = new LivePosition(_video.Writer.Segments.Count, _video.Writer.OpenSegmentParts,
            _audio?.Writer.Segments.Count ?? 0, _audio?.Writer.OpenSegmentParts ?? 0, ended);
        if (_video.Writer.Segments.Count == 0 || !segment)
        {
            // Audio may close its first segment first: the master names the video playlist, so it waits for it.
            _published?.Invoke(position);
            return;
        }

        var master = new StringBuilder("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        var bandwidth = Math.Max(1, _video.Bitrate(_window) + (_audio?.Bitrate(_window) ?? 0));
        if (_audio is not null)
        {
            master.Append("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,URI=\"" + AudioFolder + "/" + MediaPlaylist + "\"\n");
        }

        master.Append(CultureInfo.InvariantCulture, $"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS=\"{_codecs}\"");
        if (_video.Width > 0)
        {
            master.Append(CultureInfo.InvariantCulture, $",RESOLUTION={_video.Width}x{_video.Height}");
        }

        master.Append(_audio is not null ? ",AUDIO=\"audio\"\n" : "\n").Append(VideoFolder + "/" + MediaPlaylist + "\n");
        Thumbnails.AtomicFile.WriteText(Path.Combine(_root, Master), master.ToString());
        Thumbnails.AtomicFile.WriteText(Path.Combine(_root, Manifest), DashManifest(ended));
        _published?.Invoke(position);
    }

    // The same MPD writer as VOD over the window: media time 0 is when the stream's first segment began on the wall clock.
    private string DashManifest(bool ended)
    {
        var video = _video.Window(_window, VideoFolder, _videoCodec, 0, 0);
        var audio = _audio?.Window(_window, AudioFolder, CodecStrings.AacLc, _audioRate, _audioChannels);
        var depth = 0.0;
        foreach (var segment in video.Segments)
        {
            depth += segment.DurationSeconds;
        }

        var live = new DashLiveWindow(_video.StartedAt, DateTimeOffset.UtcNow, depth, _targetSeconds, Math.Max(3 * _targetSeconds, 4), ended);
        return DashManifestWriter.Write([video], audio, _targetSeconds, live: live);
    }

    // ISO 14496-3 1.6.2.1: 5 bits object type, 4 bits frequency index (15: 24 explicit bits), 4 bits channel configuration.
    private static (int Rate, int Channels) AudioSpecificConfig(byte[] asc)
    {
        int[] rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
        var index = ((asc[0] & 0x07) << 1) | (asc[1] >> 7);
        var channels = (asc[1] >> 3) & 0x0f;
        if (index >= rates.Length)
        {
            throw new TranscodeException($"AAC AudioSpecificConfig with sampling frequency index {index} is not supported");
        }

        return (rates[index], channels is >= 1 and <= 2 ? channels : 2);
    }

    public void Dispose()
    {
        _video.Dispose();
        _audio?.Dispose();
    }

    /// <summary>One track: its writer, the packet held back until the next one gives its duration, its playlist.</summary>
    private sealed class Track : IDisposable
    {
        private readonly nint _description;
        private readonly PacketHandle _pending = new();
        private readonly bool _audio;
        private bool _hasPending;
        private bool _pendingCut;
        private bool _pendingPart;
        private long _pendingDts;
        private long _defaultDuration;
        private int _targetDuration = 1;
        private int _deletedThrough;
        private readonly List<DateTimeOffset> _wallClock = []; // when each segment began (PROGRAM-DATE-TIME)

        private readonly DateTimeOffset? _wallClockAtZero;

        public Track(string directory, string label, MemfdBufferPool pool, bool audio, byte[] config, int width, int height, int rate, int channels, bool parts,
            DateTimeOffset? wallClockAtZero)
        {
            _wallClockAtZero = wallClockAtZero;
            _audio = audio;
            Width = width;
            Height = height;
            fixed (byte* c = config)
            {
                _description = SsAv.StreamDescribe(audio ? 1 : 0, c, config.Length, width, height, rate, channels, 1, 1000);
            }

            if (_description == 0)
            {
                throw new TranscodeException($"{label}: cannot describe the stream ({config.Length}-byte configuration)");
            }

            _defaultDuration = audio ? Math.Max(1, 1024 * 1000 / Math.Max(1, rate)) : 40;
            var buffer = new SegmentBuffer(pool, 256 * 1024, TimeSpan.FromSeconds(5), label, "live");
            try
            {
                Writer = new Fmp4TrackWriter(_description, Milliseconds, directory, label, buffer, parts);
            }
            catch
            {
                buffer.Dispose();
                SsAv.StreamDescribeFree(_description);
                throw;
            }
        }

        public Fmp4TrackWriter Writer { get; }

        public int Width { get; }

        public int Height { get; }

        public long SegmentStartMs { get; private set; } = long.MinValue;

        public long PartStartMs { get; private set; } = long.MinValue;

        /// <summary>The last frame's duration (an AAC frame: the most an audio part can exceed the video's part length).</summary>
        public long DefaultDurationMs => _defaultDuration;

        /// <summary>When the first segment began on the wall clock (media time 0).</summary>
        public DateTimeOffset StartedAt => _wallClock.Count > 0 ? _wallClock[0] : DateTimeOffset.UtcNow;

        /// <summary>The last <paramref name="window"/> segments as a packaged track (for the MPD).</summary>
        public TrackResult Window(int window, string name, string codecs, int rate, int channels)
        {
            var segments = Writer.Segments;
            var first = Math.Max(0, segments.Count - window);
            var list = new List<SegmentInfo>(segments.Count - first);
            for (var i = first; i < segments.Count; i++)
            {
                list.Add(segments[i]);
            }

            var (peak, average) = TrackResult.MeasureBandwidth(list);
            return new TrackResult(name, codecs, Width, Height, 0, rate, channels, peak, average, list);
        }

        /// <summary>Bits per second over the last <paramref name="window"/> segments (what a player of the playlist sees).</summary>
        public long Bitrate(int window)
        {
            var segments = Writer.Segments;
            long bytes = 0;
            double seconds = 0;
            for (var i = Math.Max(0, segments.Count - window); i < segments.Count; i++)
            {
                bytes += segments[i].Bytes;
                seconds += segments[i].DurationSeconds;
            }

            return seconds > 0 ? (long)(bytes * 8 / seconds) : 0;
        }

        /// <summary>Queues a packet and writes the one before it; says whether that closed a part or a segment.</summary>
        public Closed Write(ReadOnlySpan<byte> data, long pts, long dts, bool key, bool cut, bool part)
        {
            var segmentsBefore = Writer.Segments.Count;
            var partsBefore = Writer.OpenSegmentParts;
            if (_hasPending)
            {
                var duration = dts - _pendingDts;
                if (duration > 0 && duration < 10_000)
                {
                    _defaultDuration = duration;
                }

                WritePending(Math.Max(1, duration > 0 && duration < 10_000 ? duration : _defaultDuration));
            }

            if (cut || SegmentStartMs == long.MinValue)
            {
                SegmentStartMs = dts;
                _wallClock.Add(_wallClockAtZero is { } zero ? zero.AddMilliseconds(dts) : DateTimeOffset.UtcNow);
            }

            if (cut || part || PartStartMs == long.MinValue)
            {
                PartStartMs = dts;
            }

            fixed (byte* d = data)
            {
                FfmpegError.Check(SsAv.PacketSet(_pending.Ptr, d, data.Length, pts, dts, 0, key ? 1 : 0), "av_new_packet (live)");
            }

            _hasPending = true;
            _pendingCut = cut;
            _pendingPart = part;
            _pendingDts = dts;
            return Writer.Segments.Count > segmentsBefore ? Closed.Segment : Writer.OpenSegmentParts != partsBefore ? Closed.Part : Closed.Nothing;
        }

        private void WritePending(long duration)
        {
            SsAv.PacketSetDuration(_pending.Ptr, duration);
            Writer.Write(_pending, _pendingCut, _defaultDuration, _pendingPart);
            _hasPending = false;
        }

        public void Finish()
        {
            if (_hasPending)
            {
                WritePending(_defaultDuration);
            }

            if (_wallClock.Count > 0)
            {
                Writer.Finish();
            }
        }

        /// <summary>The msn and part index of this track's newest part (EXT-X-RENDITION-REPORT LAST-MSN / LAST-PART).</summary>
        public (int Msn, int Part) LastPart()
        {
            var open = Writer.OpenSegmentParts;
            if (open > 0)
            {
                return (Writer.Segments.Count + 1, open - 1);
            }

            var parts = Writer.Parts;
            return parts.Count > 0 ? (parts[^1].SegmentNumber, parts[^1].Index) : (Writer.Segments.Count, 0);
        }

        /// <summary>
        /// The last <paramref name="window"/> segments, with LL-HLS parts (when <paramref name="partTarget"/> > 0) for the
        /// newest segments and the open one, a preload hint for the next part and a report of the other rendition.
        /// Older segments (and their parts) are deleted.
        /// </summary>
        public void WritePlaylist(int window, bool ended, double partTarget, Track? other, string otherFolder)
        {
            var segments = Writer.Segments;
            if (segments.Count == 0 && Writer.OpenSegmentParts == 0)
            {
                return;
            }

            var first = Math.Max(0, segments.Count - window);
            for (var i = first; i < segments.Count; i++)
            {
                _targetDuration = Math.Max(_targetDuration, (int)Math.Ceiling((double)segments[i].Duration / segments[i].Timescale));
            }

            var lowLatency = partTarget > 0;
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"#EXTM3U\n#EXT-X-VERSION:{(lowLatency ? 9 : 7)}\n#EXT-X-TARGETDURATION:{_targetDuration}\n");
            if (lowLatency)
            {
                // A player holds back three parts from the live edge (RFC 8216bis 4.4.3.8: PART-HOLD-BACK >= 2 x PART-TARGET).
                text.Append(CultureInfo.InvariantCulture, $"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={3 * partTarget:0.###}\n");
                text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PART-INF:PART-TARGET={partTarget:0.###}\n");
            }

            text.Append(CultureInfo.InvariantCulture, $"#EXT-X-MEDIA-SEQUENCE:{(segments.Count > 0 ? segments[first].Number : 1)}\n#EXT-X-MAP:URI=\"init.mp4\"\n");
            Writer.ForgetPartsBefore(segments.Count - 2); // parts are listed for the last three segments and the open one
            var parts = Writer.Parts;
            var p = 0;
            for (var i = first; i <= segments.Count; i++)
            {
                var number = i + 1;
                if (i < _wallClock.Count && (i < segments.Count || Writer.OpenSegmentParts > 0))
                {
                    text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PROGRAM-DATE-TIME:{_wallClock[i]:yyyy-MM-ddTHH:mm:ss.fffZ}\n");
                }

                while (p < parts.Count && parts[p].SegmentNumber < number)
                {
                    p++;
                }

                for (; lowLatency && p < parts.Count && parts[p].SegmentNumber == number; p++)
                {
                    var part = parts[p];
                    text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PART:DURATION={part.DurationSeconds:0.000},URI=\"{part.FileName}\"{(part.Independent ? ",INDEPENDENT=YES" : "")}\n");
                }

                if (i < segments.Count)
                {
                    var s = segments[i];
                    text.Append(CultureInfo.InvariantCulture, $"#EXTINF:{s.DurationSeconds:0.000},\n{s.FileName}\n");
                }
            }

            if (ended)
            {
                text.Append("#EXT-X-ENDLIST\n");
            }
            else if (lowLatency)
            {
                text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part_{segments.Count + 1:D5}_{Writer.OpenSegmentParts}.m4s\"\n");
                if (other is not null)
                {
                    var (msn, part) = other.LastPart();
                    text.Append(CultureInfo.InvariantCulture, $"#EXT-X-RENDITION-REPORT:URI=\"../{otherFolder}/{MediaPlaylist}\",LAST-MSN={msn},LAST-PART={part}\n");
                }
            }

            Thumbnails.AtomicFile.WriteText(Path.Combine(Writer.OutputDirectory, MediaPlaylist), text.ToString());
            if (first >= 2 && first - 2 >= _deletedThrough)
            {
                // Left the window: the one just before the window stays, a player with the previous playlist may fetch it.
                DeleteSegmentFiles(segments[first - 2]);
                _deletedThrough = first - 1;
            }
        }

        private void DeleteSegmentFiles(SegmentInfo segment)
        {
            File.Delete(Path.Combine(Writer.OutputDirectory, segment.FileName));
            for (var i = 0; ; i++)
            {
                var part = Path.Combine(Writer.OutputDirectory, $"part_{segment.Number:D5}_{i}.m4s");
                if (!File.Exists(part))
                {
                    break;
                }

                File.Delete(part);
            }
        }

        public void Dispose()
        {
            Writer.Dispose();
            _pending.Dispose();
            SsAv.StreamDescribeFree(_description);
        }
    }
}
