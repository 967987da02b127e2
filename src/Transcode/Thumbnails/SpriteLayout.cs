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

    /// <summary>Pixel size of a sheet: full grid width, and only the rows that hold tiles.</summary>
    public (int Width, int Height) SheetSize(int sheet)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sheet);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(sheet, SheetCount);
        var tiles = Math.Min(TilesPerSheet, TileCount - (sheet * TilesPerSheet));
        var rows = (tiles + Options.Columns - 1) / Options.Columns;
        var cols = rows > 1 ? Options.Columns : tiles;
        return (cols * TileWidth, rows * TileHeight);
    }

    public static string SheetFileName(int sheet) => string.Create(CultureInfo.InvariantCulture, $"sprite_{sheet:000}.jpg");

    /// <summary>Height for a width with the display aspect kept, rounded to even (like ffmpeg's scale=w:-2).</summary>
    public static int ScaledHeight(int width, int sourceWidth, int sourceHeight, double sampleAspectRatio = 1)
    {
        var sar = sampleAspectRatio > 0 && !double.IsInfinity(sampleAspectRatio) ? sampleAspectRatio : 1;
        var h = (int)Math.Round(width * sourceHeight / (sourceWidth * sar) / 2) * 2;
        return Math.Max(2, h);
    }
}
