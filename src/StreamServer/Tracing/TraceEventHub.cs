using System.Threading.Channels;

namespace StreamServer.Tracing;

/// <summary>
/// Recent events for new subscribers plus a bounded channel per live subscriber. Publishing never blocks
/// the ring-buffer poll thread: a slow subscriber loses its oldest events, counted in <see cref="Dropped"/>.
/// </summary>
public sealed class TraceEventHub(int capacity)
{
    private readonly Lock _gate = new();
    private readonly Queue<TraceEvent> _recent = new(capacity);
    private readonly List<Channel<TraceEvent>> _subscribers = [];
    private long _dropped;
    private long _published;

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Published => Interlocked.Read(ref _published);

    public void Publish(TraceEvent e)
    {
        Interlocked.Increment(ref _published);
        lock (_gate)
        {
            if (capacity > 0)
            {
                if (_recent.Count == capacity)
                {
                    _recent.Dequeue();
                }

                _recent.Enqueue(e);
            }

            foreach (var s in _subscribers)
            {
                if (!s.Writer.TryWrite(e))
                {
                    Interlocked.Increment(ref _dropped);
                }
            }
        }
    }

    public TraceEvent[] Recent()
    {
        lock (_gate)
        {
            return [.. _recent];
        }
    }

    /// <summary>Backlog plus live events from now on; dispose the subscription to stop.</summary>
    public Subscription Subscribe()
    {
        var channel = Channel.CreateBounded<TraceEvent>(new BoundedChannelOptions(1024)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_gate)
        {
            _subscribers.Add(channel);
            return new Subscription(this, channel, [.. _recent]);
        }
    }

    public sealed class Subscription(TraceEventHub hub, Channel<TraceEvent> channel, TraceEvent[] backlog) : IDisposable
    {
        public TraceEvent[] Backlog { get; } = backlog;

        public ChannelReader<TraceEvent> Reader => channel.Reader;

        public void Dispose()
        {
            lock (hub._gate)
            {
                hub._subscribers.Remove(channel);
            }

            channel.Writer.TryComplete();
        }
    }
}
