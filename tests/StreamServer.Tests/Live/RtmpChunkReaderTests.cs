using System.Buffers;
using StreamServer.Ingest.Rtmp;

namespace StreamServer.Tests.Live;

/// <summary>Chunk reassembly: split anywhere, interleaved chunk streams, type 1-3 headers, extended timestamps.</summary>
public class RtmpChunkReaderTests
{
    [Fact]
    public void Messages_split_at_every_byte_and_interleaved_reassemble_exactly()
    {
        var video = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        var audio = Enumerable.Range(0, 10).Select(i => (byte)(100 + i)).ToArray();
        var wire = new List<byte>();
        // Video (csid 6, 300 bytes, chunk size 128): type 0 header, then type 3 continuations, with an audio message
        // (csid 4) between its chunks; then a second video message with a type 1 header (delta 40).
        wire.AddRange([0x06, 0, 0, 100, 0, 1, 44, 9, 1, 0, 0, 0, .. video[..128]]);
        wire.AddRange([0x04, 0, 0, 90, 0, 0, 10, 8, 1, 0, 0, 0, .. audio]);
        wire.AddRange([0xC6, .. video[128..256]]);
        wire.AddRange([0xC6, .. video[256..]]);
        wire.AddRange([0x46, 0, 0, 40, 0, 0, 3, 9, 7, 8, 9]);
        // Extended timestamp (0xFFFFFF in the header, 32 bits after it).
        wire.AddRange([0x04, 0xff, 0xff, 0xff, 0, 0, 1, 8, 1, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 42]);
        var bytes = wire.ToArray();

        using var reader = new RtmpChunkReader();
        var got = new List<(byte Type, uint Ts, byte[] Payload)>();
        var pending = new List<byte>();
        foreach (var b in bytes)
        {
            pending.Add(b);
            while (true)
            {
                var seq = new ReadOnlySequence<byte>(pending.ToArray());
                if (!reader.TryRead(seq, out var consumed, out var message))
                {
                    pending = [.. seq.Slice(consumed).ToArray()];
                    break;
                }

                got.Add((message.TypeId, message.Timestamp, message.Payload.ToArray()));
                ArrayPool<byte>.Shared.Return(message.Buffer);
                pending = [.. seq.Slice(consumed).ToArray()];
            }
        }

        Assert.Equal(4, got.Count);
        Assert.Equal((byte)8, got[0].Type);
        Assert.Equal(audio, got[0].Payload);
        Assert.Equal(90u, got[0].Ts);
        Assert.Equal(video, got[1].Payload);
        Assert.Equal(100u, got[1].Ts);
        Assert.Equal(new byte[] { 7, 8, 9 }, got[2].Payload);
        Assert.Equal(140u, got[2].Ts);
        Assert.Equal(0x01000000u, got[3].Ts);
        Assert.Equal(new byte[] { 42 }, got[3].Payload);
        Assert.Equal(bytes.Length, reader.BytesReceived);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(16u * 1024 * 1024 + 1)]
    public void Chunk_sizes_outside_the_limits_are_refused(uint size)
    {
        using var reader = new RtmpChunkReader();
        var ex = Assert.Throws<RtmpProtocolException>(() => reader.SetChunkSize(size));
        Assert.Contains("chunk size", ex.Message);
    }
}
