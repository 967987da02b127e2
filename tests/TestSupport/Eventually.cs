using System.Diagnostics;

namespace StreamServer.TestSupport;

/// <summary>
/// Waits on a condition instead of the clock: polls until it holds, failing with a description after a timeout that is
/// generous on purpose (a loaded 2-core machine), so a test never guesses how long something takes.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    public static Task TrueAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe) =>
        TrueAsync(() => Task.FromResult(condition()), timeout, describe);

    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"not true after {timeout.TotalSeconds:0.#} s: {describe()}");
            }

            await Task.Delay(Poll);
        }
    }

    /// <summary>Samples until two readings <paramref name="interval"/> apart agree within <paramref name="tolerance"/>; returns the last.</summary>
    public static async Task<long> SettledAsync(Func<Task<long>> sample, long tolerance, TimeSpan interval, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var previous = await sample();
        while (true)
        {
            await Task.Delay(interval);
            var current = await sample();
            if (Math.Abs(current - previous) <= tolerance || clock.Elapsed > timeout)
            {
                return current;
            }

            previous = current;
        }
    }
}
