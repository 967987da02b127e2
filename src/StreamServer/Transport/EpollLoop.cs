using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace StreamServer.Transport;

/// <summary>
/// An epoll instance plus an eventfd to wake it, for a protocol that runs its connections on one thread of its own
/// the way an nginx worker does (RTMP ingest: many long-lived connections each delivering a small message at a time,
/// where a wake-up and a context switch per message on every socket-engine thread cost more than the work).
/// Level-triggered: a socket with bytes left after one read is reported again by the next <see cref="Wait"/>.
/// Registration and waiting may happen on different threads (epoll_ctl is thread-safe); <see cref="Wake"/> from any.
/// </summary>
internal sealed unsafe partial class EpollLoop : IDisposable
{
    public const uint Readable = 0x001; // EPOLLIN
    public const uint Error = 0x008; // EPOLLERR
    public const uint HangUp = 0x010; // EPOLLHUP
    public const uint PeerClosed = 0x2000; // EPOLLRDHUP

    /// <summary>The event data <see cref="Wait"/> reports for <see cref="Wake"/>.</summary>
    public const long WakeToken = -1;

    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int CloseOnExec = 0x80000; // EPOLL_CLOEXEC == EFD_CLOEXEC == O_CLOEXEC
    private const int NonBlocking = 0x800; // EFD_NONBLOCK

    [StructLayout(LayoutKind.Sequential, Pack = 4)] // packed on x86-64 (__EPOLL_PACKED)
    public struct Event
    {
        public uint Events;
        public long Token;
    }

    private readonly SafeFileHandle _epoll;
    private readonly SafeFileHandle _wake;

    public EpollLoop()
    {
        _epoll = new SafeFileHandle(Check(epoll_create1(CloseOnExec), "epoll_create1"), ownsHandle: true);
        _wake = new SafeFileHandle(Check(eventfd(0, CloseOnExec | NonBlocking), "eventfd"), ownsHandle: true);
        Add((int)_wake.DangerousGetHandle(), WakeToken);
    }

    /// <summary>Watches <paramref name="fd"/> for input (and hang-ups); <paramref name="token"/> comes back in its events.</summary>
    public void Add(int fd, long token)
    {
        var e = new Event { Events = Readable | PeerClosed, Token = token };
        Check(epoll_ctl((int)_epoll.DangerousGetHandle(), EpollCtlAdd, fd, &e), "epoll_ctl(ADD)");
    }

    /// <summary>Stops watching <paramref name="fd"/> (before it is closed, so no late event names a reused number).</summary>
    public void Remove(int fd)
    {
        var e = default(Event);
        _ = epoll_ctl((int)_epoll.DangerousGetHandle(), EpollCtlDel, fd, &e);
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for events; returns how many were written to <paramref name="events"/>.</summary>
    public int Wait(Span<Event> events, int timeoutMs)
    {
        fixed (Event* p = events)
        {
            var n = epoll_wait((int)_epoll.DangerousGetHandle(), p, events.Length, timeoutMs);
            if (n >= 0)
            {
                return n;
            }

            var errno = Marshal.GetLastPInvokeError();
            return errno == LinuxSocket.EINTR ? 0 : throw new IOException($"epoll_wait failed (errno {errno})");
        }
    }

    /// <summary>Makes the waiting thread return from <see cref="Wait"/> with a <see cref="WakeToken"/> event.</summary>
    public void Wake()
    {
        ulong one = 1;
        _ = write((int)_wake.DangerousGetHandle(), &one, sizeof(ulong));
    }

    /// <summary>Clears a wake-up (call when <see cref="WakeToken"/> is reported).</summary>
    public void ClearWake()
    {
        ulong value;
        _ = read((int)_wake.DangerousGetHandle(), &value, sizeof(ulong));
    }

    public void Dispose()
    {
        _wake.Dispose();
        _epoll.Dispose();
    }

    private static int Check(int result, string call) =>
        result >= 0 ? result : throw new IOException($"{call} failed (errno {Marshal.GetLastPInvokeError()})");

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, Event* ev);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epfd, Event* events, int maxEvents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, void* buf, nuint count);
}
