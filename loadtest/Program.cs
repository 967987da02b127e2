using System.Diagnostics;
using System.Globalization;
using System.Net;
using StreamServer.LoadTest;

// Player-like load: N virtual players each fetch master -> media playlist -> init -> segments in
// order, at playback pace (segment i due at start + sum of EXTINF before it, after a 3-segment
// start-up buffer) or as fast as possible, and report TTFB / download time percentiles and throughput.
//   dotnet run --project loadtest -c Release -- --url http://127.0.0.1:8080/vod/sample/master.m3u8
//       [--players 20] [--seconds 30] [--pace realtime|max] [--http2]
var options = LoadOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: --url <master.m3u8 URL> [--players N] [--seconds S] [--pace realtime|max] [--http2]");
    return 2;
}

using var handler = new SocketsHttpHandler
{
    MaxConnectionsPerServer = options.Players,
    PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
    EnableMultipleHttp2Connections = true,
};
using var client = new HttpClient(handler)
{
    DefaultRequestVersion = options.Http2 ? HttpVersion.Version20 : HttpVersion.Version11,
    DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    Timeout = TimeSpan.FromSeconds(30),
};

var stats = new LoadStats();
using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(options.Seconds));
var clock = Stopwatch.StartNew();
var players = new Task[options.Players];
for (var i = 0; i < players.Length; i++)
{
    players[i] = new PlayerSession(client, options, stats, i).RunAsync(stop.Token);
}

await Task.WhenAll(players);
stats.Print(Console.Out, clock.Elapsed, options);
return stats.Errors > 0 && stats.Requests == 0 ? 1 : 0;

namespace StreamServer.LoadTest
{
    internal sealed record LoadOptions(Uri Url, int Players, int Seconds, bool Realtime, bool Http2)
    {
        public static LoadOptions? Parse(string[] args)
        {
            Uri? url = null;
            int players = 20, seconds = 30;
            bool realtime = true, http2 = false;
            for (var i = 0; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--url" when i + 1 < args.Length: url = new Uri(args[++i]); break;
                    case "--players" when i + 1 < args.Length: players = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                    case "--seconds" when i + 1 < args.Length: seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                    case "--pace" when i + 1 < args.Length: realtime = args[++i] != "max"; break;
                    case "--http2": http2 = true; break;
                    default: return null;
                }
            }

            return url is null ? null : new LoadOptions(url, Math.Max(1, players), Math.Max(1, seconds), realtime, http2);
        }
    }
}
