namespace StreamServer.Transcode.Thumbnails;

/// <summary>A TurboJPEG call failed; the message carries the operation and libturbojpeg's own text.</summary>
public sealed class JpegException(string message) : Exception(message);
