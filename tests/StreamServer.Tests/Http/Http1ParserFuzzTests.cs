using System.Net.Sockets;
using System.Text;
using StreamServer.Http1;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;
using StreamServer.Vod;

namespace StreamServer.Tests.Http;

/// <summary>
/// Bounded-time fuzzing of the zero-copy request parser: random bytes and mutations of a kept corpus
/// (Http/Corpus/*.req, written with \r \n \0 escapes) against the parser's invariants, then a sample of
/// the same inputs against a live server, which must keep serving with no lease left behind.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class Http1ParserFuzzTests
{
    private static readonly byte[] Interesting = "\r\n\0 :%./\t\"?,-="u8.ToArray();

    internal static List<byte[]> LoadCorpus()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "Http", "Corpus");
        var seeds = new List<byte[]>();
        foreach (var file in Directory.GetFiles(dir, "*.req").Order(StringComparer.Ordinal))
        {
            var text = File.ReadAllText(file).Replace("\\r", "\r").Replace("\\n", "\n").Replace("\\0", "\0");
            seeds.Add(Encoding.Latin1.GetBytes(text));
        }

        return seeds;
    }

    internal static byte[] Mutate(Random rng, List<byte[]> seeds)
    {
        var input = new List<byte>(seeds[rng.Next(seeds.Count)]);
        var edits = 1 + rng.Next(4);
        for (var e = 0; e < edits; e++)
        {
            var at = input.Count == 0 ? 0 : rng.Next(input.Count);
            switch (rng.Next(7))
            {
                case 0 when input.Count > 0:
                    input[at] = (byte)rng.Next(256);
                    break;
                case 1:
                    input.Insert(at, Interesting[rng.Next(Interesting.Length)]);
                    break;
                case 2 when input.Count > 0:
                    input.RemoveRange(at, Math.Min(input.Count - at, 1 + rng.Next(8)));
                    break;
                case 3 when input.Count > 0:
                    var len = Math.Min(input.Count - at, 1 + rng.Next(32));
                    input.InsertRange(rng.Next(input.Count), input.GetRange(at, len));
                    break;
                case 4:
                    var other = seeds[rng.Next(seeds.Count)];
                    var from = rng.Next(other.Length);
                    input.InsertRange(at, other.AsSpan(from, Math.Min(other.Length - from, 1 + rng.Next(40))).ToArray());
                    break;
                case 5 when input.Count > 0:
                    input[at] = (byte)char.ToUpperInvariant((char)input[at]);
                    break;
                default:
                    input.InsertRange(at, Enumerable.Repeat((byte)'a', rng.Next(600)));
                    break;
            }
        }

        return [.. input];
    }

    [Fact]
    public void ParserKeepsItsInvariantsOnRandomAndMutatedInput()
    {
        var seeds = LoadCorpus();
        Assert.True(seeds.Count >= 8);
        var rng = new Random(20261122);
        var deadline = DateTime.UtcNow.AddSeconds(4);
        var runs = 0;
        var complete = 0;
        Span<char> path = stackalloc char[VodPath.MaxLength];
        while (DateTime.UtcNow < deadline)
        {
            byte[] input;
            if (runs % 5 == 0)
            {
                input = new byte[rng.Next(200)];
                rng.NextBytes(input);
            }
            else
            {
                input = Mutate(rng, seeds);
            }

            runs++;
            var request = default(Http1Request);
            var status = Http1RequestParser.Parse(input, 1024, 4096, 50, ref request);
            if (status != Http1ParseStatus.Complete)
            {
                continue;
            }

            complete++;
            var head = input.AsSpan(0, request.HeadLength);
            Assert.True(head.EndsWith("\r\n\r\n"u8), Describe(input));
            Assert.True(head.StartsWith("GET /"u8) || head.StartsWith("HEAD /"u8), Describe(input));
            Assert.True(request.Target.Length > 0 && request.Target[0] == (byte)'/', Describe(input));
            Assert.True(request.Target.IndexOfAnyInRange((byte)0, (byte)0x20) < 0, Describe(input));
            Assert.True(head.IndexOf((byte)0) < 0, "NUL accepted: " + Describe(input));
            Assert.True(head.IndexOf("\n "u8) < 0 && head.IndexOf("\n\t"u8) < 0, "obs-fold accepted: " + Describe(input));
            for (var i = 0; i < head.Length; i++)
            {
                Assert.True(head[i] != (byte)'\n' || (i > 0 && head[i - 1] == (byte)'\r'), "bare LF accepted: " + Describe(input));
            }

            // Every strict prefix of a complete head is just "read more".
            for (var cut = 0; cut < request.HeadLength; cut += 1 + (request.HeadLength / 16))
            {
                var partial = default(Http1Request);
                Assert.Equal(Http1ParseStatus.Incomplete, Http1RequestParser.Parse(input.AsSpan(0, cut), 1024, 4096, 50, ref partial));
            }

            if (VodPath.Decode(request.Target, path, out var written) == VodPathStatus.Valid)
            {
                var decoded = path[..written];
                Assert.True(decoded.IndexOf("/.") < 0 && decoded[0] != '.' && decoded.IndexOf('\\') < 0 && decoded.IndexOf('\0') < 0 && decoded.IndexOf("//") < 0,
                    "unsafe path accepted: " + decoded.ToString());
            }
        }

        Assert.True(runs > 1_000, $"only {runs} runs");
        Assert.True(complete > 100, $"only {complete} inputs parsed completely: mutations too destructive");
    }

    [Fact]
    public async Task LiveServerSurvivesMutatedRequests()
    {
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs: "--StreamServer:Http1:RequestHeadersTimeoutSeconds=2");
        await TestLibrary.PublishAsync(server.DataDir);
        var seeds = LoadCorpus();
        var rng = new Random(7);
        var deadline = DateTime.UtcNow.AddSeconds(8);
        var sent = 0;
        var buffer = new byte[256 * 1024];
        while (DateTime.UtcNow < deadline && sent < 300)
        {
            var input = Mutate(rng, seeds);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(server.HttpUri.Host, server.HttpUri.Port);
            await socket.SendAsync(input);
            socket.Shutdown(SocketShutdown.Send);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            try
            {
                while (await socket.ReceiveAsync(buffer, cts.Token) > 0)
                {
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
            }

            sent++;
        }

        using var client = server.CreateHttpClient();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/vod/clip/media.m3u8")).StatusCode);
        await Eventually.TrueAsync(() => VodFile.ActiveLeases == 0, TimeSpan.FromSeconds(15), () => $"{VodFile.ActiveLeases} file leases still held");
        Assert.True(sent >= 50, $"only {sent} inputs sent");
    }

    private static string Describe(byte[] input) => Convert.ToBase64String(input);
}
