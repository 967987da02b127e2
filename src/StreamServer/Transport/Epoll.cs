using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using StreamServer.Interop;

namespace StreamServer.Transport;

/// <summary>
/// An epoll instance (and, when asked for, an eventfd to wake its waiter): the one place the process talks to epoll
/// itself. The RTMP ingest runs its connections on one thread of its own the way an nginx worker does (many
/// long-lived connections each delivering a small message at a time, where a wake-up and a context switch per message
/// on every socket-engine thread cost more than the work); <see cref="SocketWritableWaiter"/> waits for sockets to
/// drain with one-shot registrations. Registration and waiting may happen on different threads (epoll_ctl is
/// thread-safe); <see cref="Wake"/> from any.
/// </summary>
internal sealed unsafe partial class Epoll : IDisposable
{
    public const uint Readable = 0x001; // EPOLLIN
    public const uint Writable = 0x004; // EPOLLOUT
    public const uint Error = 0x008; // EPOLLERR
    public const uint HangUp = 0x010; // EPOLLHUP
    public const uint PeerClosed = 0x2000; // EPOLLRDHUP
    public const uint OneShot = 1u << 30; // EPOLLONESHOT

    /// <summary>The token <see cref="Wait"/> reports for <see cref="Wake"/>.</summary>
    public const long WakeToken = -1;

    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int EpollCtlMod = 3;
    private const int CloseOnExec = 0x80000; // EPOLL_CLOEXEC == EFD_CLOEXEC == O_CLOEXEC
    private const int NonBlocking = 0x800; // EFD_NONBLOCK
    private const int MaxEventsPerWait = 256;

    // struct epoll_event is packed (12 bytes) on x86-64 and naturally aligned (16 bytes) elsewhere.
    private static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    private static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    /// <summary>One ready descriptor: what it is ready for and the token it was registered with.</summary>
    public readonly record struct Event(uint Events, long Token);

    private readonly SafeFileHandle _epoll;
    private readonly SafeFileHandle? _wake;

    public Epoll(bool wakeable)
    {
        _epoll = new SafeFileHandle(Check(Libc.epoll_create1(CloseOnExec), "epoll_create1"), ownsHandle: true);
        if (wakeable)
        {
            _wake = new SafeFileHandle(Check(Libc.eventfd(0, CloseOnExec | NonBlocking), "eventfd"), ownsHandle: true);
            Add((int)_wake.DangerousGetHandle(), Readable, WakeToken);
        }
    }

    /// <summary>Watches <paramref name="fd"/> for <paramref name="events"/>; <paramref name="token"/> comes back in them.</summary>
    public void Add(int fd, uint events, long token) => Check(Control(EpollCtlAdd, fd, events, token), "Libc.epoll_ctl(ADD)");

    /// <summary>Re-arms or changes a registration; false (with errno in Marshal.GetLastPInvokeError) if the kernel refused.</summary>
    public bool TryModify(int fd, uint events, long token) => Control(EpollCtlMod, fd, events, token) == 0;

    /// <summary>Adds a registration; false (with errno) if the kernel refused, e.g. a descriptor already closed.</summary>
    public bool TryAdd(int fd, uint events, long token) => Control(EpollCtlAdd, fd, events, token) == 0;

    /// <summary>Stops watching <paramref name="fd"/> (before it is closed, so no late event names a reused number).</summary>
    public void Remove(int fd) => _ = Control(EpollCtlDel, fd, 0, 0);

    private int Control(int op, int fd, uint events, long token)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(long*)(ev + DataOffset) = token;
        return Libc.epoll_ctl((int)_epoll.DangerousGetHandle(), op, fd, ev);
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for events; returns how many were written to <paramref name="events"/>.</summary>
    public int Wait(Span<Event> events, int timeoutMs)
    {
        var max = Math.Min(events.Length, MaxEventsPerWait);
        var raw = stackalloc byte[MaxEventsPerWait * 16];
        var n = Libc.epoll_wait((int)_epoll.DangerousGetHandle(), raw, max, timeoutMs);
        if (n < 0)
        {
            var failure = Libc.FailureOrRetry();
            return failure == 0 ? 0 : throw new IOException($"epoll_wait failed (errno {-failure})");
        }

        for (var i = 0; i < n; i++)
        {
            var e = raw + (i * EventSize);
            events[i] = new Event(*(uint*)e, *(long*)(e + DataOffset));
        }

        return n;
    }

    /// <summary>Makes the waiting thread return from <see cref="Wait"/> with a <see cref="WakeToken"/> event.</summary>
    public void Wake()
    {
        ulong one = 1;
        _ = Libc.write((int)_wake!.DangerousGetHandle(), &one, sizeof(ulong));
    }

    /// <summary>Clears a wake-up (call when <see cref="WakeToken"/> is reported).</summary>
    public void ClearWake()
    {
        ulong value;
        _ = Libc.read((int)_wake!.DangerousGetHandle(), &value, sizeof(ulong));
    }

    public void Dispose()
    {
        _wake?.Dispose();
        _epoll.Dispose();
    }

    private static int Check(int result, string call) =>
        result >= 0 ? result : throw new IOException($"{call} failed (errno {Marshal.GetLastPInvokeError()})");
}
