using System.Buffers;
using System.Diagnostics;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace StreamServer.Transport;

/// <summary>
/// One connection's share of the transport pool: Kestrel takes the memory of this connection's pipes (HTTP/2 stream
/// pipes, the output pipe, TLS pipes) from here (it is the connection's <see cref="IMemoryPoolFeature"/>), so the bytes
/// it holds are known exactly, including what streams hold while their client keeps the flow-control window shut, and
/// nothing is counted twice or left behind when a stream is reset. The send path reports every byte the socket takes,
/// which is the progress the stall check looks for. One object per connection; no allocation per rent.
/// </summary>
internal sealed class ConnectionTransportMemory : MemoryPool<byte>, IMemoryPoolFeature
{
    private const long ProgressBytes = 16 * 1024;

    private readonly TransportMemoryPool _pool;
    private readonly TransportMemoryAccounting _accounting;
    private readonly ConnectionContext _connection;
    private long _rentedBytes;
    private long _sentBytes;
    private long _lastSent;
    private long _lastProgress;
    private int _closeStage;
    private int _waiters;
    private TaskCompletionSource? _returned;

    public ConnectionTransportMemory(TransportMemoryPool pool, TransportMemoryAccounting accounting, ConnectionContext connection)
    {
        _pool = pool;
        _accounting = accounting;
        _connection = connection;
        _lastProgress = Stopwatch.GetTimestamp();
        accounting.Track(this);
    }

    public MemoryPool<byte> MemoryPool => this;

    public override int MaxBufferSize => _pool.MaxBufferSize;

    public string ConnectionId => _connection.ConnectionId;

    /// <summary>Bytes of transport memory this connection's pipes hold now.</summary>
    public long RentedBytes => Volatile.Read(ref _rentedBytes);

    /// <summary>Bytes the socket has accepted over the connection's life.</summary>
    public long SentBytes => Volatile.Read(ref _sentBytes);

    /// <summary>Bodies of this connection waiting for room now.</summary>
    public int Waiters => Volatile.Read(ref _waiters);

    /// <summary>The connection's budget for response bytes held in its pipes.</summary>
    public long BudgetBytes => _accounting.ConnectionBudgetBytes;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => _pool.Rent(minBufferSize, this);

    internal void Rented(int bytes) => Interlocked.Add(ref _rentedBytes, bytes);

    internal void Returned(int bytes)
    {
        Interlocked.Add(ref _rentedBytes, -bytes);
        if (Volatile.Read(ref _waiters) > 0)
        {
            Interlocked.Exchange(ref _returned, null)?.TrySetResult();
        }
    }

    /// <summary>The send path's report of bytes the socket took.</summary>
    public void Sent(long bytes) => Interlocked.Add(ref _sentBytes, bytes);

    /// <summary>
    /// Waits until some of this connection's memory is returned (its client took bytes, a stream ended) or
    /// <paramref name="timeout"/> passes. Only bodies over the budget come here; the wait allocates, the fast path never does.
    /// </summary>
    public async Task WaitForReturnAsync(TimeSpan timeout, CancellationToken ct)
    {
        Interlocked.Increment(ref _waiters);
        try
        {
            var returned = Volatile.Read(ref _returned);
            if (returned is null)
            {
                var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                returned = Interlocked.CompareExchange(ref _returned, created, null) ?? created;
            }

            await returned.Task.WaitAsync(timeout, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }
    }

    /// <summary>
    /// Called once a second: a connection whose pipes hold response bytes while its socket took nothing for the stall time
    /// is asked to close (HTTP/2: GOAWAY, no new streams), and aborted on a later tick if it is still there. True on the
    /// tick that asks it to close.
    /// </summary>
    internal bool CheckStalled(long now, long stallTicks)
    {
        if (_closeStage > 0)
        {
            // Asked to close: Kestrel's GOAWAY counts as progress, so it must not restart the clock. Unless the held memory
            // drains meanwhile (the client woke up), the connection is aborted two ticks later.
            if (++_closeStage == 3 && RentedBytes > MaxBufferSize)
            {
                _connection.Abort(new ConnectionAbortedException("the client left response bytes unread past the send timeout"));
            }

            return false;
        }

        // Progress is a full DATA frame's worth taken by the socket since the last mark: control frames alone (GOAWAY,
        // RST_STREAM, the HEADERS of streams that then wait) must not keep a connection whose bodies do not move alive.
        // With the default timeout that asks a client holding memory to read at least ~270 B/s, like MinResponseDataRate.
        var sent = SentBytes;
        if (sent - _lastSent >= ProgressBytes || RentedBytes <= MaxBufferSize)
        {
            _lastSent = sent;
            _lastProgress = now;
            return false;
        }

        if (now - _lastProgress < stallTicks)
        {
            return false;
        }

        _closeStage = 1;
        _connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.RequestClose();
        return true;
    }

    protected override void Dispose(bool disposing) => _accounting.Untrack(this);
}
