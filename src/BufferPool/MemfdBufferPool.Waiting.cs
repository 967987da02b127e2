using System.Diagnostics;

namespace StreamServer.BufferPool;

/// <summary>A rent that waits for a return instead of failing (back-pressure on the decoders).</summary>
public sealed unsafe partial class MemfdBufferPool
{
    /// <summary>
    /// Rents, waiting up to <paramref name="timeout"/> for another holder to return a block (the transcoder
    /// uses this to apply back-pressure instead of failing). Throws <see cref="BufferPoolExhaustedException"/>
    /// at the deadline, so nothing ever hangs.
    /// </summary>
    public BufferLease Rent(int length, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var best = ClassFor(length);
        if (TryRentFast(best, length, out var first))
        {
            return new BufferLease(this, first);
        }

        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        Interlocked.Increment(ref _waiters);
        try
        {
            while (true)
            {
                var epoch = Volatile.Read(ref _returnEpoch);
                if (TryRentSlow(best, length, out var token))
                {
                    return new BufferLease(this, token);
                }

                var remaining = deadline - Stopwatch.GetTimestamp();
                if (remaining <= 0)
                {
                    break;
                }

                cancellationToken.ThrowIfCancellationRequested();

                // The gate is held only to wait: renting under it would make every return's signal wait behind a rent.
                lock (_waitGate)
                {
                    if (Volatile.Read(ref _returnEpoch) == epoch)
                    {
                        // Cap the sleep so cancellation is noticed promptly.
                        var ms = Math.Min(100, Math.Max(1, (int)(remaining * 1000 / Stopwatch.Frequency)));
                        Monitor.Wait(_waitGate, ms);
                    }
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }

        Interlocked.Increment(ref _timeouts);
        throw new BufferPoolExhaustedException(length, $"waited {timeout.TotalMilliseconds:0} ms; {Describe(length)}");
    }

    private void SignalWaiters()
    {
        lock (_waitGate)
        {
            _returnEpoch++;
            Monitor.PulseAll(_waitGate);
        }
    }
}
