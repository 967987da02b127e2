using System.Buffers;

namespace StreamServer.Ingest.Rtmp;

/// <summary>
/// The receive side of the RTMP chunk stream: basic header (1-3 bytes), message header (types 0-3), extended
/// timestamp, payload in chunks of the peer's chunk size, reassembled per chunk stream. Nothing from the wire is
/// trusted: the chunk size must be 1..<see cref="MaxChunkSize"/>, a message at most <see cref="MaxMessageBytes"/> (a
/// keyframe of a high-bitrate 4K stream fits), messages being reassembled at most <see cref="MaxPendingBytes"/> together,
/// at most <see cref="MaxChunkStreams"/> chunk streams; a violation is an <see cref="RtmpProtocolException"/> naming it.
/// </summary>
internal sealed class RtmpChunkReader : IDisposable
{
    public const int MaxChunkSize = 16 * 1024 * 1024;
    public const int MaxMessageBytes = 8 * 1024 * 1024;

    /// <summary>Bytes of messages still being reassembled, over every chunk stream (each holds a buffer of its full length).</summary>
    public const int MaxPendingBytes = 16 * 1024 * 1024;
    public const int MaxChunkStreams = 64;

    private readonly Dictionary<int, ChunkStream> _streams = [];
    private int _chunkSize = 128;
    private long _pending;

    /// <summary>Bytes received in total (for acknowledgements and the ingest bitrate).</summary>
    public long BytesReceived { get; private set; }

    /// <summary>Applies the peer's Set Chunk Size (RTMP 5.4.1: 31 bits, we allow 1..16 MiB).</summary>
    public void SetChunkSize(uint size)
    {
        if (size is 0 or > MaxChunkSize)
        {
            throw new RtmpProtocolException($"chunk size {size} out of range (1..{MaxChunkSize})");
        }

        _chunkSize = (int)size;
    }

    /// <summary>
    /// Reads chunks from <paramref name="buffer"/> until one completes a message (true) or more bytes are needed
    /// (false). Either way <paramref name="consumed"/> is where the next call starts: whole chunks already read are
    /// part of the reader's state and must not be offered again.
    /// </summary>
    public bool TryRead(in ReadOnlySequence<byte> buffer, out SequencePosition consumed, out RtmpMessage message)
    {
        var reader = new SequenceReader<byte>(buffer);
        consumed = buffer.Start;
        message = default;
        while (true)
        {
            var start = reader.Consumed;
            if (!TryReadChunk(ref reader, out var completed))
            {
                return false;
            }

            BytesReceived += reader.Consumed - start;
            consumed = reader.Position;
            if (completed is { } m)
            {
                message = m;
                return true;
            }
        }
    }

