using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using StreamServer.BufferPool;
using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Packaging;

/// <summary>
/// One track's muxer output, assembled in buffer-pool memory: the AVIOContext's write callback appends
/// into a chain of pool leases (the first sized for a whole segment from the track's peak bitrate, more
/// chained only when a segment outgrows it). A finished segment is written to its file once, with one
/// pwritev straight from the pool mapping, and the leases go back to the pool.
/// A rent waits up to the run's <see cref="PackagingOptions.SegmentRentTimeout"/> for memory; when the pool still
/// cannot hold the segment the muxer call fails and <see cref="ThrowIfFailed"/> reports which track, and why.
/// </summary>
internal sealed unsafe class SegmentBuffer : IDisposable
{
    private readonly MemfdBufferPool pool;
    private readonly int chunkSize;
    private readonly TimeSpan rentTimeout;
    private readonly string label;
    private readonly KeyValuePair<string, object?> poolKind;
    private readonly List<BufferLease> chunks = [];
    private readonly List<ReadOnlyMemory<byte>> gather = [];
    private GCHandle self;
    private Exception? failure;
    private int tailUsed; // bytes used in the last chunk

    public SegmentBuffer(MemfdBufferPool pool, int chunkSize, TimeSpan rentTimeout, string label, string poolKind)
    {
        this.rentTimeout = rentTimeout;
        this.pool = pool;
        this.poolKind = new("pool", poolKind);
        this.chunkSize = Math.Clamp(chunkSize, 1, pool.LargestBlockSize);
        this.label = label;
        self = GCHandle.Alloc(this);
    }

    /// <summary>The AVIO write_packet callback and its opaque argument (this buffer).</summary>
    public static delegate* unmanaged<void*, byte*, int, int> WriteCallback => &Write;

    public void* Opaque => (void*)GCHandle.ToIntPtr(self);

    /// <summary>Bytes held (everything the muxer wrote since the last <see cref="Clear"/>).</summary>
    public long Length => chunks.Count == 0 ? 0 : ((long)(chunks.Count - 1) * ChunkCapacity(0)) + tailUsed;

    /// <summary>Leases this buffer holds right now (0 after <see cref="Clear"/>).</summary>
    public int LeaseCount => chunks.Count;

    /// <summary>The leases, in order, every one <see cref="ChunkCapacity"/> long (a live segment's readers take references on them).</summary>
    public IReadOnlyList<BufferLease> Chunks => chunks;

    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (chunks.Count == 0 || tailUsed == chunks[^1].Length)
            {
                chunks.Add(RentChunk());
                tailUsed = 0;
            }

            var tail = chunks[^1].Span[tailUsed..];
            var n = Math.Min(tail.Length, data.Length);
            data[..n].CopyTo(tail);
            tailUsed += n;
            data = data[n..];
        }
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes from <paramref name="position"/> (box headers).</summary>
    public void CopyTo(long position, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var (chunk, within) = Locate(position);
            var available = chunks[chunk].Span[within..ChunkUsed(chunk)];
            var n = Math.Min(available.Length, destination.Length);
            available[..n].CopyTo(destination);
            destination = destination[n..];
            position += n;
        }
    }

    /// <summary>
    /// Creates <paramref name="path"/> (must not exist) holding bytes [start, start+count) in one pwritev. The bytes go to a
    /// hidden name first and the complete file is renamed into place: a live window is served while it is written, and
    /// no reader may ever open a segment that is still growing.
    /// </summary>
    public void WriteFile(string path, long start, long count)
    {
        gather.Clear();
        var end = start + count;
        while (start < end)
        {
            var (chunk, within) = Locate(start);
            var n = (int)Math.Min(ChunkUsed(chunk) - within, end - start);
            gather.Add(chunks[chunk].Memory.Slice(within, n));
            start += n;
        }

        Interop.PosixFile.WriteNew(path, Path.Join(Path.GetDirectoryName(path.AsSpan()), "." + Path.GetFileName(path) + ".partial"), gather);

        gather.Clear();
        // pool="shared" (the server's / CLI's pool) or "private" (a run without one got its own memfd pool).
        Media.TranscodeMetrics.SegmentBytes.Add(count, poolKind);
    }

    /// <summary>Returns every lease to the pool (after the segment's file is written).</summary>
    public void Clear()
    {
        foreach (var chunk in chunks)
        {
            chunk.Release();
        }

        chunks.Clear();
        tailUsed = 0;
    }

    /// <summary>Throws the failure a write callback hit (exhausted pool) instead of FFmpeg's bare ENOMEM.</summary>
    public void ThrowIfFailed()
    {
        if (failure is { } e)
        {
            failure = null;
            throw e;
        }
    }

    public void Dispose()
    {
        Clear();
        if (self.IsAllocated)
        {
            self.Free();
        }
    }

    private BufferLease RentChunk()
    {
        try
        {
            return pool.Rent(chunkSize, rentTimeout);
        }
        catch (BufferPoolExhaustedException e)
        {
            throw new TranscodeException(
                $"{label}: the buffer pool cannot hold the segment being muxed ({Length} bytes so far, next {chunkSize}-byte block): {e.Message}", e);
        }
    }

    private int ChunkCapacity(int chunk) => chunks[chunk].Length;

    private int ChunkUsed(int chunk) => chunk == chunks.Count - 1 ? tailUsed : chunks[chunk].Length;

    private (int Chunk, int Within) Locate(long position)
    {
        // Every chunk has the same length (one rent size), so the chunk index is a division.
        var size = ChunkCapacity(0);
        var chunk = (int)(position / size);
        var within = (int)(position % size);
        if (chunk >= chunks.Count || within >= ChunkUsed(chunk))
        {
            throw new ArgumentOutOfRangeException(nameof(position), position, $"beyond the {Length} buffered bytes");
        }

        return (chunk, within);
    }

    [UnmanagedCallersOnly]
    private static int Write(void* opaque, byte* buf, int size)
    {
        var buffer = (SegmentBuffer)GCHandle.FromIntPtr((nint)opaque).Target!;
        try
        {
            buffer.Append(new ReadOnlySpan<byte>(buf, size));
            return size;
        }
        catch (Exception e)
        {
            // Exceptions cannot cross into FFmpeg: fail the write there, rethrow after the muxer call returns.
            buffer.failure ??= e;
            return FfmpegError.NoMemory;
        }
    }
}
