using StreamServer.Transcode.Interop;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// One opened video (demuxer + decoder, from the FFmpeg interop layer) that hands out the frame at a time:
/// seek to the keyframe at or before t, decode forward, keep the first frame whose presentation time is at or
/// after t (what `ffmpeg -ss t -i src -frames:v 1` shows). Kept open between requests by
/// <see cref="ThumbnailService"/>, which is what saves the open + probe a CLI pays every time. Not thread-safe.
/// </summary>
public sealed class FrameGrabber : IDisposable
{
    // Half a millisecond: times arrive rounded to milliseconds, frame times are exact rationals.
    private const double TimeEpsilon = 0.0005;

    private readonly HlsMediaPlaylist? _playlist;
    private readonly int _decoderThreads;
    private readonly IFrameMemory _frameMemory;
    private readonly bool _allowReferenceSkip;
    private MediaSource _source;
    private MediaStreamInfo _video;
    private MediaDecoder _decoder;
    private int _openSegment = -1;
    private bool _skipping;
    // B pictures that are references but that nothing shown at or after t needs (see SendPacket): only for streams
    // whose encoder says how it builds its reference lists. -1 = unknown yet, 0 = no, 1 = yes.
    private int _referenceSkipSafe = -1;
    private int _nalLengthSize;
    private double _anchorTime = double.NaN; // display time of the last I or P picture sent to the decoder
    private double _segmentStart;
    private long _segmentOrigin = long.MinValue;
    private readonly PacketHandle _packet = new();
    // Packets read past the candidate frame but not sent: a reorder window's worth (B-pyramids need 3-4).
    private readonly PacketHandle[] _ahead = [new(), new(), new(), new(), new(), new(), new(), new()];
    private readonly double[] _aheadTimes = new double[8];
    private int _aheadCount;
    private FrameHandle _current = new();
    private FrameHandle _previous = new();
    private Rational _frameAspect;
    private Scaler? _scaler;
    private int _scalerSourceFormat = -1;
    private bool _scalerSourceFull;

    /// <param name="path">A media file, or an HLS media playlist of CMAF segments (a packaged rendition).</param>
    /// <param name="decoderThreads">0 = FFmpeg's choice.</param>
    /// <param name="frameMemory">Where decoded and scaled frames live; null = <see cref="RecyclingFrameMemory.Shared"/>.</param>
    /// <param name="skipUnneededReferences">Leave out reference B pictures shown before t that nothing at or after t
    /// predicts from, where the stream allows proving that (false: decode every reference picture).</param>
    public FrameGrabber(string path, int decoderThreads = 0, IFrameMemory? frameMemory = null, bool skipUnneededReferences = true)
    {
        _decoderThreads = decoderThreads;
        _allowReferenceSkip = skipUnneededReferences;
        _frameMemory = frameMemory ?? RecyclingFrameMemory.Shared;
        if (path.EndsWith(".m3u8", StringComparison.OrdinalIgnoreCase))
        {
            // FFmpeg 5.1's HLS demuxer cannot seek in fMP4 playlists (it loses the init section and feeds garbage
            // to the decoder), and every packaged segment starts with an IDR frame anyway: open init + the segment
            // that holds t, which is exactly "the keyframe at or before t".
            _playlist = HlsMediaPlaylist.Load(path);
            (_source, _video, _decoder) = Open([_playlist.InitPath, _playlist.Segments[0]], path, decoderThreads, _frameMemory);
            _openSegment = 0;
            DurationSeconds = _playlist.DurationSeconds;
        }
        else
        {
            (_source, _video, _decoder) = Open([path], path, decoderThreads, _frameMemory);
            DurationSeconds = _source.Duration.TotalSeconds;
        }

        Path = path;
        // The first packet says who encoded the stream (see ProveReferenceSkip); every DecodeAt seeks anyway.
        ReadVideoPacket();
        _packet.Unref();
    }

