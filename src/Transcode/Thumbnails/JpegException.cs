namespace StreamServer.Transcode.Thumbnails;

/// <summary>A JPEG encode or decode failed; the message carries the operation and the library's own text.</summary>
public sealed class JpegException(string message) : Exception(message);
