using System.Diagnostics;
using System.Globalization;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Http;

/// <summary>
/// Slow and stuck clients at once, in a network namespace with 5 % packet loss and a 4 KiB receive window: slowloris
/// heads, readers that stop reading a 1 MiB segment with a full window, slow readers, and ordinary players beside them.
/// The heads and the stopped readers are reclaimed by their timeouts (RequestHeadersTimeoutSeconds, SendTimeoutSeconds),
/// the slow readers finish, and every player request is served.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public sealed class SlowClientTests
{
    [Fact]
    public async Task Slowloris_heads_and_stopped_readers_are_reclaimed_under_loss_while_players_are_served()
    {
        var missing = Capabilities.IsRoot ? Capabilities.MissingTool("ip", "nft", "curl", "bash") : "network namespaces need root";
        Assert.SkipWhen(missing is not null, missing ?? "");
        await using var netns = await NetworkNamespace.CreateAsync(mtu: 1500);
        var port = 20000 + Random.Shared.Next(20000);
        await using var server = await RunningServer.StartProcessAsync(netns, port,
            "--StreamServer:Transport:SendTimeoutSeconds=3", "--StreamServer:Http1:RequestHeadersTimeoutSeconds=2");
        await TestLibrary.PublishAsync(server.DataDir);
        await server.GetAsync("/vod/clip/media.m3u8");
        var baseline = server.OpenSockets();
        (await netns.ExecAsync(["sh", "-c", "echo 4096 4096 4096 > /proc/sys/net/ipv4/tcp_rmem"])).EnsureSuccess("tcp_rmem");
        await netns.AddRandomDropAsync(port, oneIn: 20);

        using var work = new TempDir("ss-slow");
        const int Heads = 20, Stopped = 20, Slow = 5;
        var url = $"http://127.0.0.1:{port}";
        var script = $$"""
            cd {{work.Path}}
            for i in $(seq 1 {{Heads}}); do
              ( exec 3<>/dev/tcp/127.0.0.1/{{port}}; printf 'GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\n' >&3
                for s in $(seq 1 20); do printf 'X-Slow: %d\r\n' $s >&3 2>/dev/null || break; sleep 1; done ) &
            done
            for i in $(seq 1 {{Stopped}}); do
              ( exec 3<>/dev/tcp/127.0.0.1/{{port}}; printf 'GET /vod/clip/big.m4s HTTP/1.1\r\nHost: a\r\n\r\n' >&3; sleep 20 ) &
            done
            for i in $(seq 1 {{Slow}}); do
              curl -s -o /dev/null --limit-rate 300k --max-time 60 -w '%{http_code} %{size_download}\n' {{url}}/vod/clip/big.m4s >> slow.txt &
            done
            end=$(( $(date +%s) + 12 ))
            while [ $(date +%s) -lt $end ]; do
              for f in media.m3u8 seg_000.m4s; do
                curl -s -o /dev/null --max-time 10 -w '%{http_code} %{time_total}\n' {{url}}/vod/clip/$f >> players.txt
              done
            done
            wait
            """;
        var run = netns.ExecAsync(["bash", "-c", script], TimeSpan.FromMinutes(2));

        // The server's side: the stuck connections arrive, then go within their timeouts while the players keep coming.
        var clock = Stopwatch.StartNew();
        var samples = new List<(double T, int Sockets)>();
        while (!run.IsCompleted)
        {
            samples.Add((clock.Elapsed.TotalSeconds, server.OpenSockets() - baseline));
            await Task.WhenAny(run, Task.Delay(250));
        }

        (await run).EnsureSuccess("clients");
        await netns.RemoveDropsAsync();
        var peak = samples.Max(s => s.Sockets);
        var late = samples.Where(s => s.T is >= 9 and <= 12).Select(s => s.Sockets).DefaultIfEmpty(int.MaxValue).Max();
        var players = File.ReadAllLines(work.Combine("players.txt")).Select(l => l.Split(' ')).ToList();
        var slow = File.ReadAllLines(work.Combine("slow.txt"));
        var slowest = players.Max(p => double.Parse(p[1], CultureInfo.InvariantCulture));
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"server sockets above baseline: peak {peak}, 9-12 s {late}; players {players.Count} requests, slowest {slowest:0.00} s; slow readers: {string.Join(", ", slow)}"));

        Assert.True(peak >= Heads + Stopped, $"only {peak} connections seen at once");
        Assert.True(late <= Slow + 2, $"{late} connections still open 9-12 s in: heads or stopped readers were not reclaimed");
        Assert.True(players.Count >= 10 && players.All(p => p[0] == "200"), $"players: {string.Join("; ", players.Select(p => string.Join(' ', p)))}");
        Assert.Equal(Slow, slow.Length);
        var whole = $"200 {(await TestLibrary.ReadAsync("big.m4s")).Length}";
        Assert.All(slow, s => Assert.Equal(whole, s));
    }
}