    private static (MediaSource, MediaStreamInfo, MediaDecoder) Open(IReadOnlyList<string> files, string path, int threads, IFrameMemory memory)
    {
        var (source, video) = OpenSource(files, path);
        try
        {
            return (source, video, new MediaDecoder(source, video, memory, threads));
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The demuxer alone, without the probing decode (MP4/MOV describe their streams): pixel format and aspect come
    /// from the decoded frames, and re-opening a segment costs a file open instead of decoding frames.
    /// </summary>
    private static (MediaSource, MediaStreamInfo) OpenSource(IReadOnlyList<string> files, string path)
    {
        var source = files.Count == 1 ? MediaSource.Open(files[0], probeStreams: false) : MediaSource.OpenConcatenated(files, probeStreams: false);
        try
        {
            var video = source.BestStream(MediaKind.Video) ?? throw new TranscodeException($"no video stream in {System.IO.Path.GetFileName(path)}");
            return (source, video);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    public string Path { get; }

    /// <summary>Where this grabber's decoded and scaled frames live.</summary>
    public IFrameMemory FrameMemory => _frameMemory;

    /// <summary>Reference B pictures left undecoded so far (seeks that did not need them).</summary>
    public long SkippedReferencePictures { get; private set; }

    /// <summary>Container duration in seconds (0 when the container does not say).</summary>
    public double DurationSeconds { get; }

    public int SourceWidth => _video.Width;

    public int SourceHeight => _video.Height;

    /// <summary>
    /// Pixel aspect (1 for square pixels), so thumbnails keep the display aspect of anamorphic video: the bitstream's
    /// (of the frame <see cref="DecodeAt"/> returned last), else the container's.
    /// </summary>
    public double SampleAspectRatio => _frameAspect.IsValid ? _frameAspect.ToDouble()
        : _video.SampleAspectRatio.IsValid ? _video.SampleAspectRatio.ToDouble() : 1;

    /// <summary>Presentation time of the frame the last <see cref="DecodeAt"/> returned.</summary>
    public double LastFrameTime { get; private set; } = double.NaN;

    /// <summary>
    /// Decodes the frame at <paramref name="seconds"/> (from the start of the video) and returns it; the handle
    /// belongs to this grabber and stays valid until the next call.
    /// </summary>
    public FrameHandle DecodeAt(double seconds)
    {
        var frame = DecodeForward(seconds, out var lastPacketTime);
        if (frame is null)
        {
            // t lies inside the last frame (after its start, within the duration), and that frame was one of the
            // non-reference ones skipped on the way: once more, aiming at it.
            frame = double.IsNaN(lastPacketTime) ? null : DecodeForward(lastPacketTime, out _);
            if (frame is null)
            {
                throw new TranscodeException($"no video frame decodable at {seconds:0.###}s in {System.IO.Path.GetFileName(Path)}");
            }
        }

        _frameAspect = frame.SampleAspectRatio;
        return frame;
    }

    /// <summary>
    /// Seeks to the keyframe at or before <paramref name="seconds"/> and decodes forward to the first frame shown at or
    /// after it (output order is display order), decoding nothing that frame does not need. Once a candidate (the
    /// earliest pts at or after t so far) is sent, later packets are read ahead without decoding: the candidate depends
    /// only on packets before it in decode order, so a later one is decoded only if a better candidate (shown between
    /// t and the candidate) follows it. A packet decoded at or after the candidate's presentation time (dts &gt;= that
    /// pts) and every packet after it show later, so there the decoder is drained instead of decoding the frames its
    /// reordering delay and frame threads would pull in. Null when the stream ends before a frame at t and the last
    /// shown frame was skipped; <paramref name="lastPacketTime"/> is then the time of the packet shown last.
    /// </summary>
    private FrameHandle? DecodeForward(double seconds, out double lastPacketTime)
    {
        if (_playlist is not null)
        {
            OpenSegment(_playlist.SegmentAt(seconds));
        }
        else
        {
            _source.SeekTo(_video, TimeSpan.FromSeconds(Math.Max(0, seconds)));
        }

        ReleaseFrames(); // its flush also ends the drain the previous call left the decoder in
        _anchorTime = double.NaN;
        var havePrevious = false;
        var draining = false;
        var candidate = long.MaxValue; // earliest pts at or after t among the packets read
        var lastPts = long.MinValue;
        lastPacketTime = double.NaN;
        while (true)
        {
            if (!draining)
            {
                if (!ReadVideoPacket())
                {
                    draining = true;
                }
                else
                {
                    var pts = _packet.Pts;
                    var dts = _packet.Dts;
                    var time = PacketTime(pts);
                    var better = !double.IsNaN(time) && time >= seconds - TimeEpsilon && pts < candidate;
                    if (candidate == long.MaxValue)
                    {
                        if (better)
                        {
                            candidate = pts;
                        }

                        if (pts != long.MinValue && pts > lastPts)
                        {
                            (lastPts, lastPacketTime) = (pts, time);
                        }

                        if (SendPacket(_packet, time, seconds, ref havePrevious))
                        {
                            return _current;
                        }
                    }
                    else if (dts != long.MinValue && dts >= candidate)
                    {
                        draining = true; // shown after the candidate, like everything after it
                    }
                    else if (better)
                    {
                        // Shown between t and the candidate: the new candidate. The packets read ahead before it may be
                        // its references, so they go first, in decode order.
                        candidate = pts;
                        if (SendReadAhead(seconds, ref havePrevious) || SendPacket(_packet, time, seconds, ref havePrevious))
                        {
                            return _current;
                        }
                    }
                    else if (_aheadCount < _ahead.Length)
                    {
                        // Shown before t or after the candidate: the candidate does not need it (it precedes it in
                        // decode order); decoded only if a better candidate turns up after it.
                        _ahead[_aheadCount].MoveFrom(_packet);
                        _aheadTimes[_aheadCount++] = time;
                    }
                    else if (SendReadAhead(seconds, ref havePrevious) || SendPacket(_packet, time, seconds, ref havePrevious))
                    {
                        return _current; // read too far ahead without a decision (no dts): decode as they come
                    }
                }

                if (draining)
                {
                    DropReadAhead();
                    while (!_decoder.Send(null))
                    {
                        if (TryReceive(seconds, ref havePrevious))
                        {
                            return _current;
                        }
                    }
                }
            }

            if (TryReceive(seconds, ref havePrevious))
            {
                return _current;
            }

            if (draining)
            {
                // No frame at or after t: t lies inside the last frame, which is the answer if it was decoded (frames
                // come out in display order, so the last one out is the last one shown, unless it was skipped).
                if (!havePrevious || (!double.IsNaN(lastPacketTime) && LastFrameTime < lastPacketTime - TimeEpsilon))
                {
                    return null;
                }

                (_current, _previous) = (_previous, _current);
                return _current;
            }
        }
    }

    /// <summary>Sends one packet (true when the frame at t came out while making room for it).</summary>
    private bool SendPacket(PacketHandle packet, double time, double target, ref bool havePrevious)
    {
        var beforeTarget = !double.IsNaN(time) && time < target - TimeEpsilon;
        if (_referenceSkipSafe == 1)
        {
            var kind = H264Packet.ReadPictureKind(packet.Data, _nalLengthSize);
            if (kind.Type is H264PictureType.I or H264PictureType.P)
            {
                _anchorTime = time;
            }
            else if (kind is { Type: H264PictureType.B, IsReference: true } && beforeTarget && _anchorTime < target - TimeEpsilon)
            {
                // A reference B picture predicts only pictures shown between the anchors around it: with x264's
                // ref=1 every picture's nearest earlier reference (its only list-0 entry) is at or after the I/P
                // decoded just before this B, and that anchor shows before t, so nothing at or after t needs it.
                // The decoder sees a frame_num gap and keeps a placeholder in its slot, so the picture buffer
                // evolves as if it had been decoded.
                SkippedReferencePictures++;
                packet.Unref();
                return false;
            }
        }

        // Non-reference frames shown before t are never displayed and nothing predicts from them.
        SkipNonReference(beforeTarget);
        while (!_decoder.Send(packet))
        {
            // Decoder full: take frames out before the packet can go in.
            if (TryReceive(target, ref havePrevious))
            {
                return true;
            }
        }

        packet.Unref();
        return false;
    }

    private bool SendReadAhead(double target, ref bool havePrevious)
    {
        for (var i = 0; i < _aheadCount; i++)
        {
            if (SendPacket(_ahead[i], _aheadTimes[i], target, ref havePrevious))
            {
                DropReadAhead();
                return true;
            }
        }

        _aheadCount = 0;
        return false;
    }

    private void DropReadAhead()
    {
        for (var i = 0; i < _aheadCount; i++)
        {
            _ahead[i].Unref();
        }

        _aheadCount = 0;
    }

    /// <summary>
    /// Lets go of every frame this grabber and its decoder hold (the frame <see cref="DecodeAt"/> returned, the
    /// decoder's reference pictures), keeping the opened demuxer and decoder for the next <see cref="DecodeAt"/>.
    /// </summary>
    public void ReleaseFrames()
    {
        _decoder.Flush();
        _current.Unref();
        _previous.Unref();
        DropReadAhead();
    }

    /// <summary>
    /// Scales <paramref name="frame"/> to <paramref name="width"/> x <paramref name="height"/> planar 4:2:0, full range
    /// (JPEG's), into <paramref name="destination"/>.
    /// </summary>
    public void Scale(FrameHandle frame, FrameHandle destination, int width, int height, ScaleQuality quality = ScaleQuality.Bicubic)
    {
        var format = frame.PixelFormat;
        var full = frame.IsFullRange;
        if (_scaler is null || _scaler.Width != width || _scaler.Height != height || _scalerSourceFormat != format
            || _scalerSourceFull != full || _scaler.SourceWidth != frame.Width || _scaler.SourceHeight != frame.Height)
        {
            _scaler?.Dispose();
            _scaler = new Scaler(frame.Width, frame.Height, format, width, height, PixelFormats.Yuv420P, _frameMemory, quality,
                sourceFullRange: full, destinationFullRange: true);
            _scalerSourceFormat = format;
            _scalerSourceFull = full;
        }

        _scaler.Scale(frame, destination);
    }

    private void OpenSegment(int index)
    {
        if (index == _openSegment)
        {
            // Same segment again: back to its start (byte 0 of init + segment is a cheap, exact seek).
            _source.SeekTo(_video, TimeSpan.Zero);
        }
        else
        {
            // Another segment: a new demuxer, the same decoder (flushed by the caller). Every segment of a rendition
            // shares the init section, so the decoder's parameters still hold; opening one per segment cost its
            // threads and a probing decode each time.
            var (source, video) = OpenSource([_playlist!.InitPath, _playlist.Segments[index]], Path);
            if (video.CodecName != _video.CodecName || video.Width != _video.Width || video.Height != _video.Height)
            {
                MediaDecoder decoder;
                try
                {
                    decoder = new MediaDecoder(source, video, _frameMemory, _decoderThreads);
                }
                catch
                {
                    source.Dispose();
                    throw;
                }

                _decoder.Dispose();
                _decoder = decoder;
                _skipping = false;
            }

            _source.Dispose();
            (_source, _video) = (source, video);
            _openSegment = index;
        }

        _segmentStart = _playlist!.Starts[index];
        _segmentOrigin = long.MinValue;
    }

    private void SkipNonReference(bool skip)
    {
        if (skip != _skipping)
        {
            _decoder.SkipNonReferenceFrames(skip);
            _skipping = skip;
        }
    }

    private double PacketTime(long pts)
    {
        if (pts == long.MinValue)
        {
            return double.NaN;
        }

        if (_playlist is not null && _segmentOrigin == long.MinValue)
        {
            // First packet of the segment: its IDR, shown first (closed GOP), at the segment's playlist time.
            _segmentOrigin = pts;
        }

        return TimeOf(pts);
    }

    private bool ReadVideoPacket()
    {
        while (_source.ReadPacket(_packet))
        {
            if (_packet.StreamIndex == _video.Index)
            {
                if (_referenceSkipSafe < 0)
                {
                    ProveReferenceSkip();
                }

                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Decides once per opened video, from its first packet, whether reference B pictures may be skipped: only for
    /// H.264 from x264 with ref=1 (its option string, written into the first access unit, says so), where each list
    /// holds the single nearest reference in display order. Other encoders may predict a P picture from an earlier
    /// reference B, so their references are all decoded.
    /// </summary>
    private void ProveReferenceSkip()
    {
        _referenceSkipSafe = 0;
        if (!_allowReferenceSkip || _video.CodecName != "h264")
        {
            return;
        }

        _nalLengthSize = H264Packet.NalLengthSize(_source.Extradata(_video));
        if (_packet.IsKey && H264Packet.X264ReferenceFrames(_packet.Data, _nalLengthSize) == 1)
        {
            _referenceSkipSafe = 1;
        }
    }

    private bool TryReceive(double target, ref bool havePrevious)
    {
        while (_decoder.Receive(_current))
        {
            var t = FrameTime(_current);
            if (t >= target - TimeEpsilon)
            {
                LastFrameTime = t;
                return true;
            }

            (_current, _previous) = (_previous, _current);
            _current.Unref();
            havePrevious = true;
            LastFrameTime = t;
        }

        return false;
    }

    private double FrameTime(FrameHandle frame)
    {
        var ts = frame.Info.BestEffortTimestamp;
        if (ts == long.MinValue)
        {
            ts = frame.Pts;
        }

        if (_playlist is not null && _segmentOrigin == long.MinValue)
        {
            _segmentOrigin = ts;
        }

        return TimeOf(ts);
    }

    private double TimeOf(long ts)
    {
        var tb = _video.TimeBase;
        if (_playlist is not null)
        {
            // The segment's IDR starts at the segment's playlist time; other frames are offsets from it
            // (independent of tfdt / edit-list conventions).
            return _segmentStart + ((ts - _segmentOrigin) * (double)tb.Num / tb.Den);
        }

        var start = _video.StartTime == long.MinValue ? 0 : _video.StartTime;
        return (ts - start) * (double)tb.Num / tb.Den;
    }

    public void Dispose()
    {
        _scaler?.Dispose();
        _current.Dispose();
        _previous.Dispose();
        _packet.Dispose();
        foreach (var p in _ahead)
        {
            p.Dispose();
        }

        _decoder.Dispose();
        _source.Dispose();
    }
}
