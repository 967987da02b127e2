namespace StreamServer.Transcode.Thumbnails;

/// <summary>One scrub-preview tile: which sheet, where in it, and the time span it stands for.</summary>
public readonly record struct SpriteTile(int Index, int Sheet, int X, int Y, int Width, int Height, double Start, double End)
{
    public string SheetFileName => SpriteLayout.SheetFileName(Sheet);
}
