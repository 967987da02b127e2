using System.Net.Sockets;
using System.Text;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;

namespace StreamServer.Tests.Http;

/// <summary>
/// Managed bytes the whole process allocates per request on the zero-copy path (GC.GetTotalAllocatedBytes
/// counts every thread: Kestrel's transport, timers, the test client). The client is a synchronous
/// socket with preallocated buffers so it adds nothing per request itself.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class AllocationPerRequestTests
{
    private const long Budget = 256;

    [Fact]
    public async Task PlaylistsAndSegmentsAllocateWithinBudget()
    {
        await using var server = await RunningServer.StartAsync(tls: false);
        await TestLibrary.PublishAsync(server.DataDir);
        // GC.GetTotalAllocatedBytes sees every thread of the test process, so a background burst (tiered JIT,
        // a timer, the runner) can land in one window; a real per-request allocation shows in every window.
        var playlist = double.MaxValue;
        var segment = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            playlist = Math.Min(playlist, await Measure(server, "/vod/clip/media.m3u8", batch: 32, requests: 20_000));
            segment = Math.Min(segment, await Measure(server, "/vod/clip/big.m4s", batch: 4, requests: 1_000));
        }

        // The same figure is published for operators.
        using var client = server.CreateHttpClient();
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("streamserver_http_allocated_bytes_per_request ", metrics);

        Assert.True(playlist <= Budget && segment <= Budget, $"allocated per request: playlist {playlist:F1} B, segment {segment:F1} B (budget {Budget} B)");
    }

    private static Task<double> Measure(RunningServer server, string path, int batch, int requests) => Task.Run(() =>
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 5000 };
        socket.Connect(server.HttpUri.Host, server.HttpUri.Port);
        var one = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
        var many = new byte[one.Length * batch];
        for (var i = 0; i < batch; i++)
        {
            one.CopyTo(many, i * one.Length);
        }

        var buffer = new byte[4 << 20];

        // Learn the exact response size, then warm up (JIT, caches, metric series).
        socket.Send(one);
        var responseBytes = ReadOneResponseLength(socket, buffer);
        RunBatches(socket, many, buffer, responseBytes * batch, 2000 / batch + 1);

        var before = GC.GetTotalAllocatedBytes(precise: true);
        var batches = requests / batch;
        RunBatches(socket, many, buffer, responseBytes * batch, batches);
        var after = GC.GetTotalAllocatedBytes(precise: true);
        return (double)(after - before) / (batches * batch);
    });

    private static void RunBatches(Socket socket, byte[] requests, byte[] buffer, long expected, int batches)
    {
        for (var b = 0; b < batches; b++)
        {
            socket.Send(requests);
            var got = 0L;
            while (got < expected)
            {
                int n;
                try
                {
                    n = socket.Receive(buffer);
                }
                catch (SocketException e)
                {
                    throw new IOException($"batch {b}: got {got} of {expected} bytes", e);
                }

                if (n <= 0)
                {
                    throw new IOException("server closed the connection");
                }

                got += n;
            }
        }
    }

    private static long ReadOneResponseLength(Socket socket, byte[] buffer)
    {
        var got = 0;
        while (true)
        {
            got += socket.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
            var text = Encoding.Latin1.GetString(buffer, 0, got);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0)
            {
                continue;
            }

            var cl = text.IndexOf("Content-Length: ", StringComparison.Ordinal) + 16;
            var length = long.Parse(text[cl..text.IndexOf('\r', cl)]);
            var total = end + 4 + length;
            while (got < total)
            {
                got += socket.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
            }

            return total;
        }
    }
}
