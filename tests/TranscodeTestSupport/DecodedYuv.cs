using StreamServer.Transcode.Thumbnails;

namespace StreamServer.TranscodeTestSupport;

/// <summary>A decoded JPEG as tightly packed managed planes.</summary>
public sealed record DecodedYuv(JpegInfo Info, byte[] Y, byte[] U, byte[] V, int ChromaWidth, int ChromaHeight);
