using System.Runtime.InteropServices;
using Perfolizer.Horology;

namespace StreamServer.BufferPool.Bench;

/// <summary>
/// BenchmarkDotNet clock that reads the process's CPU time (clock_gettime(CLOCK_PROCESS_CPUTIME_ID): user + system
/// of every thread, so a background GC thread's work counts too) instead of wall time. On 2 cores shared with other
/// builds, wall-clock iterations mostly measure how long this process waited for a core; CPU time leaves that out
/// and measures only the work. The same clock times every contender.
/// </summary>
internal sealed partial class ProcessCpuClock : IClock
{
    private const int ClockProcessCpuTimeId = 2;

    public static readonly ProcessCpuClock Instance = new();

    public string Title => "Process CPU time";

    public bool IsAvailable => OperatingSystem.IsLinux();

    public Frequency Frequency => Frequency.GHz;

    public long GetTimestamp()
    {
        if (ClockGetTime(ClockProcessCpuTimeId, out var ts) != 0)
        {
            throw new InvalidOperationException($"clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return (ts.Seconds * 1_000_000_000L) + ts.Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime", SetLastError = true)]
    private static partial int ClockGetTime(int clockId, out TimeSpec ts);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
