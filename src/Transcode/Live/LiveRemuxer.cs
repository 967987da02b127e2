using System.Globalization;
using System.Text;
using StreamServer.BufferPool;
using StreamServer.Transcode.Interop;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Transcode.Live;

/// <summary>Where a stream's tracks stand after a publish: complete segments and parts of the open one, per track.</summary>
/// <param name="PublishDelaySeconds">
/// For a video segment or part: from the arrival of the frame that began the next one (which is what closes it) to the
/// playlists naming it; 0 otherwise.
/// </param>
public readonly record struct LivePosition(int VideoSegments, int VideoParts, int AudioSegments, int AudioParts, bool Ended, double PublishDelaySeconds = 0);

/// <summary>One segment of a media playlist's window: its number, file, length, date, init segment and publish (epoch).</summary>
public sealed record LiveWindowEntry(int Number, string FileName, double DurationSeconds, DateTimeOffset Date, string InitName, int Epoch);

/// <summary>Where a track's playlist stands when its publisher leaves: its folder, the next number and the window to keep listing.</summary>
public sealed record LiveTrackCarry(string Folder, int NextNumber, IReadOnlyList<LiveWindowEntry> Window);

/// <summary>
/// What a new publish on the same channel continues: segment numbering, the previous window (listed until it slides out,
/// with EXT-X-DISCONTINUITY before the new publish's first segment and its own init segment), the publish count.
/// </summary>
public sealed record LiveContinuation(int Epoch, IReadOnlyList<LiveTrackCarry> Video, LiveTrackCarry? Audio)
{
    /// <summary>Whether a publish of <paramref name="info"/> can continue these playlists: the same video tracks, a window to continue.</summary>
    public bool Fits(LiveStreamInfo info)
    {
        if (Video.Count != info.Video.Count || Video.Count == 0 || Video[0].Window.Count == 0)
        {
            return false;
        }

        for (var i = 0; i < Video.Count; i++)
        {
            if (Video[i].Folder != info.Video[i].Folder)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>One video track of a live stream: its folder (below the stream's), H.264 configuration and frame size if known.</summary>
public sealed record LiveVideoTrack(string Folder, byte[] Config, int Width, int Height);

/// <summary>
/// What a live source announced: H.264 configuration (an avcC record from RTMP, or Annex B SPS/PPS from our encoder; the
/// mp4 muxer takes either, and Annex B access units with it), AAC AudioSpecificConfig (optional), frame size if known.
/// </summary>
/// <param name="WallClockAtZero">
/// The wall-clock time of media time 0 when the source knows it (a generator paced to the clock); null = each segment is
/// dated when its first packet arrives (a publisher: capture time is not on the wire).
/// </param>
/// <param name="Video">One track for a pass-through stream (folder <c>video</c>); the ladder's rungs, highest first, for a transcoded one.</param>
public sealed record LiveStreamInfo(IReadOnlyList<LiveVideoTrack> Video, byte[]? AudioConfig, DateTimeOffset? WallClockAtZero = null)
{
    /// <summary>A stream with one video track in the folder <c>video</c>.</summary>
    public LiveStreamInfo(byte[] videoConfig, byte[]? audioConfig, int width, int height, DateTimeOffset? wallClockAtZero = null)
        : this([new LiveVideoTrack(LiveRemuxer.VideoFolder, videoConfig, width, height)], audioConfig, wallClockAtZero)
    {
    }
}

/// <summary>
/// Live packaging: H.264 and AAC access units as they arrive (FLV timing: milliseconds, decode order) — a publisher's
/// (pass-through) or our encoders' (test channel, live ladder: one video track per rung) — are remuxed by the same fMP4 writer as VOD (<see cref="Fmp4TrackWriter"/>, segment bytes in the
/// buffer pool, one write per file) into CMAF segments cut at the first keyframe after the target duration; after each
/// segment the sliding-window media playlists are rewritten (write + rename), and segments that left the window are
/// deleted. <see cref="Finish"/> closes the last segment and adds EXT-X-ENDLIST. Not thread-safe: one publisher feeds it.
/// </summary>
public sealed unsafe class LiveRemuxer : ILiveIngest
{
    /// <summary>The folder of a stream's only video track.</summary>
    public const string VideoFolder = "video";
    private const string AudioFolder = Packager.AudioFolder;
    /// <summary>A track's media playlist.</summary>
    public const string MediaPlaylist = "index.m3u8";

    /// <summary>Its delta form (RFC 8216bis 6.2.5.1), served for index.m3u8?_HLS_skip=YES (LL-HLS only).</summary>
    public const string DeltaPlaylist = "index-skip.m3u8";
    private const string Master = "master.m3u8";
    private const string Manifest = "manifest.mpd";


    private static readonly Rational Milliseconds = new(1, 1000);

    private readonly double _targetSeconds;
    private readonly int _window;
    private readonly Track _video; // the first (highest) video track: segments are cut where it cuts, audio follows it
    private readonly Track[] _videos;
    private readonly Track? _audio;
    private readonly Track[][] _reports; // per track (videos, then audio): the other tracks its playlist reports
    private readonly Action<LivePosition>? _published;
    private readonly ILivePlaylistSink _playlists;
    private readonly StringBuilder _manifestText = new();
    private long _partMs; // the part length in use (PART-TARGET): decided from the first GOP
    private int _partFrames; // video frames per part once decided (0: parts end by time, no GOP was seen)
    private readonly double _partTargetSeconds;
    private List<HeldUnit>? _held; // the first GOP, held until the part length is decided (null once it is)
    private long _heldFirstKey = long.MinValue;
    private int _heldVideoFrames;
    private long _lastVideoPartCut = long.MinValue;
    private long _videoCutArrival; // Stopwatch timestamp of the frame that will close the open video segment or part
    private double _publishDelay;
    private long _publishStarted;
    private readonly int _audioRate;
    private readonly int _audioChannels;
    private long _lastVideoCut = long.MinValue;
    private readonly int _epoch;
    private readonly LiveRecording? _recording;

    /// <param name="playlists">Where the media playlists, their delta forms, the master and the MPD go.</param>
    /// <param name="partSeconds">LL-HLS part length (0 = no parts): video parts end at the first frame at or after it.</param>
    /// <param name="published">Called after each publish (playlists replaced), on the writer's thread.</param>
    /// <param name="continues">The channel's previous publish, whose playlists this one continues; null = a new stream.</param>
    /// <param name="dvrSeconds">Keep and list segments this far behind the live edge when that is more than <paramref name="windowSegments"/>.</param>
    /// <param name="recording">Where this publish is kept as a VOD (completed by <see cref="Finish"/>); null = not recorded.</param>
    /// <param name="partsAsFiles">Parts as files of their own (part_N_I.m4s) instead of byte ranges of their segment.</param>
    public LiveRemuxer(string root, ILivePlaylistSink playlists, LiveStreamInfo info, MemfdBufferPool pool, double targetSegmentSeconds, int windowSegments, double partSeconds = 0,
        Action<LivePosition>? published = null, LiveContinuation? continues = null, double dvrSeconds = 0, LiveRecording? recording = null,
        bool partsAsFiles = false)
    {
        _recording = recording;
        _epoch = (continues?.Epoch ?? 0) + 1;
        var initName = _epoch == 1 ? "init.mp4" : $"init-{_epoch}.mp4";
        _published = published;
        _playlists = playlists;
        _partTargetSeconds = partSeconds;
        _held = partSeconds > 0 ? [] : null;
        _targetSeconds = targetSegmentSeconds;
        _window = Math.Max(3, windowSegments);
        if (continues is null && Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true); // a new stream
        }

        Directory.CreateDirectory(root);
        if (info.Video.Count == 0)
        {
            throw new ArgumentException("a live stream needs a video track", nameof(info));
        }

        if (continues is not null && !continues.Fits(info))
        {
            throw new ArgumentException("the continuation has other video tracks than the stream", nameof(continues));
        }

        _videos = new Track[info.Video.Count];
        var opened = 0;
        try
        {
            for (; opened < _videos.Length; opened++)
            {
                var v = info.Video[opened];
                _videos[opened] = new Track(root, v.Folder, pool, audio: false, v.Config, v.Width, v.Height, 0, 0, partSeconds > 0, info.WallClockAtZero,
                    continues?.Video[opened], initName, _epoch, dvrSeconds, partsAsFiles);
            }

            if (info.AudioConfig is { Length: >= 2 } asc)
            {
                var (rate, channels) = AudioSpecificConfig(asc);
                _audio = new Track(root, AudioFolder, pool, audio: true, asc, 0, 0, rate, channels, partSeconds > 0, info.WallClockAtZero,
                    continues?.Audio, initName, _epoch, dvrSeconds, partsAsFiles);
                _audioRate = rate;
                _audioChannels = channels;
            }
        }
        catch
        {
            for (var i = 0; i < opened; i++)
            {
                _videos[i].Dispose();
            }

            throw;
        }

        _video = _videos[0];
        Track[] all = _audio is null ? _videos : [.. _videos, _audio];
        _reports = new Track[all.Length][];
        for (var i = 0; i < all.Length; i++)
        {
            var others = new List<Track>(all.Length - 1);
            foreach (var t in all)
            {
                if (t != all[i])
                {
                    others.Add(t);
                }
            }

            _reports[i] = [.. others];
        }

    }

    /// <summary>Segments published so far (video track).</summary>
    public int Segments => _video.Writer.Segments.Count;

    /// <summary>
    /// A reference on segment <paramref name="number"/> of the track in <paramref name="folder"/> while it is being written
    /// (byte-range parts; release it), or null when that segment is not open (not begun, or complete: then it is a file).
    /// Safe from any thread.
    /// </summary>
    public LiveOpenSegment? AcquireOpenSegment(ReadOnlySpan<char> folder, int number)
    {
        var track = _audio is not null && folder.SequenceEqual(_audio.Folder) ? _audio : null;
        for (var i = 0; track is null && i < _videos.Length; i++)
        {
            if (folder.SequenceEqual(_videos[i].Folder))
            {
                track = _videos[i];
            }
        }

        return track?.Writer.Open is { } open && open.Number == number && open.TryAcquire() ? open : null;
    }

    /// <summary>What the channel's next publish continues (call after <see cref="Finish"/>; reads managed state only).</summary>
    public LiveContinuation Carry()
    {
        var video = new LiveTrackCarry[_videos.Length];
        for (var i = 0; i < video.Length; i++)
        {
            video[i] = _videos[i].Carry(_window);
        }

        return new(_epoch, video, _audio?.Carry(_window));
    }

    /// <summary>One H.264 access unit (AVCC, length-prefixed NAL units) at decode time <paramref name="dtsMs"/> of the only video track; published at once.</summary>
    public void WriteVideo(ReadOnlySpan<byte> accessUnit, long dtsMs, int compositionMs, bool keyframe)
    {
        WriteVideo(0, accessUnit, dtsMs, compositionMs, keyframe);
        PublishWritten();
    }

    /// <summary>
    /// One access unit of video track <paramref name="track"/>; nothing is published until <see cref="PublishWritten"/>, so
    /// the rungs of one frame are written first and their playlists replaced together. Every track cuts a segment at its
    /// first keyframe after the target duration: encoders given the same forced keyframes cut at the same instants.
    /// </summary>
    public void WriteVideo(int track, ReadOnlySpan<byte> accessUnit, long dtsMs, int compositionMs, bool keyframe)
    {
        if (_held is not null && Hold(new HeldUnit(HeldKind.Video, track, accessUnit.ToArray(), dtsMs, compositionMs, keyframe)))
        {
            return;
        }

        var video = _videos[track];
        var cut = keyframe && (video.SegmentStartMs == long.MinValue || dtsMs - video.SegmentStartMs >= _targetSeconds * 1000);
        var part = !cut && _partMs > 0 && video.PartStartMs != long.MinValue
            && (_partFrames > 0 ? video.FramesInPart >= _partFrames : dtsMs - video.PartStartMs >= _partMs - 1);
        var closedBy = _videoCutArrival;
        if (track == 0)
        {
            if (cut)
            {
                _lastVideoCut = dtsMs;
            }

            if (cut || part)
            {
                _lastVideoPartCut = dtsMs;
                _videoCutArrival = System.Diagnostics.Stopwatch.GetTimestamp();
            }
        }

        var closed = video.Write(accessUnit, dtsMs + compositionMs, dtsMs, keyframe, cut, part);
        if (closed != Closed.Nothing)
        {
            if (track == 0)
            {
                _publishDelay = closedBy == 0 ? 0 : System.Diagnostics.Stopwatch.GetElapsedTime(closedBy).TotalSeconds;
            }

            _written = (Closed)Math.Max((int)_written, (int)closed);
        }
    }

    /// <summary>Publishes what the video writes since the last call closed (playlists replaced, <c>published</c> called).</summary>
    public void PublishWritten()
    {
        if (_held is not null && Hold(new HeldUnit(HeldKind.Publish, 0, [], 0, 0, false)))
        {
            return;
        }

        if (_written != Closed.Nothing)
        {
            Publish(_written == Closed.Segment, audio: false);
            _written = Closed.Nothing;
            _publishDelay = 0;
        }
    }

    private Closed _written;

    /// <summary>One raw AAC frame at <paramref name="ptsMs"/>; audio segments start with the first frame at or after each video cut.</summary>
    public void WriteAudio(ReadOnlySpan<byte> frame, long ptsMs)
    {
        if (_audio is null || (_held is not null && Hold(new HeldUnit(HeldKind.Audio, 0, frame.ToArray(), ptsMs, 0, false))))
        {
            return;
        }

        if (_lastVideoCut == long.MinValue)
        {
            return; // before the first video keyframe: nothing to play it with, and audio segment N stays video segment N's time
        }

        var cut = _lastVideoCut != long.MinValue && ptsMs >= _lastVideoCut && (_audio.SegmentStartMs == long.MinValue || _audio.SegmentStartMs < _lastVideoCut);
        var part = !cut && _lastVideoPartCut != long.MinValue && ptsMs >= _lastVideoPartCut && _audio.PartStartMs < _lastVideoPartCut;
        var closed = _audio.Write(frame, ptsMs, ptsMs, true, cut, part);
        if (closed != Closed.Nothing)
        {
            Publish(closed == Closed.Segment, video: false);
        }
    }

    /// <summary>The publisher stopped: the last segments are closed and the playlists end with EXT-X-ENDLIST.</summary>
    public void Finish()
    {
        if (_held is not null)
        {
            Decide(0, 0); // a publish shorter than a GOP: parts of the target length
        }

        foreach (var video in _videos)
        {
            video.Finish();
        }

        _audio?.Finish();
        _written = Closed.Nothing;
        Publish(segment: true, ended: true);
        if (_recording is not null)
        {
            var video = new TrackResult[_videos.Length];
            for (var i = 0; i < video.Length; i++)
            {
                video[i] = _videos[i].Recorded(_recording, 0, 0);
            }

            _recording.Complete(video, _audio?.Recorded(_recording, _audioRate, _audioChannels), _targetSeconds);
        }
    }

    private enum HeldKind
    {
        Video,
        Audio,
        Publish,
    }

    private sealed record HeldUnit(HeldKind Kind, int Track, byte[] Data, long Time, int Composition, bool Key);

    // Holds what arrives until the first video track's second keyframe gives the GOP (or 10 s pass without one), then
    // decides the part length and writes everything held. Returns false once decided (the caller writes the unit itself).
    private bool Hold(HeldUnit unit)
    {
        if (unit is { Kind: HeldKind.Video, Track: 0 })
        {
            if (unit.Key && _heldFirstKey != long.MinValue)
            {
                Decide(_heldVideoFrames, unit.Time - _heldFirstKey);
                return false; // this keyframe begins the second GOP: written after the held ones
            }

            if (unit.Key && _heldFirstKey == long.MinValue)
            {
                _heldFirstKey = unit.Time;
            }

            _heldVideoFrames += _heldFirstKey != long.MinValue ? 1 : 0;
            if (_heldFirstKey != long.MinValue && unit.Time - _heldFirstKey > 10_000)
            {
                _held!.Add(unit);
                Decide(0, 0);
                return true;
            }
        }

        _held!.Add(unit);
        return true;
    }

    /// <summary>
    /// The part length: <c>partSeconds</c> in whole frames when that divides the GOP (<paramref name="gopFrames"/> frames over
    /// <paramref name="gopMs"/>), else the divisor of the GOP between 0.2 s and 1 s closest to it, so every segment is whole
    /// parts of one length; without a GOP (none seen yet), parts of the target length. It never changes within the stream.
    /// </summary>
    private void Decide(int gopFrames, long gopMs)
    {
        var held = _held!;
        _held = null;
        if (gopFrames > 0 && gopMs > 0)
        {
            (_partFrames, _partMs) = PartLength(_partTargetSeconds, gopFrames, gopMs);
        }
        else
        {
            _partMs = (long)Math.Round(_partTargetSeconds * 1000);
        }

        foreach (var unit in held)
        {
            switch (unit.Kind)
            {
                case HeldKind.Video:
                    WriteVideo(unit.Track, unit.Data, unit.Time, unit.Composition, unit.Key);
                    break;
                case HeldKind.Audio:
                    WriteAudio(unit.Data, unit.Time);
                    break;
                default:
                    PublishWritten();
                    break;
            }
        }
    }

    /// <summary>Frames per part and its length in ms for a GOP of <paramref name="gopFrames"/> frames lasting <paramref name="gopMs"/>.</summary>
    public static (int Frames, long Milliseconds) PartLength(double targetSeconds, int gopFrames, long gopMs)
    {
        var frameMs = (double)gopMs / gopFrames;
        var wanted = Math.Max(1, (int)Math.Round(targetSeconds * 1000 / frameMs));
        var frames = wanted;
        if (gopFrames % wanted != 0)
        {
            var best = 0;
            for (var d = 1; d <= gopFrames; d++)
            {
                var ms = d * frameMs;
                if (gopFrames % d == 0 && ms >= 199.5 && ms <= 1000.5 && (best == 0 || Math.Abs(d - wanted) < Math.Abs(best - wanted)))
                {
                    best = d;
                }
            }

            frames = best > 0 ? best : wanted;
        }

        return (frames, (long)Math.Round(frames * frameMs));
    }

    private enum Closed
    {
        Nothing,
        Part,
        Segment,
    }

    // The media playlists of the tracks that closed a part or segment, master and MPD with segments. A track's playlist is
    // rewritten when it changes, not when another track's does: its rendition reports may then name the other track's
    // previous part for the fraction of a part until its own next publish (never a part that does not exist yet), and
    // each part costs one playlist write per track instead of two.
    private void Publish(bool segment, bool ended = false, bool video = true, bool audio = true)
    {
        _publishStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        var partTarget = _partMs / 1000.0;
        var (segments, parts) = (int.MaxValue, int.MaxValue);
        var listed = true;
        for (var i = 0; i < _videos.Length; i++)
        {
            var track = _videos[i];
            if (video)
            {
                track.WritePlaylist(_playlists, _window, ended, partTarget, _reports[i]);
                track.Record(_recording);
            }

            // A blocking reload is answered when every rung has the part: the slowest track is the position.
            var at = (track.Writer.NextNumber - 1, track.Writer.OpenSegmentParts);
            if (at.Item1 < segments || (at.Item1 == segments && at.Item2 < parts))
            {
                (segments, parts) = at;
            }

            listed &= track.Writer.Segments.Count > 0;
        }

        if (audio)
        {
            _audio?.WritePlaylist(_playlists, _window, ended, partTarget + (_audio.DefaultDurationMs / 1000.0), _reports[^1]);
            _audio?.Record(_recording);
        }

        var position = new LivePosition(segments, parts,
            (_audio?.Writer.NextNumber ?? 1) - 1, _audio?.Writer.OpenSegmentParts ?? 0, ended,
            _publishDelay > 0 ? _publishDelay + System.Diagnostics.Stopwatch.GetElapsedTime(_publishStarted).TotalSeconds : 0);
        if (!listed || !segment)
        {
            // Audio may close its first segment first: the master names the video playlists, so it waits for them.
            _published?.Invoke(position);
            return;
        }

        if (video)
        {
            WriteMaster(); // its bandwidths follow the video
        }

        _playlists.Replace(Manifest, _manifestText.Clear().Append(DashManifest(ended)));
        _published?.Invoke(position);
    }

    private void WriteMaster()
    {
        var master = new StringBuilder("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        var audioBitrate = _audio?.Bitrate(_window) ?? 0;
        if (_audio is not null)
        {
            master.Append("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,URI=\"" + AudioFolder + "/" + MediaPlaylist + "\"\n");
        }

        foreach (var rung in _videos)
        {
            var bandwidth = Math.Max(1, rung.Bitrate(_window) + audioBitrate);
            master.Append(CultureInfo.InvariantCulture, $"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS=\"{rung.Codec}{(_audio is null ? "" : "," + CodecStrings.AacLc)}\"");
            if (rung.Width > 0)
            {
                master.Append(CultureInfo.InvariantCulture, $",RESOLUTION={rung.Width}x{rung.Height}");
            }

            master.Append(_audio is not null ? ",AUDIO=\"audio\"\n" : "\n").Append(rung.Folder + "/" + MediaPlaylist + "\n");
        }

        _playlists.Replace(Master, master);
    }

    // The same MPD writer as VOD over the window: media time 0 is when the stream's first segment began on the wall clock.
    private string DashManifest(bool ended)
    {
        var videos = new TrackResult[_videos.Length];
        for (var i = 0; i < videos.Length; i++)
        {
            videos[i] = _videos[i].Window(_window, _videos[i].Folder, _videos[i].Codec, 0, 0);
        }

        var audio = _audio?.Window(_window, AudioFolder, CodecStrings.AacLc, _audioRate, _audioChannels);
        var depth = 0.0;
        foreach (var segment in videos[0].Segments)
        {
            depth += segment.DurationSeconds;
        }

        // Low latency: the segment being written is listed too, with the length of the one before it (a publisher's GOP is
        // steady), and may be requested one chunk after it begins; its response streams the rest as parts complete.
        var lowLatency = _partMs > 0 && !ended && videos[0].Segments.Count > 0;
        var offset = 0.0;
        if (lowLatency)
        {
            for (var i = 0; i < videos.Length; i++)
            {
                videos[i] = WithOpenSegment(videos[i], _videos[i].Writer.NextNumber);
            }

            audio = audio is { Segments.Count: > 0 } a ? WithOpenSegment(a, _audio!.Writer.NextNumber) : audio;
            offset = Math.Max(0, videos[0].Segments[^1].DurationSeconds - (_partMs / 1000.0));
        }

        var latency = lowLatency ? Math.Max(3 * _partMs / 1000.0, 1.5) : Math.Max(3 * _targetSeconds, 4);
        var live = new DashLiveWindow(_video.StartedAt, DateTimeOffset.UtcNow, depth, _targetSeconds, latency, ended, offset);
        return DashManifestWriter.Write(videos, audio, _targetSeconds, live: live);
    }

    private static TrackResult WithOpenSegment(TrackResult track, int number)
    {
        var last = track.Segments[^1];
        var segments = new List<SegmentInfo>(track.Segments.Count + 1);
        segments.AddRange(track.Segments);
        segments.Add(new SegmentInfo(number, $"seg_{number:D5}.m4s", last.Start + last.Duration, last.Duration, 0, last.Timescale));
        return track with { Segments = segments };
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
        foreach (var video in _videos)
        {
            video.Dispose();
        }

        _audio?.Dispose();
        _recording?.Dispose(); // unpublished (never finished): its staging folder goes
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
        private int _deletedOwn; // this publish's segments already deleted (they are not listed or carried any more)
        private readonly List<DateTimeOffset> _wallClock = []; // when each segment began (PROGRAM-DATE-TIME)

        private readonly DateTimeOffset? _wallClockAtZero;

        private readonly List<LiveWindowEntry> _carried;
        private readonly double _dvrSeconds;
        private int _recorded; // this publish's segments copied into the recording
        private long _frames;
        private readonly int _epoch;

        public Track(string root, string folder, MemfdBufferPool pool, bool audio, byte[] config, int width, int height, int rate, int channels, bool parts,
            DateTimeOffset? wallClockAtZero, LiveTrackCarry? carry, string initName, int epoch, double dvrSeconds, bool partsAsFiles)
        {
            _dvrSeconds = dvrSeconds;
            var directory = Path.Combine(root, folder);
            var label = folder;
            Folder = folder;
            _playlistName = folder + "/" + MediaPlaylist;
            _deltaName = folder + "/" + DeltaPlaylist;
            Codec = audio ? CodecStrings.AacLc : CodecStrings.Avc1(config);
            _wallClockAtZero = wallClockAtZero;
            _carried = carry is null ? [] : [.. carry.Window];
            _epoch = epoch;
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
                Writer = new Fmp4TrackWriter(_description, Milliseconds, directory, label, buffer, parts, carry?.NextNumber ?? 1, initName, partsAsFiles);
            }
            catch
            {
                buffer.Dispose();
                SsAv.StreamDescribeFree(_description);
                throw;
            }
        }

        public Fmp4TrackWriter Writer { get; }

        /// <summary>The track's folder below the stream's (its playlist's name in rendition reports and the master).</summary>
        public string Folder { get; }

        /// <summary>RFC 6381 codecs string.</summary>
        public string Codec { get; }

        public int Width { get; }

        public int Height { get; }

        public long SegmentStartMs { get; private set; } = long.MinValue;

        public long PartStartMs { get; private set; } = long.MinValue;

        /// <summary>Frames written into the open part.</summary>
        public int FramesInPart { get; private set; }

        /// <summary>The last frame's duration (an AAC frame: the most an audio part can exceed the video's part length).</summary>
        public long DefaultDurationMs => _defaultDuration;

        /// <summary>When the first segment began on the wall clock (media time 0).</summary>
        public DateTimeOffset StartedAt => _wallClock.Count > 0 ? _wallClock[0] : DateTimeOffset.UtcNow;

        /// <summary>The last <paramref name="window"/> segments as a packaged track (for the MPD).</summary>
        public TrackResult Window(int window, string name, string codecs, int rate, int channels)
        {
            var segments = Writer.Segments;
            var first = FirstListed(segments.Count, i => segments[i].DurationSeconds, window);
            var list = new List<SegmentInfo>(segments.Count - first);
            for (var i = first; i < segments.Count; i++)
            {
                list.Add(segments[i]);
            }

            var (peak, average) = TrackResult.MeasureBandwidth(list);
            return new TrackResult(name, codecs, Width, Height, 0, rate, channels, peak, average, list) { InitName = Writer.InitName };
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

        /// <summary>
        /// The first of <paramref name="count"/> segments a playlist lists: the newest <paramref name="window"/>, or as many
        /// as the DVR depth covers when that is more.
        /// </summary>
        private int FirstListed(int count, Func<int, double> duration, int window)
        {
            var first = Math.Max(0, count - window);
            var depth = 0.0;
            for (var i = count - 1; i >= 0; i--)
            {
                depth += duration(i);
                if (depth > _dvrSeconds)
                {
                    break;
                }

                first = Math.Min(first, i);
            }

            return first;
        }

        /// <summary>Copies this publish's segments completed since the last call into <paramref name="recording"/>.</summary>
        public void Record(LiveRecording? recording)
        {
            if (recording is null)
            {
                return;
            }

            var segments = Writer.Segments;
            for (; _recorded < segments.Count; _recorded++)
            {
                var segment = segments[_recorded];
                recording.Add(Folder, segment, Path.Combine(Writer.OutputDirectory, segment.FileName), Path.Combine(Writer.OutputDirectory, Writer.InitName));
            }
        }

        /// <summary>This track as recorded (renumbered segments, bitrates measured over them, frame rate over the publish).</summary>
        public TrackResult Recorded(LiveRecording recording, int rate, int channels)
        {
            var segments = recording.Segments(Folder);
            var (peak, average) = TrackResult.MeasureBandwidth(segments);
            var seconds = 0.0;
            foreach (var s in Writer.Segments)
            {
                seconds += s.DurationSeconds;
            }

            var fps = _audio || seconds <= 0 ? 0 : Math.Round(_frames / seconds, 3);
            return new TrackResult(Folder, Codec, Width, Height, fps, rate, channels, peak, average, segments);
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
                FramesInPart = 0;
            }

            FramesInPart++;

            fixed (byte* d = data)
            {
                FfmpegError.Check(SsAv.PacketSet(_pending.Ptr, d, data.Length, pts, dts, 0, key ? 1 : 0), "av_new_packet (live)");
            }

            _hasPending = true;
            _frames++;
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
                return (Writer.NextNumber, open - 1);
            }

            var parts = Writer.Parts;
            return parts.Count > 0 ? (parts[^1].SegmentNumber, parts[^1].Index) : (Writer.NextNumber - 1, 0);
        }

        /// <summary>The segments a playlist can list: those carried over from the previous publish, then this one's.</summary>
        private List<LiveWindowEntry> Entries()
        {
            // Each segment's entry is made once, when it is first listed; the list itself is reused.
            var segments = Writer.Segments;
            for (var i = _own.Count; i < segments.Count; i++)
            {
                var date = i < _wallClock.Count ? _wallClock[i] : DateTimeOffset.UtcNow;
                _own.Add(new LiveWindowEntry(segments[i].Number, segments[i].FileName, segments[i].DurationSeconds, date, Writer.InitName, _epoch));
            }

            _entries.Clear();
            _entries.AddRange(_carried);
            for (var i = _deletedOwn; i < _own.Count; i++)
            {
                _entries.Add(_own[i]);
            }

            return _entries;
        }

        private readonly List<LiveWindowEntry> _own = [];
        private readonly List<LiveWindowEntry> _entries = [];

        /// <summary>The window the channel's next publish keeps listing.</summary>
        public LiveTrackCarry Carry(int window)
        {
            var entries = Entries();
            var first = FirstListed(entries.Count, i => entries[i].DurationSeconds, window);
            return new LiveTrackCarry(Folder, Writer.NextNumber, entries.GetRange(first, entries.Count - first));
        }

        /// <summary>
        /// The last <paramref name="window"/> segments (the previous publish's first, after EXT-X-DISCONTINUITY), with LL-HLS
        /// parts (when <paramref name="partTarget"/> > 0) for the newest segments and the open one, a preload hint for the
        /// next part and a report of the other rendition. Segments (and their parts) that left the window are deleted.
        /// </summary>
        public void WritePlaylist(ILivePlaylistSink playlists, int window, bool ended, double partTarget, Track[] reports)
        {
            var entries = Entries();
            if (entries.Count == 0 && Writer.OpenSegmentParts == 0)
            {
                return;
            }

            var first = FirstListed(entries.Count, i => entries[i].DurationSeconds, window);
            for (var i = first; i < entries.Count; i++)
            {
                _targetDuration = Math.Max(_targetDuration, (int)Math.Ceiling(entries[i].DurationSeconds - 0.0005));
            }

            var lowLatency = partTarget > 0;
            // Delta updates (RFC 8216bis 6.2.5.1): a player asking with _HLS_skip=YES gets the segments more than
            // CAN-SKIP-UNTIL (six target durations, the least allowed) before the end replaced by one EXT-X-SKIP.
            var canSkipUntil = 6 * _targetDuration;
            var header = _header.Clear();
            header.Append(CultureInfo.InvariantCulture, $"#EXTM3U\n#EXT-X-VERSION:{(lowLatency ? 9 : 7)}\n#EXT-X-TARGETDURATION:{_targetDuration}\n");
            if (lowLatency)
            {
                // A player holds back three parts from the live edge (RFC 8216bis 4.4.3.8: PART-HOLD-BACK >= 2 x PART-TARGET).
                header.Append(CultureInfo.InvariantCulture, $"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={canSkipUntil},PART-HOLD-BACK={3 * partTarget:0.###}\n");
                header.Append(CultureInfo.InvariantCulture, $"#EXT-X-PART-INF:PART-TARGET={partTarget:0.###}\n");
            }

            // Publishes are numbered from 1 and each later one begins with a discontinuity: the count of those that left
            // the window is the first listed publish's number - 1.
            var firstEpoch = entries.Count > first ? entries[first].Epoch : _epoch;
            header.Append(CultureInfo.InvariantCulture, $"#EXT-X-MEDIA-SEQUENCE:{(entries.Count > first ? entries[first].Number : Writer.NextNumber)}\n");
            if (firstEpoch > 1)
            {
                header.Append(CultureInfo.InvariantCulture, $"#EXT-X-DISCONTINUITY-SEQUENCE:{firstEpoch - 1}\n");
            }

            // The listed segments' lines (discontinuity, date, parts, EXTINF), with where each segment starts, so the delta
            // form can leave out a prefix.
            var body = _body.Clear();
            var starts = _starts;
            starts.Clear();
            Writer.ForgetPartsBefore(Writer.NextNumber - 3); // parts are listed for the last three segments and the open one
            var parts = Writer.Parts;
            var p = 0;
            var epoch = firstEpoch;
            for (var i = first; i <= entries.Count; i++)
            {
                var open = i == entries.Count;
                if (open && Writer.OpenSegmentParts == 0)
                {
                    break;
                }

                starts.Add(body.Length);
                var number = open ? Writer.NextNumber : entries[i].Number;
                var entryEpoch = open ? _epoch : entries[i].Epoch;
                if (entryEpoch != epoch)
                {
                    body.Append(CultureInfo.InvariantCulture, $"#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"{(open ? Writer.InitName : entries[i].InitName)}\"\n");
                    epoch = entryEpoch;
                }

                while (p < parts.Count && parts[p].SegmentNumber < number)
                {
                    p++;
                }

                var withParts = lowLatency && entryEpoch == _epoch && p < parts.Count && parts[p].SegmentNumber == number;
                if (open)
                {
                    AppendOpenSegment(body, parts, p);
                }
                else
                {
                    body.Append(SegmentText(entries[i], withParts, parts, p));
                }
            }

            PruneSegmentTexts(entries.Count > first ? entries[first].Number : Writer.NextNumber);

            var text = _trailer.Clear();
            if (ended)
            {
                text.Append("#EXT-X-ENDLIST\n");
            }
            else if (lowLatency)
            {
                // The next part: a file of its own, or the bytes of the open segment from where its complete parts end.
                if (Writer.PartsAsFiles)
                {
                    text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part_{Writer.NextNumber:D5}_{Writer.OpenSegmentParts}.m4s\"\n");
                }
                else
                {
                    text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg_{Writer.NextNumber:D5}.m4s\",BYTERANGE-START={Writer.OpenSegmentLength}\n");
                }
                foreach (var other in reports)
                {
                    var (msn, part) = other.LastPart();
                    text.Append(CultureInfo.InvariantCulture, $"#EXT-X-RENDITION-REPORT:URI=\"../{other.Folder}/{MediaPlaylist}\",LAST-MSN={msn},LAST-PART={part}\n");
                }
            }

            var trailer = text;
            if (lowLatency && !ended)
            {
                // Skipped: the leading segments of the first listed publish that end at least CAN-SKIP-UNTIL before the
                // end of the listed ones (never a segment with parts: those are the last three).
                var end = 0.0;
                for (var i = first; i < entries.Count; i++)
                {
                    end += entries[i].DurationSeconds;
                }

                var skipped = 0;
                for (double at = 0; first + skipped < entries.Count - 3 && entries[first + skipped].Epoch == firstEpoch; skipped++)
                {
                    at += entries[first + skipped].DurationSeconds;
                    if (end - at < canSkipUntil)
                    {
                        break;
                    }
                }

                if (skipped == 0)
                {
                    // Nothing to leave out (a window shorter than CAN-SKIP-UNTIL): requests for the delta get the whole
                    // playlist, and no second file is written per part.
                    DropDelta(playlists);
                }
                else
                {
                    var delta = _text.Clear().Append(header);
                    delta.Append(CultureInfo.InvariantCulture, $"#EXT-X-MAP:URI=\"{(entries.Count > first + skipped ? entries[first + skipped].InitName : Writer.InitName)}\"\n");
                    if (skipped > 0)
                    {
                        delta.Append(CultureInfo.InvariantCulture, $"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}\n");
                    }

                    if (skipped < starts.Count)
                    {
                        delta.Append(body, starts[skipped], body.Length - starts[skipped]);
                    }

                    delta.Append(trailer);
                    playlists.Replace(_deltaName, delta);
                    _deltaWritten = true;
                }
            }
            else
            {
                // Ended (or not low latency): a delta form would hide the end; requests for it get the whole playlist.
                DropDelta(playlists);
            }

            text = _text.Clear();
            text.Append(header);
            text.Append(CultureInfo.InvariantCulture, $"#EXT-X-MAP:URI=\"{(entries.Count > first ? entries[first].InitName : Writer.InitName)}\"\n");
            text.Append(body);
            text.Append(trailer);
            playlists.Replace(_playlistName, text);
            // Left the window: deleted, except the one just before the window (a player with the previous playlist may fetch it).
            var leaving = first - 1;
            for (var i = 0; i < leaving; i++)
            {
                DeleteSegmentFiles(entries[i].Number, entries[i].FileName);
            }

            if (leaving > 0)
            {
                var carried = Math.Min(_carried.Count, leaving);
                _carried.RemoveRange(0, carried);
                _deletedOwn += leaving - carried;
            }
        }

        // The playlist is built in the same builders at every publish (they keep their capacity).
        private readonly StringBuilder _header = new();
        private readonly StringBuilder _body = new();
        private readonly StringBuilder _trailer = new();
        private readonly StringBuilder _text = new();
        private readonly List<int> _starts = [];

        // A listed segment's lines (date, parts while it is among the last three, EXTINF) never change: each form is made
        // once, not at every part's rewrite of the playlist. Keyed by number * 2 + (with parts ? 1 : 0).
        private readonly Dictionary<long, string> _segmentTexts = [];
        private readonly StringBuilder _openText = new();
        private int _openTextNumber = -1;
        private int _openTextParts;
        private bool _openTextDated;

        private string SegmentText(LiveWindowEntry entry, bool withParts, IReadOnlyList<PartInfo> parts, int p)
        {
            var key = ((long)entry.Number << 1) | (withParts ? 1L : 0L);
            if (!_segmentTexts.TryGetValue(key, out var text))
            {
                var lines = new StringBuilder();
                DateLine(lines, entry.Date);
                for (; withParts && p < parts.Count && parts[p].SegmentNumber == entry.Number; p++)
                {
                    PartLine(lines, parts[p]);
                }

                lines.Append(CultureInfo.InvariantCulture, $"#EXTINF:{entry.DurationSeconds:0.000},\n{entry.FileName}\n");
                text = lines.ToString();
                _segmentTexts[key] = text;
            }

            return text;
        }

        // The open segment's lines grow by one part per publish: only the new parts are formatted.
        private void AppendOpenSegment(StringBuilder body, IReadOnlyList<PartInfo> parts, int p)
        {
            var date = Writer.Segments.Count < _wallClock.Count ? _wallClock[Writer.Segments.Count] : (DateTimeOffset?)null;
            if (_openTextNumber != Writer.NextNumber || _openTextDated != date.HasValue)
            {
                _openText.Clear();
                _openTextNumber = Writer.NextNumber;
                _openTextParts = 0;
                _openTextDated = date.HasValue;
                if (date is { } d)
                {
                    DateLine(_openText, d);
                }
            }

            var q = p;
            for (; q < parts.Count && parts[q].SegmentNumber == _openTextNumber; q++)
            {
                if (q - p >= _openTextParts)
                {
                    PartLine(_openText, parts[q]);
                }
            }

            _openTextParts = Math.Max(_openTextParts, q - p);
            body.Append(_openText);
        }

        private void PruneSegmentTexts(int firstListed)
        {
            if (_segmentTexts.Count <= 16)
            {
                return;
            }

            foreach (var key in _segmentTexts.Keys)
            {
                if (key >> 1 < firstListed)
                {
                    _segmentTexts.Remove(key);
                }
            }
        }

        private static void DateLine(StringBuilder lines, DateTimeOffset date) =>
            lines.Append(CultureInfo.InvariantCulture, $"#EXT-X-PROGRAM-DATE-TIME:{date:yyyy-MM-ddTHH:mm:ss.fffZ}\n");

        private static void PartLine(StringBuilder lines, PartInfo part)
        {
            lines.Append(CultureInfo.InvariantCulture, $"#EXT-X-PART:DURATION={part.DurationSeconds:0.000},URI=\"{part.FileName}\"");
            if (part.IsByteRange)
            {
                lines.Append(CultureInfo.InvariantCulture, $",BYTERANGE=\"{part.Bytes}@{part.Offset}\"");
            }

            lines.Append(part.Independent ? ",INDEPENDENT=YES\n" : "\n");
        }

        private readonly string _playlistName;
        private readonly string _deltaName;
        private bool _deltaWritten;

        private void DropDelta(ILivePlaylistSink playlists)
        {
            if (_deltaWritten)
            {
                playlists.Remove(_deltaName);
                _deltaWritten = false;
            }
        }

        private void DeleteSegmentFiles(int number, string fileName)
        {
            Interop.PosixFile.TryDelete(Path.Combine(Writer.OutputDirectory, fileName));
            for (var i = 0; Writer.PartsAsFiles && Interop.PosixFile.TryDelete(Path.Combine(Writer.OutputDirectory, $"part_{number:D5}_{i}.m4s")); i++)
            {
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
