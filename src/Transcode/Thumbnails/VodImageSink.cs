using System.Globalization;
using System.Xml;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Makes poster.jpg, the sprite sheets and thumbnails.vtt from the frames the packager already decodes (no
/// second decode pass). Sprite tiles: the first frame at or after each tile time is scaled (swscale, full
/// range) straight into its tile's region of the sheet (the sheet's strides as destination linesizes), so no tile
/// buffer exists and no pixel is copied; tiles after the last video frame scale that frame again (held by
/// reference until the end). Poster: candidates are scored on the decoder's own luma plane and the
/// winner is kept by reference (av_frame_ref, no pixel copy) until the end, then scaled and encoded once.
/// Runs on the decode thread; per frame it costs a timestamp comparison unless a tile or candidate is due.
/// </summary>
public sealed class VodImageSink : IDecodedFrameSink, IPackagingOutputSink, IDisposable
{
    private readonly VodImageOptions _options;
    private readonly FrameHandle _posterFrame = new();
    private readonly FrameHandle _scaled = new();
    private readonly FrameHandle _lastTileFrame = new();
    private readonly TileRenderer _repeatLastTile;
    private string? _outputDir;
    private double _sourceDuration;
    private MediaStreamInfo? _video;
    private SpriteSheetBuilder? _sprites;
    private PosterPicker? _picker;
    private Scaler? _tileScaler;
    private (int Width, int Height, int Format, bool Full) _tileScalerSource;
    private JpegEncoder? _encoder;
    private double _lastTime = double.NaN;
    private double _frameDuration = 0.04;
    private bool _directScoring;
    private long _spriteBytes;
    private bool _posterWritten;

    public VodImageSink(VodImageOptions? options = null)
    {
        _options = options ?? new VodImageOptions();
        _options.Sprites.Validate();
        _repeatLastTile = RepeatLastTile;
    }

    /// <summary>The final sprite layout, once <see cref="Complete"/> ran.</summary>
    public SpriteLayout? Layout { get; private set; }

    /// <summary>Time of the frame used for the poster (NaN when there was none).</summary>
    public double PosterTime => _picker?.BestTime ?? double.NaN;

    public void Begin(string outputDirectory, TimeSpan sourceDuration)
    {
        _outputDir = outputDirectory;
        _sourceDuration = sourceDuration.TotalSeconds;
    }

    public void Start(MediaStreamInfo videoStream)
    {
        if (_outputDir is null)
        {
            throw new InvalidOperationException("Begin (output folder) must come before Start");
        }

        _video = videoStream;
        var fps = videoStream.EffectiveFrameRate.ToDouble();
        _frameDuration = fps > 0 ? 1 / fps : 0.04;
        var duration = _sourceDuration > 0 ? _sourceDuration : StreamDuration(videoStream);
        _picker = new PosterPicker(_options.Poster, duration);
        var (depth, _, _, isRgb) = PixelFormats.Describe(videoStream.PixelFormat);
        _directScoring = depth == 8 && !isRgb;
        if (_options.WriteSprites)
        {
            var tileHeight = SpriteLayout.ScaledHeight(_options.Sprites.TileWidth, videoStream.Width, videoStream.Height, Sar(videoStream));
            _sprites = new SpriteSheetBuilder(_options.Sprites, _options.Sprites.TileWidth, tileHeight, _outputDir);
        }
    }

    public unsafe void OnFrame(FrameHandle frame, TimeSpan time)
    {
        var t = time.TotalSeconds;
        _lastTime = t;
        var half = _frameDuration / 2;
        var scaledForThisFrame = false;
        if (_sprites is not null)
        {
            var interval = _options.Sprites.IntervalSeconds;
            var tiled = false;
            while (_sprites.NextTile * interval <= t + half && (_sourceDuration <= 0 || _sprites.NextTile * interval < _sourceDuration))
            {
                ScaleIntoTile(frame, _sprites.BeginTile(_sprites.NextTile));
                _sprites.CommitTile();
                tiled = true;
            }

            if (tiled)
            {
                // A reference (no copy) in case tiles after the last video frame must repeat it. Holds one decoder
                // buffer; released when the next tile's frame replaces it, and at Complete.
                _lastTileFrame.RefFrom(frame);
            }
        }

        if (_picker is not null && _picker.Wants(t))
        {
            FrameScore score;
            if (_directScoring)
            {
                var (y, ys) = frame.Plane(0);
                score = FrameScore.Measure(new YuvPlanes((byte*)y, ys, null, 0, null, 0, frame.Width, frame.Height, ChromaSubsampling.Gray));
            }
            else
            {
                if (!scaledForThisFrame)
                {
                    ScaleToTile(frame);
                    scaledForThisFrame = true;
                }

                score = FrameScore.Measure(Planes(_scaled, _tileScaler!.Width, _tileScaler.Height));
            }

            if (_picker.Consider(t, score))
            {
                _posterFrame.RefFrom(frame); // holds the decoder's buffer, no copy
            }
        }

        if (_picker is not null && !_posterWritten && _picker.IsDone && !double.IsNaN(_picker.BestTime))
        {
            // Search over: write now and give the held frame back to the pool instead of keeping it to the end.
            WritePoster();
        }

        if (scaledForThisFrame)
        {
            _scaled.Unref();
        }
    }

    public void Complete()
    {
        if (_outputDir is null || _video is null)
        {
            return;
        }

        var duration = _sourceDuration > 0 ? _sourceDuration : double.IsNaN(_lastTime) ? 0 : _lastTime + _frameDuration;
        if (!_posterWritten && !double.IsNaN(PosterTime))
        {
            WritePoster();
        }

        if (_sprites is not null && duration > 0)
        {
            var layout = new SpriteLayout(_options.Sprites, duration, _video.Width, _video.Height, Sar(_video));
            _sprites.Finish(layout, _repeatLastTile);
            AtomicFile.WriteText(Path.Combine(_outputDir, VodImageOptions.ThumbnailTrackFileName), WebVttThumbnailWriter.Write(layout));
            for (var i = 0; i < layout.SheetCount; i++)
            {
                _spriteBytes += new FileInfo(Path.Combine(_outputDir, SpriteLayout.SheetFileName(i))).Length;
            }

            Layout = layout;
        }

        _lastTileFrame.Unref();
    }

    /// <summary>DASH-IF thumbnail tiles (IOP 4.3 §6.2.6): one "segment" per sheet, grid in an EssentialProperty.</summary>
    public void WriteDashAdaptationSets(XmlWriter x)
    {
        if (Layout is not { } layout)
        {
            return;
        }

        var (cols, rows) = layout.SheetGrid;
        var (w, h) = layout.SheetSize(0);
        var sheetMs = (long)Math.Round(cols * rows * layout.Options.IntervalSeconds * 1000);
        var bandwidth = Math.Max(1, (long)Math.Ceiling(_spriteBytes * 8 / layout.DurationSeconds));
        x.WriteStartElement("AdaptationSet");
        x.WriteAttributeString("id", "100");
        x.WriteAttributeString("contentType", "image");
        x.WriteAttributeString("mimeType", "image/jpeg");
        x.WriteStartElement("SegmentTemplate");
        x.WriteAttributeString("media", "sprite_$Number%03d$.jpg");
        x.WriteAttributeString("timescale", "1000");
        x.WriteAttributeString("duration", Inv(sheetMs));
        x.WriteAttributeString("startNumber", "0");
        x.WriteEndElement();
        x.WriteStartElement("Representation");
        x.WriteAttributeString("id", "thumbnails");
        x.WriteAttributeString("bandwidth", Inv(bandwidth));
        x.WriteAttributeString("width", Inv(w));
        x.WriteAttributeString("height", Inv(h));
        x.WriteStartElement("EssentialProperty");
        x.WriteAttributeString("schemeIdUri", "http://dashif.org/thumbnail_tile");
        x.WriteAttributeString("value", string.Create(CultureInfo.InvariantCulture, $"{cols}x{rows}"));
        x.WriteEndElement();
        x.WriteEndElement();
        x.WriteEndElement();
    }

    private void WritePoster()
    {
        var src = _posterFrame;
        var maxWidth = _options.Poster.MaxWidth > 0 ? Math.Min(_options.Poster.MaxWidth, src.Width) : src.Width;
        var width = Math.Max(16, maxWidth & ~1);
        var height = SpriteLayout.ScaledHeight(width, src.Width, src.Height, Sar(_video!));
        using var scaler = new Scaler(src.Width, src.Height, src.PixelFormat, width, height, PixelFormats.Yuv420P, AlignedFrameMemory.Shared,
            quality: ScaleQuality.Lanczos, sourceFullRange: src.IsFullRange, destinationFullRange: true);
        using var poster = new FrameHandle();
        scaler.Scale(src, poster);
        _encoder ??= new JpegEncoder();
        var jpeg = _encoder.Encode(Planes(poster, width, height), new JpegOptions(_options.Poster.Quality, Progressive: _options.Poster.Progressive));
        AtomicFile.Write(Path.Combine(_outputDir!, VodImageOptions.PosterFileName), jpeg);
        _posterFrame.Unref();
        _posterWritten = true;
    }

    private void RepeatLastTile(in YuvPlanes destination) => ScaleIntoTile(_lastTileFrame, destination);

    private unsafe void ScaleIntoTile(FrameHandle frame, in YuvPlanes tile)
    {
        EnsureTileScaler(frame);
        _tileScaler!.ScaleInto(frame, tile.Y, tile.YStride, tile.U, tile.UStride, tile.V, tile.VStride);
    }

    private void ScaleToTile(FrameHandle frame)
    {
        EnsureTileScaler(frame);
        _tileScaler!.Scale(frame, _scaled);
    }

    private void EnsureTileScaler(FrameHandle frame)
    {
        var source = (frame.Width, frame.Height, frame.PixelFormat, frame.IsFullRange);
        if (_tileScaler is null || _tileScalerSource != source)
        {
            _tileScaler?.Dispose();
            var tw = _options.Sprites.TileWidth;
            var th = SpriteLayout.ScaledHeight(tw, frame.Width, frame.Height, Sar(_video!));
            _tileScaler = new Scaler(frame.Width, frame.Height, frame.PixelFormat, tw, th, PixelFormats.Yuv420P, AlignedFrameMemory.Shared,
                quality: ScaleQuality.Bicubic, sourceFullRange: source.IsFullRange, destinationFullRange: true);
            _tileScalerSource = source;
        }
    }

    private static unsafe YuvPlanes Planes(FrameHandle f, int width, int height)
    {
        var (y, ys) = f.Plane(0);
        var (u, us) = f.Plane(1);
        var (v, vs) = f.Plane(2);
        return new YuvPlanes((byte*)y, ys, (byte*)u, us, (byte*)v, vs, width, height, ChromaSubsampling.Yuv420);
    }

    private static double Sar(MediaStreamInfo v) => v.SampleAspectRatio.IsValid ? v.SampleAspectRatio.ToDouble() : 1;

    private static double StreamDuration(MediaStreamInfo v) =>
        v.Duration is > 0 and < long.MaxValue && v.TimeBase.IsValid ? v.Duration * v.TimeBase.ToDouble() : 0;

    private static string Inv(long v) => v.ToString(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        _sprites?.Dispose();
        _tileScaler?.Dispose();
        _encoder?.Dispose();
        _posterFrame.Dispose();
        _lastTileFrame.Dispose();
        _scaled.Dispose();
    }
}
