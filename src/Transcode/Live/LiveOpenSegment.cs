using StreamServer.BufferPool;

namespace StreamServer.Transcode.Live;

/// <summary>
/// The segment a live track is writing, readable while it grows: its bytes are the muxer's own output in buffer-pool
/// leases (stored once; the readers hold references on the leases, so the writer can go on to the next segment while a
/// response still sends this one). Only whole parts become readable (<see cref="Committed"/> grows a part at a time), as
/// RFC 8216bis 6.2.6 asks: a client never waits on a part that is half there. Readers take a reference with
/// <see cref="TryAcquire"/> and give it back with <see cref="Release"/>; waiting for growth is a task, not a thread.
/// </summary>
public sealed class LiveOpenSegment
{
    private readonly Lock _lock = new();
    private readonly List<BufferLease> _chunks = [];
    private readonly long _base; // where the segment's first byte is in the chunks (after an init segment written with it)
    private int _chunkSize;
    private long _committed;
    private int _refs = 1; // the writer's
    private State _state;
    private TaskCompletionSource _grown = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private enum State
    {
        Growing,
        Complete,
        Abandoned,
    }

    internal LiveOpenSegment(int number, string fileName, long baseOffset)
    {
        Number = number;
        FileName = fileName;
        _base = baseOffset;
    }

    /// <summary>Media sequence number of the segment.</summary>
    public int Number { get; }

    /// <summary>The file it becomes when complete (seg_NNNNN.m4s).</summary>
    public string FileName { get; }

    /// <summary>Bytes of whole parts, readable now.</summary>
    public long Committed
    {
        get
        {
            lock (_lock)
            {
                return _committed;
            }
        }
    }

    /// <summary>Whether the segment is whole (<see cref="Committed"/> is its length).</summary>
    public bool IsComplete
    {
        get
        {
            lock (_lock)
            {
                return _state == State.Complete;
            }
        }
    }

    /// <summary>Whether the writer gave up on it (the publish ended with an error): what was committed is all there will be.</summary>
    public bool IsAbandoned
    {
        get
        {
            lock (_lock)
            {
                return _state == State.Abandoned;
            }
        }
    }

    /// <summary>A reader's reference; false once the segment's memory is gone.</summary>
    public bool TryAcquire()
    {
        lock (_lock)
        {
            if (_refs == 0)
            {
                return false;
            }

            _refs++;
            return true;
        }
    }

    public void Release()
    {
        List<BufferLease>? free = null;
        lock (_lock)
        {
            if (--_refs == 0)
            {
                free = [.. _chunks];
                _chunks.Clear();
            }
        }

        if (free is not null)
        {
            foreach (var lease in free)
            {
                lease.Release();
            }
        }
    }

    /// <summary>
    /// Completes when more than <paramref name="length"/> bytes are readable, or the segment is complete or abandoned
    /// (read <see cref="Committed"/> after it).
    /// </summary>
    public Task WaitBeyondAsync(long length)
    {
        lock (_lock)
        {
            return _committed > length || _state != State.Growing ? Task.CompletedTask : _grown.Task;
        }
    }

    /// <summary>
    /// Copies [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="count"/>) into <paramref name="writer"/>
    /// (a response pipe); the range must be within <see cref="Committed"/>.
    /// </summary>
    public void CopyTo(long offset, long count, System.Buffers.IBufferWriter<byte> writer)
    {
        lock (_lock)
        {
            var position = CheckRange(offset, count);
            while (count > 0)
            {
                var (chunk, within, n) = NextRun(ref position, ref count);
                System.Buffers.BuffersExtensions.Write(writer, _chunks[chunk].Span.Slice(within, n)); // in the pipe's block sizes
            }
        }
    }

    /// <summary>
    /// (fd offset, length) runs of [<paramref name="offset"/>, +<paramref name="count"/>) in the pool's memfd, for sendfile;
    /// the range must be within <see cref="Committed"/>. Returns how many runs were written to <paramref name="runs"/>.
    /// </summary>
    public int FileRuns(long offset, long count, Span<(long Offset, int Length)> runs)
    {
        lock (_lock)
        {
            var position = CheckRange(offset, count);
            var written = 0;
            while (count > 0 && written < runs.Length)
            {
                var (chunk, within, n) = NextRun(ref position, ref count);
                runs[written++] = (_chunks[chunk].FileOffset + within, n);
            }

            return written;
        }
    }

    // Where a segment offset is in the chunks; the range must be readable. Under _lock.
    private long CheckRange(long offset, long count)
    {
        if (offset < 0 || count < 0 || offset + count > _committed)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"[{offset}, +{count}) is beyond the {_committed} readable bytes");
        }

        return _base + offset;
    }

    // The next piece of a range that lies in one chunk (every chunk has the same size); advances the range past it.
    private (int Chunk, int Within, int Length) NextRun(ref long position, ref long count)
    {
        var chunk = (int)(position / _chunkSize);
        var within = (int)(position % _chunkSize);
        var n = (int)Math.Min(_chunkSize - within, count);
        position += n;
        count -= n;
        return (chunk, within, n);
    }

    /// <summary>The pool's memfd (shared by every lease; not to be disposed).</summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle? MemoryFile { get; private set; }

    /// <summary>The writer closed a part: <paramref name="length"/> bytes of the segment (from its start) are readable.</summary>
    internal void Commit(IReadOnlyList<BufferLease> chunks, long length, bool complete = false)
    {
        TaskCompletionSource grown;
        lock (_lock)
        {
            for (var i = _chunks.Count; i < chunks.Count; i++)
            {
                _chunks.Add(chunks[i].AddRef());
            }

            if (_chunks.Count > 0)
            {
                _chunkSize = _chunks[0].Length;
                MemoryFile ??= _chunks[0].FileHandle;
            }

            _committed = length;
            if (complete)
            {
                _state = State.Complete;
            }

            grown = _grown;
            _grown = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        grown.TrySetResult();
    }

    /// <summary>The writer is done with the segment (complete, or abandoned when not): its reference goes.</summary>
    internal void Close()
    {
        TaskCompletionSource grown;
        lock (_lock)
        {
            if (_state == State.Growing)
            {
                _state = State.Abandoned;
            }

            grown = _grown;
        }

        grown.TrySetResult();
        Release();
    }
}
