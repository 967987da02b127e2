using System.Threading.Tasks.Sources;

namespace StreamServer.Transport;

/// <summary>
/// Waits for sockets to become writable again after EAGAIN, without blocking a thread per socket:
/// one epoll instance and one thread for the process, EPOLLONESHOT registrations re-armed per wait,
/// completions through reusable value-task sources (no allocation per wait). A wait that sees no
/// progress within its timeout completes with false so the caller closes the connection (a reader
/// that stopped reading cannot pin a connection, a lease or a task forever).
/// </summary>
internal sealed class SocketWritableWaiter
{
    private const int MaxEvents = 64;

    private static readonly Lazy<SocketWritableWaiter> Shared = new(() => new SocketWritableWaiter());

    private readonly Epoll _epoll = new(wakeable: false);
    private readonly Lock _gate = new();
    private Registration?[] _slots = new Registration?[64];
    private readonly Stack<int> _free = new();
    private int _next;

    private SocketWritableWaiter()
    {
        new Thread(Loop) { IsBackground = true, Name = "socket-writable-waiter" }.Start();
    }

    public static SocketWritableWaiter Instance => Shared.Value;

    public Registration Register(int fd)
    {
        lock (_gate)
        {
            var slot = _free.Count > 0 ? _free.Pop() : _next++;
            if (slot >= _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
            }

            var registration = new Registration(this, fd, slot);
            Volatile.Write(ref _slots[slot], registration);
            return registration;
        }
    }

    private void Unregister(Registration registration)
    {
        if (registration.Armed)
        {
            _epoll.Remove(registration.Fd);
        }

        lock (_gate)
        {
            Volatile.Write(ref _slots[registration.Slot], null);
            _free.Push(registration.Slot);
        }

        // A wait still pending (connection torn down meanwhile) must not hang its awaiter.
        registration.Complete(false);
    }

    private bool Arm(Registration registration)
    {
        const uint events = Epoll.Writable | Epoll.OneShot;
        var armed = registration.Armed
            ? _epoll.TryModify(registration.Fd, events, registration.Slot)
            : _epoll.TryAdd(registration.Fd, events, registration.Slot);
        registration.Armed |= armed;
        return armed;
    }

    private void Loop()
    {
        Span<Epoll.Event> events = stackalloc Epoll.Event[MaxEvents];
        var lastSweep = Environment.TickCount64;
        while (true)
        {
            var n = _epoll.Wait(events, 500);
            for (var i = 0; i < n; i++)
            {
                var slot = (int)events[i].Token;
                var slots = Volatile.Read(ref _slots);
                if ((uint)slot < (uint)slots.Length)
                {
                    Volatile.Read(ref slots[slot])?.Complete(true);
                }
            }

            var now = Environment.TickCount64;
            if (now - lastSweep >= 500)
            {
                lastSweep = now;
                var slots = Volatile.Read(ref _slots);
                for (var i = 0; i < slots.Length; i++)
                {
                    var r = Volatile.Read(ref slots[i]);
                    if (r is not null && r.IsPending && now > r.Deadline)
                    {
                        r.Complete(false);
                    }
                }
            }
        }
    }

    /// <summary>One socket's registration; reused for every wait of that connection.</summary>
    public sealed class Registration : IValueTaskSource<bool>, IThreadPoolWorkItem, IDisposable
    {
        private readonly SocketWritableWaiter _owner;

        // Continuations run on the thread pool, never on the epoll thread: the registration queues
        // itself as the work item (no per-wakeup allocation, unlike RunContinuationsAsynchronously,
        // which allocates a work item per completion).
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };
        private int _pending;
        private bool _result;

        internal Registration(SocketWritableWaiter owner, int fd, int slot)
        {
            _owner = owner;
            Fd = fd;
            Slot = slot;
        }

        internal int Fd { get; }
        internal int Slot { get; }
        internal bool Armed { get; set; }
        internal long Deadline { get; private set; }
        internal bool IsPending => Volatile.Read(ref _pending) == 1;

        /// <summary>Completes true when the socket is writable (or has an error to report), false on timeout.</summary>
        public ValueTask<bool> WaitAsync(TimeSpan timeout)
        {
            _core.Reset();
            Deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            Volatile.Write(ref _pending, 1);
            if (!_owner.Arm(this))
            {
                Complete(false);
            }

            return new ValueTask<bool>(this, _core.Version);
        }

        internal void Complete(bool writable)
        {
            if (Interlocked.Exchange(ref _pending, 0) == 1)
            {
                _result = writable;
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }

        void IThreadPoolWorkItem.Execute() => _core.SetResult(_result);

        public bool GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags);

        public void Dispose() => _owner.Unregister(this);
    }
}
