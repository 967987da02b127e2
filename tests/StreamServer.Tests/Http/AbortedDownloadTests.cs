using System.Net;
using System.Net.Sockets;
using System.Text;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Http;

/// <summary>Clients that vanish mid-sendfile must leave no descriptor, lease or task behind.</summary>
[Collection(ServerTestsCollection.Name)]
public class AbortedDownloadTests
{
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("GET /vod/clip/big.m4s HTTP/1.1\r\nHost: a\r\n\r\n");

    [Fact]
    public async Task ThousandAbortedDownloadsLeaveDescriptorsAndLeasesAtBaseline()
    {
        using var data = new TempDir("ss-abort");
        await TestLibrary.PublishAsync(data.Path);
        await using var server = await RunningServer.StartProcessAsync(data.Path);
        var endpoint = new IPEndPoint(IPAddress.Loopback, server.HttpUri.Port);

        // Warm-up: the file cache entry, the writable-waiter epoll fd and the metrics path exist before the baseline.
        for (var i = 0; i < 20; i++)
        {
            await AbortedDownloadAsync(endpoint, i);
        }

        // The baseline is taken once the warm-up's resets are noticed (no lease held) and the descriptor count is steady.
        await Eventually.TrueAsync(async () => RunningServer.Sample(await server.MetricsAsync(), "streamserver_vod_file_leases") == 0,
            TimeSpan.FromSeconds(15), () => "warm-up leases still held");
        var baseline = await server.SteadyDescriptorsAsync();

        var next = 0;
        var workers = Enumerable.Range(0, 8).Select(async _ =>
        {
            int n;
            while ((n = Interlocked.Increment(ref next)) <= 1000)
            {
                await AbortedDownloadAsync(endpoint, n);
            }
        });
        await Task.WhenAll(workers);

        // The server notices each reset at its next send (or writable wakeup); give it a moment.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        int fds;
        double leases;
        while (true)
        {
            var metrics = await server.MetricsAsync();
            leases = RunningServer.Sample(metrics, "streamserver_vod_file_leases");
            fds = server.OpenDescriptors();
            if ((fds <= baseline && leases == 0) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.Equal(0, leases);
        Assert.True(fds <= baseline, $"open descriptors {fds}, baseline {baseline}");

        // And it still serves whole segments.
        using var client = new HttpClient { BaseAddress = server.HttpUri };
        Assert.Equal((await TestLibrary.ReadAsync("big.m4s")).Length, (await client.GetByteArrayAsync("/vod/clip/big.m4s")).Length);
    }

    /// <summary>Requests a 1 MiB segment with a tiny receive window, reads a little (or nothing), then resets.</summary>
    private static async Task AbortedDownloadAsync(IPEndPoint endpoint, int n)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(endpoint);
        await socket.SendAsync(Request);
        if (n % 2 == 0)
        {
            var buffer = new byte[1 + (n % 7 * 1000)];
            await socket.ReceiveAsync(buffer);
        }
        else
        {
            await Task.Delay(1);
        }

        socket.LingerState = new LingerOption(true, 0); // close = RST, the rudest way to vanish
        socket.Close();
    }
}
