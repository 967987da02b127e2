namespace StreamServer.Transcode.Thumbnails;

/// <summary>Scrub-preview sprites: one tile every <see cref="IntervalSeconds"/>, Columns x Rows tiles per sheet.</summary>
public sealed record SpriteSheetOptions
{
    public double IntervalSeconds { get; init; } = 5;

    /// <summary>Tile width in pixels; the height follows the display aspect ratio, rounded to even.</summary>
    public int TileWidth { get; init; } = 160;

    public int Columns { get; init; } = 10;

    public int Rows { get; init; } = 10;

    public int Quality { get; init; } = 70;

    public void Validate()
    {
        if (!(IntervalSeconds > 0) || double.IsInfinity(IntervalSeconds))
        {
            throw new ArgumentOutOfRangeException(nameof(IntervalSeconds), IntervalSeconds, "sprite interval must be > 0 seconds");
        }

        if (TileWidth is < 16 or > 3840 || (TileWidth & 1) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(TileWidth), TileWidth, "tile width must be even and 16-3840");
        }

        if (Columns is < 1 or > 64 || Rows is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(Columns), $"{Columns}x{Rows}", "sprite grid must be 1-64 tiles per side");
        }

        if (Quality is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(Quality), Quality, "quality must be 1-100");
        }
    }
}