    private bool TryReadChunk(ref SequenceReader<byte> reader, out RtmpMessage? completed)
    {
        completed = null;
        var rewind = reader.Consumed;
        if (!reader.TryRead(out var first))
        {
            return false;
        }

        var fmt = first >> 6;
        int csid = first & 0x3f;
        if (csid == 0)
        {
            if (!reader.TryRead(out var b))
            {
                return Rewind(ref reader, rewind);
            }

            csid = 64 + b;
        }
        else if (csid == 1)
        {
            if (!reader.TryRead(out var b0) || !reader.TryRead(out var b1))
            {
                return Rewind(ref reader, rewind);
            }

            csid = 64 + b0 + (b1 << 8);
        }

        if (!_streams.TryGetValue(csid, out var cs))
        {
            if (fmt != 0)
            {
                throw new RtmpProtocolException($"chunk stream {csid} starts with a type {fmt} header (needs type 0)");
            }

            if (_streams.Count >= MaxChunkStreams)
            {
                throw new RtmpProtocolException($"more than {MaxChunkStreams} chunk streams");
            }

            cs = new ChunkStream();
        }

        var headerBytes = fmt switch { 0 => 11, 1 => 7, 2 => 3, _ => 0 };
        Span<byte> header = stackalloc byte[11];
        if (headerBytes > 0 && !reader.TryCopyTo(header[..headerBytes]))
        {
            return Rewind(ref reader, rewind);
        }

        reader.Advance(headerBytes);
        var startsMessage = cs.Received == 0;
        uint timestampField = cs.TimestampField;
        if (fmt <= 2)
        {
            timestampField = (uint)((header[0] << 16) | (header[1] << 8) | header[2]);
        }

        int length = cs.Length;
        byte type = cs.TypeId;
        int streamId = cs.StreamId;
        if (fmt <= 1)
        {
            length = (header[3] << 16) | (header[4] << 8) | header[5];
            type = header[6];
            if (length > MaxMessageBytes)
            {
                throw new RtmpProtocolException($"message of {length} bytes on chunk stream {csid} (limit {MaxMessageBytes})");
            }
        }

        if (fmt == 0)
        {
            streamId = header[7] | (header[8] << 8) | (header[9] << 16) | (header[10] << 24); // little-endian (RTMP 5.3.1.2.1)
        }

        if (!startsMessage && fmt != 3)
        {
            throw new RtmpProtocolException($"chunk stream {csid}: a new message header in the middle of a message");
        }

        // Extended timestamp (RTMP 5.3.1.3): present whenever the 24-bit field is 0xFFFFFF, continuation chunks included.
        var extended = fmt == 3 ? cs.Extended : timestampField == 0xFFFFFF;
        uint timestampValue = timestampField;
        if (extended)
        {
            if (!reader.TryReadBigEndian(out int ext))
            {
                return Rewind(ref reader, rewind);
            }

            timestampValue = (uint)ext;
        }

        var remaining = length - cs.Received;
        var take = Math.Min(_chunkSize, remaining);
        if (reader.Remaining < take)
        {
            return Rewind(ref reader, rewind);
        }

        // Everything of this chunk is here: commit the header to the stream's state.
        if (startsMessage)
        {
            cs.TimestampField = timestampField;
            cs.Extended = extended;
            cs.Length = length;
            cs.TypeId = type;
            cs.StreamId = streamId;
            switch (fmt)
            {
                case 0:
                    cs.Timestamp = timestampValue;
                    cs.Delta = 0;
                    break;
                case 1 or 2:
                    cs.Delta = timestampValue;
                    cs.Timestamp += timestampValue;
                    break;
                default:
                    cs.Timestamp += cs.Delta; // a type 3 chunk starting a message repeats the previous delta
                    break;
            }

            if (_pending + length > MaxPendingBytes)
            {
                throw new RtmpProtocolException($"{_pending + length} bytes of messages in reassembly (limit {MaxPendingBytes})");
            }

            _pending += length;
            cs.Buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        }

        _streams[csid] = cs;
        reader.TryCopyTo(cs.Buffer.AsSpan(cs.Received, take));
        reader.Advance(take);
        cs.Received += take;
        if (cs.Received == cs.Length)
        {
            _pending -= cs.Length;
            completed = new RtmpMessage(cs.TypeId, cs.StreamId, cs.Timestamp, cs.Buffer, cs.Length);
            cs.Buffer = [];
            cs.Received = 0;
        }

        return true;
    }

    private static bool Rewind(ref SequenceReader<byte> reader, long to)
    {
        reader.Rewind(reader.Consumed - to);
        return false;
    }

    public void Dispose()
    {
        foreach (var cs in _streams.Values)
        {
            if (cs.Buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(cs.Buffer);
            }
        }

        _streams.Clear();
    }

    private sealed class ChunkStream
    {
        public uint TimestampField;
        public bool Extended;
        public uint Timestamp;
        public uint Delta;
        public int Length;
        public byte TypeId;
        public int StreamId;
        public byte[] Buffer = [];
        public int Received;
    }
}
