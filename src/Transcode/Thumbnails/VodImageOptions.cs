namespace StreamServer.Transcode.Thumbnails;

/// <summary>What packaging writes next to the renditions: poster.jpg, thumbnails.vtt and sprite sheets.</summary>
public sealed record VodImageOptions
{
    public PosterOptions Poster { get; init; } = new();

    public SpriteSheetOptions Sprites { get; init; } = new();

    public bool WriteSprites { get; init; } = true;

    public const string PosterFileName = "poster.jpg";
    public const string ThumbnailTrackFileName = "thumbnails.vtt";
}
