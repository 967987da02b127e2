using StreamServer.Transcode.Live;

namespace StreamServer.Live;

public enum LiveReloadOutcome
{
    Ready,
    TooFarAhead,
    TimedOut,
}

/// <summary>
/// LL-HLS blocking playlist reload for one channel (RFC 8216bis 6.2.5.2): a request for _HLS_msn=M[&amp;_HLS_part=P]
/// waits, as a task (no thread), until the channel's packager has published that segment or part, then gets the
/// playlist. Also lets a request for the preload-hinted part wait for it to exist. Waiters are released on every
/// publish; a new stream or a removed channel releases them all.
/// </summary>
public sealed class LiveReloadGate
{
    private readonly Lock _lock = new();
    private readonly List<Waiter> _waiters = [];
    private LivePosition _position;
    private long _publishedAt; // Stopwatch timestamp of the last publish
    private static long s_waiting;

    /// <summary>Upper bounds of streamserver_live_reload_answer_seconds: fine from 1 to 50 ms, where 1,000 waiters released by
    /// one publish are answered, so runs can be told apart.</summary>
    public static readonly double[] AnswerBuckets = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25];

    private static readonly System.Diagnostics.Metrics.Histogram<double> Answer = Metrics.ServerMetrics.Meter.CreateHistogram(
        "streamserver_live_reload_answer_seconds", unit: "s",
        description: "From the publish of the part or segment a blocked request waited for (blocking playlist reload, hinted part) to its answer being written.",
        advice: new System.Diagnostics.Metrics.InstrumentAdvice<double> { HistogramBucketBoundaries = AnswerBuckets });

    /// <summary>A request that waited was answered: records the time since the publish that released it.</summary>
    public void Answered(long releasedAt)
    {
        if (releasedAt != 0)
        {
            Answer.Record(System.Diagnostics.Stopwatch.GetElapsedTime(releasedAt).TotalSeconds);
        }
    }

    /// <summary>Requests waiting on any channel right now (metric streamserver_live_blocked_reloads).</summary>
    public static long Waiting => Interlocked.Read(ref s_waiting);

    public LivePosition Position
    {
        get
        {
            lock (_lock)
            {
                return _position;
            }
        }
    }

    /// <summary>A new stream: positions start over; whoever waited for the old one is answered with what exists.</summary>
    public void Reset() => Publish(default, releaseAll: true);

    public void Publish(LivePosition position) => Publish(position, releaseAll: false);

    private void Publish(LivePosition position, bool releaseAll)
    {
        List<Waiter>? ready = null;
        lock (_lock)
        {
            _position = position;
            _publishedAt = System.Diagnostics.Stopwatch.GetTimestamp();
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                var w = _waiters[i];
                if (releaseAll || Reached(position, w.Audio, w.Msn, w.Part))
                {
                    (ready ??= []).Add(w);
                    _waiters.RemoveAt(i);
                }
            }
        }

        foreach (var w in ready ?? [])
        {
            w.Done.TrySetResult(LiveReloadOutcome.Ready);
        }
    }

    /// <summary>
    /// Waits until segment <paramref name="msn"/> (or its part <paramref name="part"/>, when >= 0) of the audio or video
    /// track is published, up to <paramref name="timeout"/>. Too far ahead (beyond the open segment + 2) is refused at once.
    /// </summary>
    public async Task<LiveReloadOutcome> WaitAsync(bool audio, int msn, int part, TimeSpan timeout, CancellationToken aborted)
    {
        var (outcome, _) = await WaitTimedAsync(audio, msn, part, timeout, aborted);
        return outcome;
    }

    /// <summary>As <see cref="WaitAsync"/>, with the Stopwatch timestamp of the publish that released the wait (0 when it did not wait).</summary>
    public async Task<(LiveReloadOutcome Outcome, long ReleasedAt)> WaitTimedAsync(bool audio, int msn, int part, TimeSpan timeout, CancellationToken aborted)
    {
        Waiter waiter;
        lock (_lock)
        {
            if (Reached(_position, audio, msn, part))
            {
                return (LiveReloadOutcome.Ready, 0);
            }

            var segments = audio ? _position.AudioSegments : _position.VideoSegments;
            if (msn > segments + 1 + 2)
            {
                return (LiveReloadOutcome.TooFarAhead, 0);
            }

            waiter = new Waiter(audio, msn, part, new TaskCompletionSource<LiveReloadOutcome>(TaskCreationOptions.RunContinuationsAsynchronously));
            _waiters.Add(waiter);
        }

        Interlocked.Increment(ref s_waiting);
        try
        {
            var outcome = await waiter.Done.Task.WaitAsync(timeout, aborted);
            long releasedAt;
            lock (_lock)
            {
                releasedAt = _publishedAt;
            }

            return (outcome, releasedAt);
        }
        catch (TimeoutException)
        {
            return (LiveReloadOutcome.TimedOut, 0);
        }
        finally
        {
            Interlocked.Decrement(ref s_waiting);
            lock (_lock)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    // Segment msn is complete, or it is the open segment and has more than `part` parts; an ended stream has all it will have.
    private static bool Reached(LivePosition p, bool audio, int msn, int part)
    {
        var segments = audio ? p.AudioSegments : p.VideoSegments;
        var parts = audio ? p.AudioParts : p.VideoParts;
        return p.Ended || msn <= segments || (part >= 0 && msn == segments + 1 && parts > part);
    }

    private sealed record Waiter(bool Audio, int Msn, int Part, TaskCompletionSource<LiveReloadOutcome> Done);
}
