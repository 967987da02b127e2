namespace StreamServer.Ingest.Rtmp;

/// <summary>One reassembled RTMP message. The payload is rented from the shared ArrayPool; the receiver returns it.</summary>
internal readonly record struct RtmpMessage(byte TypeId, int StreamId, uint Timestamp, byte[] Buffer, int Length)
{
    public const byte SetChunkSize = 1;
    public const byte Abort = 2;
    public const byte Acknowledgement = 3;
    public const byte UserControl = 4;
    public const byte WindowAckSize = 5;
    public const byte SetPeerBandwidth = 6;
    public const byte Audio = 8;
    public const byte Video = 9;
    public const byte DataAmf0 = 18;
    public const byte CommandAmf0 = 20;

    public ReadOnlySpan<byte> Payload => Buffer.AsSpan(0, Length);
}
