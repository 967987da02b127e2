using System.Collections.Concurrent;
using HdrHistogram;

namespace StreamServer.LoadTest.Stats;

/// <summary>
/// What every player of a swarm records, shared and lock-free: one HdrHistogram recorder per request kind (thread-safe
/// writes, swapped out once per second by <see cref="TakeInterval"/>), counters by Interlocked. The sampler is the only
/// reader, so per-second rows and the run's totals come from the same numbers.
/// </summary>
internal sealed class SwarmMetrics
{
    private const long HighestMicroseconds = 60_000_000;
    private static readonly int KindCount = Enum.GetValues<RequestKind>().Length;

    private readonly Recorder[] _recorders = new Recorder[KindCount];
    private readonly LongHistogram[] _totals = new LongHistogram[KindCount];
    private readonly Recorder _liveLatency = NewRecorder();
    private readonly LongHistogram _liveLatencyTotal = new(HighestMicroseconds, 3);
    private readonly long[] _errorsByKind = new long[Enum.GetValues<ErrorKind>().Length];
    private readonly ConcurrentDictionary<int, long> _statuses = new();
    private HistogramBase?[] _spare = new HistogramBase?[KindCount];
    private HistogramBase? _spareLive;
    private long _requests;
    private long _bytes;
    private long _playlistBytes;
    private long _playlistsValidated;
    private long _independentPartsChecked;
    private long _stalls;
    private long _switches;
    private long _seeks;
    private long _segments;
    private long _players;
    private long _playersStarted;
    private string? _firstError;
    private (long Requests, long Bytes, long Errors, long Stalls) _last;

    public SwarmMetrics()
    {
        for (var k = 0; k < KindCount; k++)
        {
            _recorders[k] = NewRecorder();
            _totals[k] = new LongHistogram(HighestMicroseconds, 3);
        }
    }

    public long Requests => Interlocked.Read(ref _requests);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Bytes of playlists received (what delta updates save).</summary>
    public long PlaylistBytes => Interlocked.Read(ref _playlistBytes);

    /// <summary>Media playlists checked against the LL-HLS rules (--validate), counted as each player leaves.</summary>
    public long PlaylistsValidated => Interlocked.Read(ref _playlistsValidated);

    /// <summary>INDEPENDENT parts whose first sample the validator read and found a sync sample.</summary>
    public long IndependentPartsChecked => Interlocked.Read(ref _independentPartsChecked);

    public void Validated(int playlists, int independentParts)
    {
        Interlocked.Add(ref _playlistsValidated, playlists);
        Interlocked.Add(ref _independentPartsChecked, independentParts);
    }

    public long Stalls => Interlocked.Read(ref _stalls);

    public long Switches => Interlocked.Read(ref _switches);

    public long Seeks => Interlocked.Read(ref _seeks);

    public long Segments => Interlocked.Read(ref _segments);

    public long Players => Interlocked.Read(ref _players);

    public long PlayersStarted => Interlocked.Read(ref _playersStarted);

    public long Errors
    {
        get
        {
            long n = 0;
            foreach (var e in _errorsByKind)
            {
                n += Interlocked.Read(in e);
            }

            return n;
        }
    }

    public string? FirstError => Volatile.Read(ref _firstError);

    /// <summary>Totals per kind so far (complete once the sampler took its last interval).</summary>
    public LongHistogram Total(RequestKind kind) => _totals[(int)kind];

    public LongHistogram LiveLatencyTotal => _liveLatencyTotal;

    /// <summary>A request answered completely: time to first byte and the bytes of the body.</summary>
    public void Success(RequestKind kind, long ttfbMicroseconds, long bytes)
    {
        _recorders[(int)kind].RecordValue(Math.Clamp(ttfbMicroseconds, 1, HighestMicroseconds));
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _bytes, bytes);
        if (kind == RequestKind.Playlist)
        {
            Interlocked.Add(ref _playlistBytes, bytes);
        }

        if (kind is RequestKind.Segment or RequestKind.Part)
        {
            Interlocked.Increment(ref _segments);
        }
    }

    public void Failure(ErrorKind error, string message, int status = 0)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _errorsByKind[(int)error]);
        if (error == ErrorKind.Status)
        {
            _statuses.AddOrUpdate(status, 1, static (_, n) => n + 1);
        }

        Interlocked.CompareExchange(ref _firstError, message, null);
    }

    /// <summary>How far behind the wall clock the newest media a live player fetched was (PROGRAM-DATE-TIME to now).</summary>
    public void LiveLatency(TimeSpan behind) =>
        _liveLatency.RecordValue(Math.Clamp((long)behind.TotalMicroseconds, 1, HighestMicroseconds));

    public void Stall() => Interlocked.Increment(ref _stalls);

    public void Switch() => Interlocked.Increment(ref _switches);

    public void Seek() => Interlocked.Increment(ref _seeks);

    public void PlayerStarted()
    {
        Interlocked.Increment(ref _players);
        Interlocked.Increment(ref _playersStarted);
    }

    public void PlayerLeft() => Interlocked.Decrement(ref _players);

    /// <summary>The interval since the last call: one row of the progress table and the report's timeline. Sampler thread only.</summary>
    public IntervalSample TakeInterval(double second, double? serverRetransmits)
    {
        var interval = new HistogramBase[KindCount];
        for (var k = 0; k < KindCount; k++)
        {
            interval[k] = _recorders[k].GetIntervalHistogram(_spare[k]);
            _totals[k].Add(interval[k]);
        }

        var live = _liveLatency.GetIntervalHistogram(_spareLive);
        _liveLatencyTotal.Add(live);
        var now = (Requests, Bytes, Errors, Stalls);
        var sample = new IntervalSample(second, Players, now.Requests - _last.Requests, now.Bytes - _last.Bytes, now.Errors - _last.Errors,
            now.Stalls - _last.Stalls,
            Milliseconds(interval[(int)RequestKind.Segment], 50), Milliseconds(interval[(int)RequestKind.Segment], 99),
            Milliseconds(interval[(int)RequestKind.Segment], 99.9),
            Milliseconds(interval[(int)RequestKind.Playlist], 50), Milliseconds(interval[(int)RequestKind.Playlist], 99),
            Milliseconds(live, 50), serverRetransmits);
        _last = now;
        _spare = interval!;
        _spareLive = live;
        return sample;
    }

    /// <summary>"status 404 x3, timeout x1" (empty when nothing failed).</summary>
    public long ErrorsOf(ErrorKind kind) => Interlocked.Read(in _errorsByKind[(int)kind]);

    public string DescribeErrors()
    {
        var parts = new List<string>();
        foreach (var (status, n) in _statuses)
        {
            parts.Add($"status {status} x{n}");
        }

        for (var e = 0; e < _errorsByKind.Length; e++)
        {
            var n = Interlocked.Read(in _errorsByKind[e]);
            if ((ErrorKind)e != ErrorKind.Status && n > 0)
            {
                parts.Add($"{((ErrorKind)e).ToString().ToLowerInvariant()} x{n}");
            }
        }

        return string.Join(", ", parts);
    }

    public static double Milliseconds(HistogramBase histogram, double percentile) =>
        histogram.TotalCount == 0 ? double.NaN : histogram.GetValueAtPercentile(percentile) / 1000.0;

    private static Recorder NewRecorder() =>
        HistogramFactory.With64BitBucketSize().WithValuesUpTo(HighestMicroseconds).WithPrecisionOf(3).WithThreadSafeWrites().WithThreadSafeReads().Create();
}
