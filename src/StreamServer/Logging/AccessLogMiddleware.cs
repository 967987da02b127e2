using System.Diagnostics;

namespace StreamServer.Logging;

/// <summary>Access-log entries for every request Kestrel's pipeline answers (HTTP/2, TLS, API, and HTTP/1.1 not served zero-copy).</summary>
internal static class AccessLogMiddleware
{
    public static void UseAccessLog(this WebApplication app)
    {
        var log = app.Services.GetRequiredService<AccessLog>();
        if (!log.Enabled)
        {
            return; // nothing in the pipeline at all when the log is off
        }

        app.Use(async (ctx, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(ctx);
            }
            finally
            {
                log.Record(new AccessLogEntry(DateTimeOffset.UtcNow, ctx.Request.Method,
                    ctx.Request.QueryString.HasValue ? (ctx.Request.Path.Value ?? "/") + ctx.Request.QueryString.Value : ctx.Request.Path.Value ?? "/", ctx.Request.Protocol,
                    ctx.Response.StatusCode, ctx.Response.ContentLength ?? -1, Stopwatch.GetElapsedTime(started).TotalMilliseconds, ctx.Connection.Id, 0,
                    ctx.TraceIdentifier, ctx.Connection.RemoteIpAddress is { } ip ? new System.Net.IPEndPoint(ip, ctx.Connection.RemotePort) : null));
            }
        });
    }
}
