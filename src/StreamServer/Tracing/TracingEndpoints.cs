using System.Buffers;
using System.Text.Json;
using StreamServer.Hosting;

namespace StreamServer.Tracing;

/// <summary>Hooks the tracers into the host: <c>AddTracing</c> (services) and <c>MapTracing</c> (/api/trace/events).</summary>
public static class TracingEndpoints
{
    public static IServiceCollection AddTracing(this IServiceCollection services, StreamServerOptions options)
    {
        _ = options;
        services.AddSingleton<TracingService>();
        services.AddHostedService(static sp => sp.GetRequiredService<TracingService>());
        return services;
    }

    public static WebApplication MapTracing(this WebApplication app)
    {
        // Resolve now so /healthz and /metrics know about the tracers from the first request.
        var service = app.Services.GetRequiredService<TracingService>();
        app.MapGet("/api/trace/events", (HttpContext ctx) => StreamEventsAsync(ctx, service));
        return app;
    }

    /// <summary>
    /// Server-sent events: the recent backlog, then live retransmits and stalls; a comment line every 15 s
    /// keeps proxies from closing an idle stream. Ends when the client goes or the server stops.
    /// </summary>
    private static async Task StreamEventsAsync(HttpContext ctx, TracingService service)
    {
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-store";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, service.Stopping);
        using var subscription = service.Hub.Subscribe();
        var buffer = new ArrayBufferWriter<byte>(1024);
        using var json = new Utf8JsonWriter(buffer);
        try
        {
            await ctx.Response.WriteAsync(": streamserver trace events\n\n", cts.Token);
            foreach (var e in subscription.Backlog)
            {
                await WriteEventAsync(ctx, e, buffer, json, cts.Token);
            }

            await ctx.Response.Body.FlushAsync(cts.Token);
            while (!cts.IsCancellationRequested)
            {
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
                heartbeat.CancelAfter(TimeSpan.FromSeconds(15));
                bool ready;
                try
                {
                    ready = await subscription.Reader.WaitToReadAsync(heartbeat.Token);
                }
                catch (OperationCanceledException) when (!cts.IsCancellationRequested)
                {
                    await ctx.Response.WriteAsync(": keep-alive\n\n", cts.Token);
                    await ctx.Response.Body.FlushAsync(cts.Token);
                    continue;
                }

                if (!ready)
                {
                    break;
                }

                while (subscription.Reader.TryRead(out var e))
                {
                    await WriteEventAsync(ctx, e, buffer, json, cts.Token);
                }

                await ctx.Response.Body.FlushAsync(cts.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // Client gone or server stopping: the stream simply ends.
        }
    }

    private static async Task WriteEventAsync(HttpContext ctx, TraceEvent e, ArrayBufferWriter<byte> buffer, Utf8JsonWriter json, CancellationToken ct)
    {
        buffer.ResetWrittenCount();
        json.Reset(buffer);
        e.WriteJson(json);
        json.Flush();
        await ctx.Response.WriteAsync("event: " + e.Type + "\ndata: ", ct);
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
        await ctx.Response.WriteAsync("\n\n", ct);
    }
}
