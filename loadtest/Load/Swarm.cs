using System.Diagnostics;
using System.Globalization;
using System.Net;
using StreamServer.LoadTest.Players;
using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.Load;

/// <summary>
/// Runs players as a load simulation says and samples them once per second: a progress row on the console, a point on
/// the report's timeline and, when the server's /metrics is given, its retransmit counter alongside. Each player has its
/// own HttpClient (its own connections, reused across its requests).
/// </summary>
internal sealed class Swarm(LoadSimulation simulation, PlayerOptions options, Func<PlayerHttp, IPlayer> newPlayer, Uri? serverMetrics, bool progress)
{
    public SwarmMetrics Metrics { get; } = new();

    public List<IntervalSample> Timeline { get; } = [];

    public async Task RunAsync(CancellationToken ct)
    {
        using var end = CancellationTokenSource.CreateLinkedTokenSource(ct);
        end.CancelAfter(simulation.Duration);
        var clock = Stopwatch.StartNew();
        var playersDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sampler = SampleAsync(clock, playersDone.Task);
        var players = new List<Task>();
        if (simulation.IsOpen)
        {
            await InjectAsync(players, clock, end.Token);
        }
        else
        {
            for (var i = 0; i < simulation.Players && !end.IsCancellationRequested; i++)
            {
                var due = simulation.Ramp * ((double)i / simulation.Players);
                if (due > clock.Elapsed)
                {
                    await Delay(due - clock.Elapsed, end.Token);
                }

                players.Add(Task.Run(() => ViewerAsync(Timeout.InfiniteTimeSpan, end.Token), CancellationToken.None));
            }
        }

        await Task.WhenAll(players);
        playersDone.SetResult(); // the last sample is taken after every player's last request, so the timeline adds up to the totals
        await sampler;
    }

    private async Task InjectAsync(List<Task> players, Stopwatch clock, CancellationToken ct)
    {
        var interval = TimeSpan.FromSeconds(1 / simulation.InjectPerSecond);
        for (long n = 0; !ct.IsCancellationRequested; n++)
        {
            var due = interval * n;
            if (due > clock.Elapsed)
            {
                await Delay(due - clock.Elapsed, ct);
            }

            if (ct.IsCancellationRequested)
            {
                break;
            }

            if (Metrics.Players >= simulation.Players)
            {
                continue; // at the cap: this arrival is turned away, as a full origin would be
            }

            players.Add(Task.Run(() => ViewerAsync(simulation.Session, ct), CancellationToken.None));
        }
    }

    /// <summary>One viewer slot: sessions back to back until <paramref name="session"/> (infinite: the run) is over.</summary>
    private async Task ViewerAsync(TimeSpan session, CancellationToken runEnd)
    {
        using var leave = CancellationTokenSource.CreateLinkedTokenSource(runEnd);
        if (session != Timeout.InfiniteTimeSpan)
        {
            leave.CancelAfter(session);
        }

        HttpMessageHandler handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
            AutomaticDecompression = DecompressionMethods.None,
        };
        var validator = options.Validate ? new LowLatencyHlsValidator(handler) : null;
        using var client = new HttpClient(validator ?? handler) { Timeout = TimeSpan.FromSeconds(30) };
        var player = newPlayer(new PlayerHttp(client, options.HttpVersion, options.CapBitsPerSecond, Metrics));
        Metrics.PlayerStarted();
        try
        {
            while (!leave.IsCancellationRequested)
            {
                await player.WatchAsync(leave.Token);
            }
        }
        catch (OperationCanceledException) when (leave.IsCancellationRequested)
        {
        }
        finally
        {
            Metrics.PlayerLeft();
            if (validator is not null)
            {
                Metrics.Validated(validator.Validated, validator.IndependentPartsChecked);
            }
        }
    }

    private async Task SampleAsync(Stopwatch clock, Task playersDone)
    {
        using var scrape = serverMetrics is null ? null : new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        double? lastRetransmits = scrape is null ? null : await RetransmitsAsync(scrape);
        if (progress)
        {
            Console.WriteLine("  time  players    req/s    MiB/s  seg p50 ms  p99 ms  p99.9 ms  playlist p99  stalls  errors" + (scrape is null ? "" : "  retrans"));
        }

        var tick = 1;
        while (true)
        {
            var wait = TimeSpan.FromSeconds(tick) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.WhenAny(Task.Delay(wait), playersDone);
            }

            var stopping = playersDone.IsCompleted;
            double? retransmits = null;
            if (scrape is not null && await RetransmitsAsync(scrape) is { } now)
            {
                retransmits = lastRetransmits is { } before ? now - before : null;
                lastRetransmits = now;
            }

            var s = Metrics.TakeInterval(clock.Elapsed.TotalSeconds, retransmits);
            if (stopping && Timeline.Count > 0 && s.Second - Timeline[^1].Second < 0.25)
            {
                // The run's last sliver is too short to be a point of its own: its counts join the last second's.
                var p = Timeline[^1];
                Timeline[^1] = p with
                {
                    Requests = p.Requests + s.Requests,
                    Bytes = p.Bytes + s.Bytes,
                    Errors = p.Errors + s.Errors,
                    Stalls = p.Stalls + s.Stalls,
                    ServerRetransmits = p.ServerRetransmits is null && s.ServerRetransmits is null ? null : (p.ServerRetransmits ?? 0) + (s.ServerRetransmits ?? 0),
                };
                return;
            }

            Timeline.Add(s);
            if (progress)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{s.Second,6:F0}  {s.Players,7}  {s.Requests,7}  {s.Bytes / 1048576.0,7:F1}  {s.SegmentP50Ms,10:F2}  {s.SegmentP99Ms,6:F1}  {s.SegmentP999Ms,8:F1}  {s.PlaylistP99Ms,12:F2}  {s.Stalls,6}  {s.Errors,6}{(retransmits is { } r ? $"  {r,7:F0}" : "")}"));
            }

            if (stopping)
            {
                return;
            }

            tick++;
        }
    }

    /// <summary>The server's retransmitted segments (both sides) from its /metrics; null when it cannot be read.</summary>
    private async Task<double?> RetransmitsAsync(HttpClient scrape)
    {
        try
        {
            var text = await scrape.GetStringAsync(serverMetrics);
            double total = 0;
            var found = false;
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith("streamserver_tcp_retransmits_total{", StringComparison.Ordinal))
                {
                    total += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
                    found = true;
                }
            }

            return found ? total : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or FormatException)
        {
            return null;
        }
    }

    private static async Task Delay(TimeSpan wait, CancellationToken ct)
    {
        if (wait <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await Task.Delay(wait, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
