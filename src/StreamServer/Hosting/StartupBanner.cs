using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using StreamServer.Admin;

namespace StreamServer.Hosting;

/// <summary>Prints where to point a player and where the admin token is once the listeners are up.</summary>
internal static class StartupBanner
{
    public static void Register(WebApplication app)
    {
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var token = app.Services.GetRequiredService<AdminToken>();
            var id = SampleBootstrap.SampleId;
            var banner = new System.Text.StringBuilder();
            banner.AppendLine();
            banner.AppendLine("StreamServer is up.");
            foreach (var address in addresses)
            {
                var a = address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
                banner.AppendLine($"  HLS   {a}/vod/{id}/master.m3u8");
                banner.AppendLine($"  DASH  {a}/vod/{id}/manifest.mpd");
            }

            var rtmpPort = app.Services.GetRequiredService<StreamServerOptions>().RtmpPort;
            if (rtmpPort >= 0)
            {
                banner.AppendLine($"  RTMP  rtmp://127.0.0.1:{rtmpPort}/live/<channel>?key=<key>");
            }

            banner.AppendLine($"  ops   /metrics  /healthz   admin API /api/vod (Authorization: Bearer <token>)");
            // Where the token is, never the token: stdout ends up in journals and CI logs.
            banner.AppendLine(token.StoredAt is { } file
                ? $"  admin token: {(token.Generated ? "generated into" : "in")} {file} (readable by this user only)"
                : "  admin token: as configured (StreamServer:AdminToken)");
            if (app.Services.GetRequiredService<StreamServerOptions>().Logging.Format == "json")
            {
                // Standard output holds one JSON object per line in this format: the banner is a log message too.
                app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("StreamServer.Startup").LogInformation("{Banner}", banner.ToString().Trim());
            }
            else
            {
                banner.AppendLine();
                Console.Write(banner.ToString());
            }
        });
    }
}
