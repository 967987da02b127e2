namespace StreamServer.Transcode.Thumbnails;

/// <summary>An encoded thumbnail and its strong ETag (derived from the bytes, so it is stable across restarts).</summary>
public sealed class CachedThumbnail
{
    public CachedThumbnail(byte[] jpeg, int width, int height)
    {
        Jpeg = jpeg;
        Width = width;
        Height = height;
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(jpeg, hash);
        ETag = "\"" + Convert.ToHexStringLower(hash[..12]) + "\"";
    }

    public byte[] Jpeg { get; }

    public int Width { get; }

    public int Height { get; }

    public string ETag { get; }
}
