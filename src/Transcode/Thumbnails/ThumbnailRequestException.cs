namespace StreamServer.Transcode.Thumbnails;

/// <summary>A thumbnail request that cannot be served as asked (e.g. t past the end); the message is one line for the client.</summary>
public sealed class ThumbnailRequestException(string message) : Exception(message);
