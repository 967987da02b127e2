using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SkiaSharp;

namespace StreamServer.Charts.Bench;

/// <summary>
/// Event to pixel, run inside the server's network namespace as root: packet loss switched on for one download makes
/// the kernel retransmit; the first retransmit's timestamp (the server's own event stream, the kernel's clock) to the
/// first retransmits chart whose newest seconds show it. The chart's own traffic causes no retransmits once the loss is
/// off again, so a quiet chart stays quiet until the burst.
/// </summary>
internal static class EventToPixel
{
    public static async Task RunAsync(Uri server, string token, string segmentPath, int rounds)
    {
        using var http = new HttpClient { BaseAddress = server };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var stop = new CancellationTokenSource();
        var firstEvent = new DateTimeOffset?[1];
        var events = FollowAsync(http, firstEvent, stop.Token);
        var latencies = new List<double>();
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                var quiet = Stopwatch.StartNew();
                while (await NewestRedAsync(http) > 0)
                {
                    if (quiet.Elapsed > TimeSpan.FromSeconds(30))
                    {
                        throw new TimeoutException("the retransmits chart never went quiet");
                    }

                    await Task.Delay(200);
                }

                lock (firstEvent)
                {
                    firstEvent[0] = null;
                }

                await Nft($"add rule inet chartbench input tcp sport {server.Port} numgen random mod 4 == 0 drop");
                try
                {
                    using var plain = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };
                    await plain.GetByteArrayAsync(segmentPath);
                }
                finally
                {
                    await Nft("flush chain inet chartbench input");
                }

                DateTimeOffset? seen = null;
                var waited = Stopwatch.StartNew();
                while (seen is null)
                {
                    if (waited.Elapsed > TimeSpan.FromSeconds(10))
                    {
                        throw new TimeoutException("the retransmits never showed in the chart");
                    }

                    if (await NewestRedAsync(http) > 0)
                    {
                        seen = DateTimeOffset.UtcNow;
                    }
                    else
                    {
                        await Task.Delay(50);
                    }
                }

                DateTimeOffset? at;
                lock (firstEvent)
                {
                    at = firstEvent[0];
                }

                if (at is null)
                {
                    throw new InvalidOperationException("the chart showed retransmits the event stream did not report");
                }

                latencies.Add((seen.Value - at.Value).TotalMilliseconds);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await events;
        }

        latencies.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"event to pixel over {rounds} retransmit bursts: p50 {latencies[latencies.Count / 2]:F0} ms, max {latencies[^1]:F0} ms (target < 1200 ms)"));
    }

    public static Task Setup() => Nft("add table inet chartbench").ContinueWith(_ =>
        Nft("add chain inet chartbench input { type filter hook input priority 0; policy accept; }")).Unwrap();

    private static async Task Nft(string command)
    {
        var psi = new ProcessStartInfo("nft") { RedirectStandardError = true };
        foreach (var part in command.Split(' '))
        {
            psi.ArgumentList.Add(part);
        }

        using var nft = Process.Start(psi)!;
        await nft.WaitForExitAsync();
        if (nft.ExitCode != 0)
        {
            throw new InvalidOperationException($"nft {command}: {await nft.StandardError.ReadToEndAsync()}");
        }
    }

    /// <summary>Records the time of the first retransmit event after each reset.</summary>
    private static async Task FollowAsync(HttpClient http, DateTimeOffset?[] first, CancellationToken stop)
    {
        try
        {
            using var response = await http.GetAsync("/api/trace/events", HttpCompletionOption.ResponseHeadersRead, stop);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop));
            var type = "";
            while (await reader.ReadLineAsync(stop) is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    type = line[7..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && type == "retransmit")
                {
                    using var doc = JsonDocument.Parse(line[6..]);
                    var time = doc.RootElement.GetProperty("time").GetDateTimeOffset();
                    lock (first)
                    {
                        first[0] ??= time;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Red (the server side's fill) pixels in the rightmost 12 % of a 10 s chart: its newest second or so.</summary>
    private static async Task<int> NewestRedAsync(HttpClient http)
    {
        var png = await http.GetByteArrayAsync($"/api/trace/charts/retransmits.png?window=10s&width=1000&height=300&t={Stopwatch.GetTimestamp()}");
        using var bitmap = SKBitmap.Decode(png);
        var n = 0;
        for (var y = 40; y < bitmap.Height - 50; y++)
        {
            for (var x = (int)(bitmap.Width * 0.88); x < bitmap.Width - 15; x++)
            {
                var c = bitmap.GetPixel(x, y);
                n += c.Red > 230 && c.Green is > 80 and < 130 && c.Blue is > 30 and < 80 ? 1 : 0;
            }
        }

        return n;
    }
}
