namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Composes tiles (already scaled to the layout's tile size, 4:2:0 full range) into sheets and writes each sheet
/// as soon as its last tile arrives, so memory holds one sheet, not the whole video. Files appear atomically
/// (written to a temporary name, then renamed). Tiles that never arrive stay black.
/// </summary>
public sealed class SpriteSheetBuilder : IDisposable
{
    private readonly SpriteLayout _layout;
    private readonly string _outputDir;
    private readonly JpegEncoder _encoder = new();
    private PinnedYuvImage? _canvas;
    private int _currentSheet = -1;
    private int _written;

    public SpriteSheetBuilder(SpriteLayout layout, string outputDir)
    {
        _layout = layout;
        _outputDir = outputDir;
        Directory.CreateDirectory(outputDir);
    }

    public SpriteLayout Layout => _layout;

    /// <summary>Sheets written so far.</summary>
    public int SheetsWritten => _written;

    /// <summary>Places tile <paramref name="index"/>; tiles must arrive in ascending order (gaps allowed).</summary>
    public void AddTile(int index, in YuvPlanes tile)
    {
        var t = _layout.Tile(index);
        if (tile.Width != t.Width || tile.Height != t.Height)
        {
            throw new ArgumentException($"tile is {tile.Width}x{tile.Height}, layout wants {t.Width}x{t.Height}", nameof(tile));
        }

        if (t.Sheet < _currentSheet)
        {
            throw new InvalidOperationException($"tile {index} arrived after its sheet was written");
        }

        while (_currentSheet < t.Sheet)
        {
            FlushCurrent();
            StartSheet(_currentSheet + 1);
        }

        _canvas!.Blit(tile, t.X, t.Y);
        if (index == Math.Min(_layout.TileCount, (t.Sheet + 1) * _layout.TilesPerSheet) - 1)
        {
            FlushCurrent();
        }
    }

    /// <summary>Writes the sheet in progress and any sheets no tile reached (black), so the VTT never points at a missing file.</summary>
    public void Finish()
    {
        FlushCurrent();
        while (_written < _layout.SheetCount)
        {
            StartSheet(_written);
            FlushCurrent();
        }
    }

    private void StartSheet(int sheet)
    {
        _currentSheet = sheet;
        var (w, h) = _layout.SheetSize(sheet);
        if (_canvas is null || _canvas.Width != w || _canvas.Height != h)
        {
            _canvas = new PinnedYuvImage(w, h);
        }

        _canvas.Clear();
    }

    private void FlushCurrent()
    {
        if (_canvas is null || _currentSheet < 0 || _currentSheet < _written)
        {
            return;
        }

        var jpeg = _encoder.Encode(_canvas.Planes, new JpegOptions(_layout.Options.Quality));
        AtomicFile.Write(Path.Combine(_outputDir, SpriteLayout.SheetFileName(_currentSheet)), jpeg);
        _written = _currentSheet + 1;
    }

    public void Dispose() => _encoder.Dispose();
}
