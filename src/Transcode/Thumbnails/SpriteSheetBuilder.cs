namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Composes tiles (4:2:0 full range, tile size) into sheets and writes each full sheet as soon as its last tile
/// arrives, so memory holds one sheet, not the whole video. Zero-copy use: <see cref="BeginTile"/> hands out the
/// tile's region of the sheet (pointers + the sheet's strides), the caller scales the decoded frame straight into
/// it (<see cref="Media.Scaler.ScaleInto"/>) and calls <see cref="CommitTile"/>. <see cref="AddTile"/> copies a
/// picture that already exists elsewhere (counted in streamserver_transcode_frame_copy_bytes_total). The total tile count may be
/// unknown until the end (packaging learns the duration from the last frame): <see cref="Finish"/> takes the
/// final layout, writes the open sheet (cropped in place when it is the only one) and gives tiles that never
/// arrived the last picture (rendered again by the caller's callback, or copied from the sheet without one). Files appear atomically (temporary name, then rename).
/// </summary>
public sealed class SpriteSheetBuilder : IDisposable
{
    /// <summary>Spare bytes per canvas row: room for swscale's SIMD spill past the rightmost tile (see <see cref="PinnedYuvImage"/>).</summary>
    private const int CanvasRowPadding = 64;

    private readonly SpriteSheetOptions _options;
    private readonly string _outputDir;
    private readonly JpegEncoder _encoder = new();
    private readonly PinnedYuvImage _canvas;
    private readonly PinnedYuvImage _lastTile;
    private int _currentSheet = -1;
    private int _written;
    private int _nextTile;
    private int _openTile = -1;
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
        _canvas = new PinnedYuvImage(options.Columns * tileWidth, options.Rows * tileHeight, CanvasRowPadding);
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

    /// <summary>Copies <paramref name="tile"/> in as tile <paramref name="index"/> (ascending order; gaps stay black).</summary>
    public void AddTile(int index, in YuvPlanes tile)
    {
        if (tile.Width != TileWidth || tile.Height != TileHeight)
        {
            throw new ArgumentException($"tile is {tile.Width}x{tile.Height}, sprites want {TileWidth}x{TileHeight}", nameof(tile));
        }

        BeginTile(index);
        var inSheet = index % TilesPerSheet;
        _canvas.Blit(tile, inSheet % _options.Columns * TileWidth, inSheet / _options.Columns * TileHeight);
        CommitTile();
    }

    /// <summary>
    /// The region of the sheet where tile <paramref name="index"/> goes (tiles in ascending order; gaps stay black),
    /// valid until <see cref="CommitTile"/>: write the picture there (e.g. <see cref="Media.Scaler.ScaleInto"/>
    /// with these pointers and strides), then commit. Writes nothing itself.
    /// </summary>
    public YuvPlanes BeginTile(int index)
    {
        if (_openTile >= 0)
        {
            throw new InvalidOperationException($"tile {_openTile} was begun and not committed");
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

        _openTile = index;
        var inSheet = index % TilesPerSheet;
        return _canvas.Region(inSheet % _options.Columns * TileWidth, inSheet / _options.Columns * TileHeight, TileWidth, TileHeight);
    }

    /// <summary>Marks the tile from <see cref="BeginTile"/> as written; a full sheet goes to disk now.</summary>
    public void CommitTile()
    {
        var index = _openTile;
        if (index < 0)
        {
            throw new InvalidOperationException("no tile was begun");
        }

        _openTile = -1;
        _haveTile = true;
        _nextTile = index + 1;
        if (index % TilesPerSheet == TilesPerSheet - 1)
        {
            FlushCurrent(null);
        }
    }

    /// <summary>
    /// Writes what is left for the final <paramref name="layout"/> (same options and tile size). Tiles that never
    /// arrived show the last picture: <paramref name="repeatLast"/> renders it into each one (zero-copy callers
    /// scale the last frame again); without it, the last tile is copied from the sheet.
    /// </summary>
    public void Finish(SpriteLayout layout, TileRenderer? repeatLast = null)
    {
        if (_openTile >= 0)
        {
            throw new InvalidOperationException($"tile {_openTile} was begun and not committed");
        }

        if (layout.TileWidth != TileWidth || layout.TileHeight != TileHeight || layout.TilesPerSheet != TilesPerSheet)
        {
            throw new ArgumentException("final layout does not match the tiles built", nameof(layout));
        }

        Layout = layout;
        if (_haveTile && _nextTile < layout.TileCount && repeatLast is not null)
        {
            for (var i = _nextTile; i < layout.TileCount; i++)
            {
                repeatLast(BeginTile(i));
                CommitTile();
            }
        }
        else if (_haveTile && _nextTile < layout.TileCount)
        {
            // Tiles past the last decoded frame (audio longer than video, a short tail) repeat the last picture.
            // It is still on the canvas (only a later tile starts a new sheet): one copy out of it, because the
            // repeats may start a new sheet and clear the canvas. Not kept per tile, which would copy every tile twice.
            var lastInSheet = (_nextTile - 1) % TilesPerSheet;
            _lastTile.Blit(_canvas.Region(lastInSheet % _options.Columns * TileWidth, lastInSheet / _options.Columns * TileHeight, TileWidth, TileHeight), 0, 0);
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
