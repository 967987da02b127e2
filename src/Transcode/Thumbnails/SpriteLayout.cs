using System.Globalization;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// Where every tile of a video goes: tile i shows time i * interval and covers [i * interval, min((i + 1) *
/// interval, duration)); sheets fill row by row; the last sheet is only as tall as its used rows.
/// Pure arithmetic, so the WebVTT track can be checked without decoding anything.
/// </summary>
public sealed class SpriteLayout
{
    public SpriteLayout(SpriteSheetOptions options, double durationSeconds, int sourceWidth, int sourceHeight,
        double sampleAspectRatio = 1)
    {
        options.Validate();
        if (!(durationSeconds > 0) || double.IsInfinity(durationSeconds))
        {
            throw new ArgumentOutOfRangeException(nameof(durationSeconds), durationSeconds, "duration must be > 0");
        }

        if (sourceWidth < 1 || sourceHeight < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(sourceWidth), $"{sourceWidth}x{sourceHeight}", "empty source picture");
        }

        Options = options;
        DurationSeconds = durationSeconds;
        TileWidth = options.TileWidth;
        TileHeight = ScaledHeight(options.TileWidth, sourceWidth, sourceHeight, sampleAspectRatio);
        // Ceiling with a small tolerance so 10.0000001 s at 5 s intervals does not add a 0-length tile.
        TileCount = Math.Max(1, (int)Math.Ceiling((durationSeconds / options.IntervalSeconds) - 1e-6));
        TilesPerSheet = options.Columns * options.Rows;
        SheetCount = (TileCount + TilesPerSheet - 1) / TilesPerSheet;
    }

    public SpriteSheetOptions Options { get; }

    public double DurationSeconds { get; }

    public int TileWidth { get; }

    public int TileHeight { get; }

    public int TileCount { get; }

    public int TilesPerSheet { get; }

    public int SheetCount { get; }

    /// <summary>Presentation time (seconds from the start) the tile should show.</summary>
    public double TileTime(int index) => index * Options.IntervalSeconds;

    public SpriteTile Tile(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, TileCount);
        var sheet = index / TilesPerSheet;
        var inSheet = index % TilesPerSheet;
        var start = index * Options.IntervalSeconds;
        var end = index == TileCount - 1 ? DurationSeconds : Math.Min(DurationSeconds, (index + 1) * Options.IntervalSeconds);
        return new SpriteTile(index, sheet, (inSheet % Options.Columns) * TileWidth, (inSheet / Options.Columns) * TileHeight,
            TileWidth, TileHeight, start, end);
    }

    /// <summary>
    /// Pixel size of a sheet. Every sheet of a multi-sheet video has the full grid size (DASH thumbnail tiles
    /// describe one size for all); a single sheet shrinks to the columns and rows its tiles use.
    /// </summary>
    public (int Width, int Height) SheetSize(int sheet)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sheet);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(sheet, SheetCount);
        var (cols, rows) = SheetGrid;
        return (cols * TileWidth, rows * TileHeight);
    }

    /// <summary>Columns x rows of every sheet (see <see cref="SheetSize"/>).</summary>
    public (int Columns, int Rows) SheetGrid => SheetCount > 1
        ? (Options.Columns, Options.Rows)
        : (Math.Min(TileCount, Options.Columns), (TileCount + Options.Columns - 1) / Options.Columns);

    public static string SheetFileName(int sheet) => string.Create(CultureInfo.InvariantCulture, $"sprite_{sheet:000}.jpg");

    /// <summary>Height for a width with the display aspect kept, rounded to even (like ffmpeg's scale=w:-2).</summary>
    public static int ScaledHeight(int width, int sourceWidth, int sourceHeight, double sampleAspectRatio = 1)
    {
        var sar = sampleAspectRatio > 0 && !double.IsInfinity(sampleAspectRatio) ? sampleAspectRatio : 1;
        var h = (int)Math.Round(width * sourceHeight / (sourceWidth * sar) / 2) * 2;
        return Math.Max(2, h);
    }
}
