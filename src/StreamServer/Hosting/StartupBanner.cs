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
            Console.WriteLine();
            Console.WriteLine("StreamServer is up.");
            foreach (var address in addresses)
            {
                var a = address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
                Console.WriteLine($"  HLS   {a}/vod/{id}/master.m3u8");
                Console.WriteLine($"  DASH  {a}/vod/{id}/manifest.mpd");
            }

            var rtmpPort = app.Services.GetRequiredService<StreamServerOptions>().RtmpPort;
            if (rtmpPort >= 0)
            {
                Console.WriteLine($"  RTMP  rtmp://127.0.0.1:{rtmpPort}/live/<channel>?key=<key>");
            }

            Console.WriteLine($"  ops   /metrics  /healthz   admin API /api/vod (Authorization: Bearer <token>)");
            // Where the token is, never the token: stdout ends up in journals and CI logs.
            Console.WriteLine(token.StoredAt is { } file
                ? $"  admin token: {(token.Generated ? "generated into" : "in")} {file} (readable by this user only)"
                : "  admin token: as configured (StreamServer:AdminToken)");
            Console.WriteLine();
        });
    }
}
