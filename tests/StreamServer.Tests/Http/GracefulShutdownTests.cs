using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Http;

/// <summary>
/// SIGTERM while 500 clients are in the middle of a 1 MiB segment: every response in flight completes (all its bytes,
/// then the connection closes), new connections are refused, and the process exits well within the drain timeout. A
/// response that would take minutes is cut at ShutdownTimeoutSeconds and the process still exits cleanly.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public sealed class GracefulShutdownTests
{
    private const int Clients = 500;

    [Fact]
    public async Task Sigterm_with_500_clients_mid_download_completes_every_response_and_exits_in_time()
    {
        using var data = new TempDir("ss-drain");
        await TestLibrary.PublishAsync(data.Path);
        var expected = (await TestLibrary.ReadAsync("big.m4s")).Length;
        await using var server = await RunningServer.StartProcessAsync(data.Path);
        var endpoint = server.HttpUri;

        // Each client reads 16 KiB every 20 ms through a 16 KiB receive buffer: ~0.8 MB/s, about 1.3 s per segment.
        var started = 0;
        var outcomes = new string[Clients];
        var clients = Enumerable.Range(0, Clients).Select(i => Task.Run(async () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 * 1024 };
            await socket.ConnectAsync(endpoint.Host, endpoint.Port);
            await socket.SendAsync(Encoding.ASCII.GetBytes("GET /vod/clip/big.m4s HTTP/1.1\r\nHost: a\r\n\r\n"));
            var buffer = new byte[16 * 1024];
            var received = new MemoryStream();
            var headEnd = -1;
            var announced = -1L;
            Interlocked.Increment(ref started);
            try
            {
                int n;
                while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(30))) > 0)
                {
                    received.Write(buffer, 0, n);
                    if (headEnd < 0 && (headEnd = Encoding.Latin1.GetString(received.GetBuffer(), 0, (int)received.Length).IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
                    {
                        var head = Encoding.Latin1.GetString(received.GetBuffer(), 0, headEnd);
                        var line = head.Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                        announced = long.Parse(line["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture);
                    }

                    await Task.Delay(20);
                }
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                outcomes[i] = $"{e.GetType().Name} after {received.Length} bytes";
                return;
            }

            var body = headEnd < 0 ? -1 : received.Length - headEnd - 4;
            outcomes[i] = body == announced && announced == expected ? "complete" : $"cut: {body} of {announced} body bytes";
        })).ToArray();

        await Eventually.TrueAsync(() => Volatile.Read(ref started) == Clients, TimeSpan.FromSeconds(30), () => $"{started} clients started");
        await Task.Delay(300); // all of them mid-body
        var clock = Stopwatch.StartNew();
        var exit = await server.StopAsync(TimeSpan.FromSeconds(30));
        var exited = clock.Elapsed;
        await Task.WhenAll(clients);

        var complete = outcomes.Count(o => o == "complete");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"exit code {exit} after {exited.TotalSeconds:0.0} s; {complete} of {Clients} responses complete; others: {string.Join("; ", outcomes.Where(o => o != "complete").Distinct().Take(5))}");
        Assert.Equal(0, exit);
        Assert.Equal(Clients, complete);
        Assert.True(exited < TimeSpan.FromSeconds(15), $"took {exited.TotalSeconds:0.0} s to exit");

        // Gone: nothing listens any more.
        using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await Assert.ThrowsAnyAsync<SocketException>(async () => await late.ConnectAsync(endpoint.Host, endpoint.Port));
    }

    [Fact]
    public async Task A_response_that_outlasts_ShutdownTimeoutSeconds_is_cut_and_the_server_exits_on_time()
    {
        using var data = new TempDir("ss-drain-limit");
        await TestLibrary.PublishAsync(data.Path);
        const long size = 256L << 20;
        await using (var file = File.Create(Path.Combine(data.Path, "vod", "clip", "huge.m4s")))
        {
            file.SetLength(size); // sparse: read as zeros, sent by sendfile like any segment
        }

        await using var server = await RunningServer.StartProcessAsync(data.Path, "--StreamServer:ShutdownTimeoutSeconds=2");
        var endpoint = server.HttpUri;

        // A reader that keeps making progress (so no send timeout closes it) but would need minutes for the whole body.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 * 1024 };
        await socket.ConnectAsync(endpoint.Host, endpoint.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /vod/clip/huge.m4s HTTP/1.1\r\nHost: a\r\n\r\n"));
        long received = 0;
        var firstBytes = new TaskCompletionSource();
        var reader = Task.Run(async () =>
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int n;
                while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(60))) > 0)
                {
                    Interlocked.Add(ref received, n);
                    firstBytes.TrySetResult();
                    await Task.Delay(50);
                }
            }
            catch (SocketException)
            {
            }
        });
        await firstBytes.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var clock = Stopwatch.StartNew();
        var exit = await server.StopAsync(TimeSpan.FromSeconds(60));
        var exited = clock.Elapsed;
        await reader.WaitAsync(TimeSpan.FromSeconds(30));
        TestContext.Current.TestOutputHelper?.WriteLine($"exit code {exit} after {exited.TotalSeconds:0.0} s; {Interlocked.Read(ref received)} of {size} bytes received");

        // It waited for the response (the drain), then closed it at the limit instead of the host's 30 s default.
        Assert.InRange(exited.TotalSeconds, 1.5, 12);
        Assert.InRange(Interlocked.Read(ref received), 1, size / 2);
        Assert.Equal(0, exit);
    }
}
