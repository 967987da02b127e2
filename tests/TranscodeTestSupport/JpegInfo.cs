using StreamServer.Transcode.Thumbnails;

namespace StreamServer.TranscodeTestSupport;

/// <summary>What a JPEG header says: size and chroma subsampling.</summary>
public readonly record struct JpegInfo(int Width, int Height, ChromaSubsampling Subsampling);
