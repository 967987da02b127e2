namespace StreamServer.Transcode.Thumbnails;

/// <summary>Writes one tile's picture into <paramref name="destination"/> (a region of the sprite sheet).</summary>
public delegate void TileRenderer(in YuvPlanes destination);
