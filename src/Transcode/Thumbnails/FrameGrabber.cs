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
    private MediaSource _source;
    private MediaStreamInfo _video;
    private MediaDecoder _decoder;
    private int _openSegment = -1;
    private bool _skipping;
    private double _segmentStart;
    private long _segmentOrigin = long.MinValue;
    private readonly PacketHandle _packet = new();
    private FrameHandle _current = new();
    private FrameHandle _previous = new();
    private Scaler? _scaler;
    private int _scalerSourceFormat = -1;
    private bool _scalerSourceFull;

    /// <param name="path">A media file, or an HLS media playlist of CMAF segments (a packaged rendition).</param>
    public FrameGrabber(string path, int decoderThreads = 0)
    {
        _decoderThreads = decoderThreads;
        if (path.EndsWith(".m3u8", StringComparison.OrdinalIgnoreCase))
        {
            // FFmpeg 5.1's HLS demuxer cannot seek in fMP4 playlists (it loses the init section and feeds garbage
            // to the decoder), and every packaged segment starts with an IDR frame anyway: open init + the segment
            // that holds t, which is exactly "the keyframe at or before t".
            _playlist = HlsMediaPlaylist.Load(path);
            (_source, _video, _decoder) = Open([_playlist.InitPath, _playlist.Segments[0]], path, decoderThreads);
            _openSegment = 0;
            DurationSeconds = _playlist.DurationSeconds;
        }
        else
        {
            (_source, _video, _decoder) = Open([path], path, decoderThreads);
            DurationSeconds = _source.Duration.TotalSeconds;
        }

        Path = path;
    }

    private static (MediaSource, MediaStreamInfo, MediaDecoder) Open(IReadOnlyList<string> files, string path, int threads)
    {
        var source = files.Count == 1 ? MediaSource.Open(files[0]) : MediaSource.OpenConcatenated(files);
        try
        {
            var video = source.BestStream(MediaKind.Video) ?? throw new TranscodeException($"no video stream in {System.IO.Path.GetFileName(path)}");
            return (source, video, new MediaDecoder(source, video, null, threads));
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    public string Path { get; }

    /// <summary>Container duration in seconds (0 when the container does not say).</summary>
    public double DurationSeconds { get; }

    public int SourceWidth => _video.Width;

    public int SourceHeight => _video.Height;

    /// <summary>Pixel aspect (1 for square pixels), so thumbnails keep the display aspect of anamorphic video.</summary>
    public double SampleAspectRatio => _video.SampleAspectRatio.IsValid ? _video.SampleAspectRatio.ToDouble() : 1;

    /// <summary>Presentation time of the frame the last <see cref="DecodeAt"/> returned.</summary>
    public double LastFrameTime { get; private set; } = double.NaN;

    /// <summary>
    /// Decodes the frame at <paramref name="seconds"/> (from the start of the video) and returns it; the handle
    /// belongs to this grabber and stays valid until the next call.
    /// </summary>
    public FrameHandle DecodeAt(double seconds)
    {
        if (_playlist is not null)
        {
            OpenSegment(_playlist.SegmentAt(seconds));
        }
        else
        {
            _source.SeekTo(_video, TimeSpan.FromSeconds(Math.Max(0, seconds)));
            _decoder.Flush();
        }

        _current.Unref();
        _previous.Unref();
        var havePrevious = false;
        var eof = false;
        while (true)
        {
            if (!eof)
            {
                eof = !ReadVideoPacket();
                SkipUnshownFrames(eof ? double.NaN : PacketTime(_packet.Pts), seconds);
                while (!_decoder.Send(eof ? null : _packet))
                {
                    // Decoder full: drain before the packet can go in.
                    if (TryReceive(seconds, ref havePrevious))
                    {
                        return _current;
                    }
                }
            }

            if (TryReceive(seconds, ref havePrevious))
            {
                return _current;
            }

            if (eof)
            {
                // t lies after the last frame's start (still within the duration): the last frame is what shows.
                if (!havePrevious)
                {
                    throw new TranscodeException($"no video frame decodable at {seconds:0.###}s in {System.IO.Path.GetFileName(Path)}");
                }

                (_current, _previous) = (_previous, _current);
                return _current;
            }
        }
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
            _scaler = new Scaler(frame.Width, frame.Height, format, width, height, PixelFormats.Yuv420P, quality: quality,
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
            _decoder.Flush();
        }
        else
        {
            var (source, video, decoder) = Open([_playlist!.InitPath, _playlist.Segments[index]], Path, _decoderThreads);
            _decoder.Dispose();
            _source.Dispose();
            (_source, _video, _decoder) = (source, video, decoder);
            _openSegment = index;
            _skipping = false;
        }

        _segmentStart = _playlist!.Starts[index];
        _segmentOrigin = long.MinValue;
    }

    /// <summary>
    /// Non-reference frames shown more than a frame before the target are never displayed and nothing predicts
    /// from them: let the decoder skip them (x264's B-frames, often a third of the frames decoded forward).
    /// The frame just before the target is always decoded: it is the answer when t lies inside the last frame.
    /// </summary>
    private void SkipUnshownFrames(double packetTime, double target)
    {
        var skip = !double.IsNaN(packetTime) && packetTime < target - FrameDuration - TimeEpsilon;
        if (skip != _skipping)
        {
            _decoder.SkipNonReferenceFrames(skip);
            _skipping = skip;
        }
    }

    private double FrameDuration
    {
        get
        {
            var fps = _video.EffectiveFrameRate.ToDouble();
            return fps > 0 ? 1 / fps : 0.04;
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
                return true;
            }
        }

        return false;
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
        _decoder.Dispose();
        _source.Dispose();
    }
}
