namespace StreamServer.Ingest.Rtmp;

/// <summary>The peer broke the protocol or a limit; the message is the disconnect reason that gets logged.</summary>
internal sealed class RtmpProtocolException(string message) : Exception(message);
