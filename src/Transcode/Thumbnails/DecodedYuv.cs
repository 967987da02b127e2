namespace StreamServer.Transcode.Thumbnails;

/// <summary>A decoded JPEG as tightly packed managed planes.</summary>
public sealed record DecodedYuv(JpegInfo Info, byte[] Y, byte[] U, byte[] V, int ChromaWidth, int ChromaHeight);
