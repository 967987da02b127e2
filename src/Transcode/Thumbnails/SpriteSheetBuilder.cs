namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Composes tiles (already scaled to the tile size, 4:2:0 full range) into sheets and writes each full sheet as
/// soon as its last tile arrives, so memory holds one sheet, not the whole video. The total tile count may be
/// unknown until the end (packaging learns the duration from the last frame): <see cref="Finish"/> takes the
/// final layout, writes the open sheet (cropped in place when it is the only one) and gives tiles that never
/// arrived the last tile seen. Files appear atomically (temporary name, then rename).
/// </summary>
public sealed class SpriteSheetBuilder : IDisposable
{
    private readonly SpriteSheetOptions _options;
    private readonly string _outputDir;
    private readonly JpegEncoder _encoder = new();
    private readonly PinnedYuvImage _canvas;
    private readonly PinnedYuvImage _lastTile;
    private int _currentSheet = -1;
    private int _written;
    private int _nextTile;
    private bool _haveTile;

    public SpriteSheetBuilder(SpriteSheetOptions options, int tileWidth, int tileHeight, string outputDir)
    {
        options.Validate();
        if ((tileWidth & 1) != 0 || (tileHeight & 1) != 0 || tileWidth < 2 || tileHeight < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(tileWidth), $"{tileWidth}x{tileHeight}", "tile sizes must be even");
        }

        _options = options;
        _outputDir = outputDir;
        TileWidth = tileWidth;
        TileHeight = tileHeight;
        _canvas = new PinnedYuvImage(options.Columns * tileWidth, options.Rows * tileHeight);
        _lastTile = new PinnedYuvImage(tileWidth, tileHeight);
        Directory.CreateDirectory(outputDir);
    }

    public SpriteLayout? Layout { get; private set; }

    public int TileWidth { get; }

    public int TileHeight { get; }

    /// <summary>Index of the next tile wanted (tiles arrive in ascending order).</summary>
    public int NextTile => _nextTile;

    /// <summary>Sheets written so far.</summary>
    public int SheetsWritten => _written;

    private int TilesPerSheet => _options.Columns * _options.Rows;

    /// <summary>Places tile <paramref name="index"/>; tiles must arrive in ascending order (gaps stay black).</summary>
    public void AddTile(int index, in YuvPlanes tile)
    {
        if (tile.Width != TileWidth || tile.Height != TileHeight)
        {
            throw new ArgumentException($"tile is {tile.Width}x{tile.Height}, sprites want {TileWidth}x{TileHeight}", nameof(tile));
        }

        if (index < _nextTile)
        {
            throw new InvalidOperationException($"tile {index} arrived after tile {_nextTile - 1}");
        }

        var sheet = index / TilesPerSheet;
        while (_currentSheet < sheet)
        {
            FlushCurrent(null);
            StartSheet(_currentSheet + 1);
        }

        var inSheet = index % TilesPerSheet;
        _canvas.Blit(tile, inSheet % _options.Columns * TileWidth, inSheet / _options.Columns * TileHeight);
        _lastTile.Blit(tile, 0, 0);
        _haveTile = true;
        _nextTile = index + 1;
        if (inSheet == TilesPerSheet - 1)
        {
            FlushCurrent(null);
        }
    }

    /// <summary>Writes what is left for the final <paramref name="layout"/> (same options and tile size).</summary>
    public void Finish(SpriteLayout layout)
    {
        if (layout.TileWidth != TileWidth || layout.TileHeight != TileHeight || layout.TilesPerSheet != TilesPerSheet)
        {
            throw new ArgumentException("final layout does not match the tiles built", nameof(layout));
        }

        Layout = layout;
        if (_haveTile)
        {
            // Tiles past the last decoded frame (audio longer than video, a short tail) repeat the last picture.
            var last = _lastTile.Planes;
            for (var i = _nextTile; i < layout.TileCount; i++)
            {
                AddTile(i, last);
            }
        }

        if (_currentSheet < 0 && layout.SheetCount > 0)
        {
            StartSheet(0);
        }

        FlushCurrent(layout);
        while (_written < layout.SheetCount)
        {
            StartSheet(_written);
            FlushCurrent(layout);
        }
    }

    private void StartSheet(int sheet)
    {
        _currentSheet = sheet;
        _canvas.Clear();
    }

    private unsafe void FlushCurrent(SpriteLayout? layout)
    {
        if (_currentSheet < 0 || _currentSheet < _written || (layout is not null && _currentSheet >= layout.SheetCount))
        {
            return;
        }

        var planes = _canvas.Planes;
        if (layout is not null)
        {
            // Crop in place: same strides, smaller width/height; no copy.
            var (w, h) = layout.SheetSize(_currentSheet);
            planes = new YuvPlanes(planes.Y, planes.YStride, planes.U, planes.UStride, planes.V, planes.VStride, w, h, planes.Subsampling);
        }

        var jpeg = _encoder.Encode(planes, new JpegOptions(_options.Quality));
        AtomicFile.Write(Path.Combine(_outputDir, SpriteLayout.SheetFileName(_currentSheet)), jpeg);
        _written = _currentSheet + 1;
    }

    public void Dispose() => _encoder.Dispose();
}
