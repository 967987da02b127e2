using System.Globalization;
using StreamServer.Tracing;

namespace StreamServer.Charts;

/// <summary>
/// GET /api/trace/charts/{send-latency|retransmits|requests|live}.{png|svg}?window=10m&amp;width=1200&amp;height=400 (bearer token, as all
/// of /api). Renders run on the thread pool, at most two at once, and are cached per (chart, format, window, size) until the
/// history changes (four times a second): a page or a bot polling gets the same bytes, an ETag and max-age=1.
/// </summary>
public static class ChartEndpoints
{
    public const int MinWindowSeconds = 10;
    private static readonly SemaphoreSlim Renders = new(2);

    public static IServiceCollection AddCharts(this IServiceCollection services)
    {
        services.AddSingleton<ChartHistory>();
        services.AddSingleton<ChartCache>();
        services.AddHostedService<ChartSampler>();
        return services;
    }

    public static void MapCharts(this WebApplication app)
    {
        var history = app.Services.GetRequiredService<ChartHistory>();
        var cache = app.Services.GetRequiredService<ChartCache>();
        app.MapGet("/api/trace/charts/{file}", async (HttpContext ctx, string file) =>
        {
            var dot = file.LastIndexOf('.');
            var name = dot < 0 ? file : file[..dot];
            ChartFormat? format = dot < 0 ? null : file[(dot + 1)..] switch { "png" => ChartFormat.Png, "svg" => ChartFormat.Svg, _ => null };
            if (name is not ("send-latency" or "retransmits" or "requests" or "live") || format is null)
            {
                return Results.Text("charts: send-latency, retransmits, requests, live (.png or .svg)\n", "text/plain; charset=utf-8", statusCode: 404);
            }

            if (!TryQuery(ctx.Request.Query, out var window, out var width, out var height, out var error))
            {
                return Results.Text(error + "\n", "text/plain; charset=utf-8", statusCode: 400);
            }

            var version = history.Version;
            var key = $"{file}?{window}&{width}x{height}@{version}";
            var etag = $"\"{key.GetHashCode(StringComparison.Ordinal):x8}-{version}\"";
            ctx.Response.Headers.CacheControl = "private, max-age=1";
            ctx.Response.Headers.ETag = etag;
            if (ctx.Request.Headers.IfNoneMatch == etag)
            {
                return Results.StatusCode(304);
            }

            var bytes = await cache.GetOrRenderAsync(key, async () =>
            {
                await Renders.WaitAsync(ctx.RequestAborted);
                try
                {
                    return await Task.Run(() =>
                    {
                        var data = history.Window(window);
                        return name switch
                        {
                            "send-latency" => ChartRenderer.SendLatency(data, width, height, format.Value),
                            "retransmits" => ChartRenderer.Retransmits(data, width, height, format.Value),
                            "live" => ChartRenderer.Live(data, width, height, format.Value),
                            _ => ChartRenderer.Requests(data, width, height, format.Value),
                        };
                    });
                }
                finally
                {
                    Renders.Release();
                }
            });
            return Results.Bytes(bytes, format == ChartFormat.Png ? "image/png" : "image/svg+xml");
        });
    }

    /// <summary>window 10 s .. 1 h ("90", "90s", "10m", "1h"), width 200..4000, height 100..2000.</summary>
    public static bool TryQuery(IQueryCollection query, out int windowSeconds, out int width, out int height, out string error)
    {
        windowSeconds = 600;
        width = 1200;
        height = 400;
        error = "";
        if (query.TryGetValue("window", out var w) && !TryDuration(w.ToString(), out windowSeconds))
        {
            error = "window: a duration like 90s, 10m or 1h";
            return false;
        }

        if (windowSeconds is < MinWindowSeconds or > ChartHistory.Capacity)
        {
            error = $"window: {MinWindowSeconds} s to 1 h";
            return false;
        }

        if (query.TryGetValue("width", out var x) && (!int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out width) || width is < 200 or > 4000))
        {
            error = "width: 200 to 4000 pixels";
            return false;
        }

        if (query.TryGetValue("height", out var y) && (!int.TryParse(y, NumberStyles.None, CultureInfo.InvariantCulture, out height) || height is < 100 or > 2000))
        {
            error = "height: 100 to 2000 pixels";
            return false;
        }

        return true;
    }

    private static bool TryDuration(string text, out int seconds)
    {
        seconds = 0;
        var (number, unit) = text.EndsWith('s') ? (text[..^1], 1) : text.EndsWith('m') ? (text[..^1], 60) : text.EndsWith('h') ? (text[..^1], 3600) : (text, 1);
        if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > 100_000)
        {
            return false;
        }

        seconds = n * unit;
        return true;
    }
}

/// <summary>Rendered charts of the current history version (a handful of entries: keys carry the version; emptied every second).</summary>
internal sealed class ChartCache
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Task<byte[]>> _entries = [];
    private long _second;

    public Task<byte[]> GetOrRenderAsync(string key, Func<Task<byte[]>> render)
    {
        lock (_gate)
        {
            var now = Environment.TickCount64 / 1000;
            if (now != _second)
            {
                _entries.Clear(); // a new second: everything older is stale
                _second = now;
            }

            if (!_entries.TryGetValue(key, out var task) || task.IsFaulted || task.IsCanceled)
            {
                task = render();
                _entries[key] = task;
            }

            return task;
        }
    }
}

/// <summary>
/// Feeds <see cref="ChartHistory"/> four times a second from the tracers' map totals, the request-duration histogram and
/// the live channels' series (each tick adds to the current second's row), so an event is in a chart within ~250 ms.
/// </summary>
internal sealed class ChartSampler(ChartHistory history, TracingService tracing, Metrics.PrometheusExporter exporter, Live.LiveChannelRegistry channels)
    : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(SampleAsync(stoppingToken), CountRetransmitsAsync(stoppingToken));

    /// <summary>Retransmit events by TCP state, which the map totals do not split.</summary>
    private async Task CountRetransmitsAsync(CancellationToken stoppingToken)
    {
        using var subscription = tracing.Hub.Subscribe();
        try
        {
            await foreach (var e in subscription.Reader.ReadAllAsync(stoppingToken))
            {
                if (e.Type == TraceEvent.RetransmitType)
                {
                    history.AddRetransmit(e.State, e.Segments);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SampleAsync(CancellationToken stoppingToken)
    {
        history.LiveDelayBuckets = Live.LivePackaging.PublishDelayBuckets;
        var requests = new Dictionary<string, long[]>(StringComparer.Ordinal);
        var delays = new Dictionary<string, long[]>(StringComparer.Ordinal);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                // Live series straight from the channels (not through the exporter's observable callbacks, which would
                // also run the runtime's and allocate on every tick).
                exporter.HistogramBy("streamserver_live_publish_delay_seconds", "channel", delays);
                foreach (var channel in channels.All)
                {
                    history.SampleLive(channel.Name, channel.IngestBytes, channel.Viewers.Count(), delays.GetValueOrDefault(channel.Name));
                }

                exporter.HistogramBy("streamserver_http_request_duration_seconds", "kind", requests);
                history.Sample(tracing.Snapshot(), requests, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
