using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Http;

/// <summary>
/// 10,000 malformed and odd requests over real sockets against the server as its own process: mutations of the kept
/// corpus (Http/Corpus), pipelined batches, heads past the size limit, broken chunked bodies, invalid UTF-8 and `..`
/// variants in paths. No answer is a server failure (500, 502-504) or a malformed response, the generated-invalid ones are
/// all a 4xx (or 501 / 505, the protocol's answers to an unknown method or version) or a close,
/// the server holds no connection past the client's end, and its descriptors and memory come back to their baseline.
/// REQUESTS sizes it (10000).
/// </summary>
[Collection(ServerTestsCollection.Name)]
public sealed partial class MalformedRequestTests
{
    private static readonly string[] Traversals =
    [
        "/vod/clip/../../../etc/passwd", "/vod/clip/%2e%2e/%2e%2e/etc/passwd", "/vod/clip/..%2f..%2fetc%2fpasswd", "/vod/clip/....//....//etc/passwd",
        "/vod/clip/%252e%252e/secret", "/vod/..\\..\\secret", "/vod/clip/%c0%ae%c0%ae/secret", "/vod/clip/.%2e/media.m3u8", "/vod/%2e/clip/media.m3u8",
        "/vod/clip/media.m3u8/..", "/vod/clip//../../x", "/../vod/clip/media.m3u8",
    ];

    [GeneratedRegex(@"HTTP/1\.[01] (\d{3}) ")]
    private static partial Regex StatusLine();

    private enum Kind
    {
        Mutated,
        Pipelined,
        HugeHead,
        BadChunking,
        InvalidUtf8,
        Traversal,
    }

    private static (Kind Kind, byte[] Input) Generate(int i, Random rng, List<byte[]> seeds)
    {
        var kind = (i % 10) switch { 0 => Kind.Pipelined, 1 => Kind.HugeHead, 2 => Kind.BadChunking, 3 => Kind.InvalidUtf8, 4 => Kind.Traversal, _ => Kind.Mutated };
        var latin1 = Encoding.Latin1;
        switch (kind)
        {
            case Kind.Pipelined:
                var batch = new List<byte>();
                for (var n = 2 + rng.Next(4); n > 0; n--)
                {
                    batch.AddRange(rng.Next(2) == 0 ? seeds[rng.Next(seeds.Count)] : Http1ParserFuzzTests.Mutate(rng, seeds));
                }

                return (kind, [.. batch]);
            case Kind.HugeHead:
                var size = 40_000 + rng.Next(200_000); // past Http1:MaxRequestHeadersBytes (32 KiB)
                return (kind, latin1.GetBytes($"GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\n{(rng.Next(2) == 0 ? "X-Big: " + new string('a', size) : string.Concat(Enumerable.Repeat("X-Many: b\r\n", size / 11)))}\r\n\r\n"));
            case Kind.BadChunking:
                string[] chunks = ["zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n", "ffffffffffffffffffff\r\nx\r\n", "5;ext=\"\r\nhello\r\n0\r\n\r\n", "5\nhello\n0\n\n"];
                string[] framing = ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked\r\nContent-Length: 5", "Transfer-Encoding: gzip, chunked", "Transfer-Encoding: chunked, identity"];
                return (kind, latin1.GetBytes($"POST /api/vod HTTP/1.1\r\nHost: a\r\n{framing[rng.Next(framing.Length)]}\r\n\r\n{chunks[rng.Next(chunks.Length)]}"));
            case Kind.InvalidUtf8:
                byte[][] junk = [[0xC0, 0xAE], [0xFF], [0x80, 0x80], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82]];
                var path = new List<byte>("GET /vod/clip/"u8.ToArray());
                path.AddRange(junk[rng.Next(junk.Length)]);
                path.AddRange(rng.Next(2) == 0 ? "media.m3u8"u8.ToArray() : "%C0%AE%C0%AE/%FF%FE"u8.ToArray());
                path.AddRange(" HTTP/1.1\r\nHost: a\r\n\r\n"u8.ToArray());
                return (kind, [.. path]);
            case Kind.Traversal:
                return (kind, latin1.GetBytes($"GET {Traversals[rng.Next(Traversals.Length)]} HTTP/1.1\r\nHost: a\r\n\r\n"));
            default:
                return (kind, Http1ParserFuzzTests.Mutate(rng, seeds));
        }
    }

    [Fact]
    public async Task Ten_thousand_malformed_requests_get_a_4xx_or_a_close_and_leave_the_server_at_its_baseline()
    {
        var total = int.TryParse(Environment.GetEnvironmentVariable("REQUESTS"), out var r) ? r : 10_000;
        using var data = new TempDir("ss-malformed");
        await TestLibrary.PublishAsync(data.Path);
        await using var server = await RunningServer.StartProcessAsync(data.Path, "--StreamServer:Http1:RequestHeadersTimeoutSeconds=2");
        using (var client = server.CreateHttpClient())
        {
            // Warm: every file of the clip opened once (the file cache keeps their descriptors), the pools touched.
            foreach (var file in Directory.GetFiles(Path.Combine(data.Path, "vod", TestLibrary.Id)))
            {
                await client.GetByteArrayAsync($"/vod/{TestLibrary.Id}/{Path.GetFileName(file)}");
            }
        }

        var baselineFds = await server.SteadyDescriptorsAsync();
        var baselineTargets = DescriptorTargets(server.Pid);
        var baselineRss = server.ResidentBytes();
        var seeds = Http1ParserFuzzTests.LoadCorpus();
        var counts = new long[Enum.GetValues<Kind>().Length, 6]; // per kind: closed without answer, 2xx, 3xx, refused, failed, malformed
        var timeouts = 0;
        var problems = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var next = -1;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var rng = new Random(1000 + worker);
            var response = new MemoryStream();
            var buffer = new byte[64 * 1024];
            int i;
            while ((i = Interlocked.Increment(ref next)) < total)
            {
                var (kind, input) = Generate(i, rng, seeds);
                response.SetLength(0);
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(server.HttpUri.Host, server.HttpUri.Port);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await socket.SendAsync(input, cts.Token);
                    socket.Shutdown(SocketShutdown.Send);
                    int n;
                    while ((n = await socket.ReceiveAsync(buffer, cts.Token)) > 0)
                    {
                        response.Write(buffer, 0, n);
                    }
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref timeouts);
                    problems.Enqueue($"{kind}: no close within 5 s: {Convert.ToBase64String(input.AsSpan(0, Math.Min(input.Length, 300)))}");
                    continue;
                }
                catch (SocketException)
                {
                    // Reset while we still sent (the server refused the head and closed): a close.
                }

                var text = Encoding.Latin1.GetString(response.GetBuffer(), 0, (int)response.Length);
                int outcome;
                if (text.Length == 0)
                {
                    outcome = 0;
                }
                else if (text[0] == '\0' && input.AsSpan().IndexOf("PRI * HTTP/2.0"u8) >= 0)
                {
                    outcome = 3; // a broken HTTP/2 preface (even after empty lines) is answered with a GOAWAY frame: refused
                }
                else if (!text.StartsWith("HTTP/1.", StringComparison.Ordinal))
                {
                    outcome = 5;
                }
                else
                {
                    // The worst answer of a (pipelined) batch: 0 closed, 1 2xx, 2 3xx, 3 4xx (and the protocol's refusals
                    // 501 for an unknown method and 505 for an unknown version, RFC 9110 15.6.2 / 15.6.6), 4 a server failure.
                    outcome = 1;
                    foreach (Match m in StatusLine().Matches(text))
                    {
                        var status = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                        outcome = Math.Max(outcome, status switch { 501 or 505 => 3, >= 500 => 4, >= 400 => 3, >= 300 => 2, _ => 1 });
                    }
                }

                Interlocked.Increment(ref counts[(int)kind, outcome]);
                var generatedInvalid = kind is Kind.HugeHead or Kind.BadChunking or Kind.InvalidUtf8 or Kind.Traversal;
                if (outcome is 4 or 5 || (generatedInvalid && outcome is 1 or 2))
                {
                    problems.Enqueue($"{kind}: {text[..Math.Min(text.Length, 80)].ReplaceLineEndings(" ")} for {Convert.ToBase64String(input.AsSpan(0, Math.Min(input.Length, 300)))}");
                }
            }
        }))).WaitAsync(TimeSpan.FromMinutes(5));
        var elapsed = clock.Elapsed;

        var output = TestContext.Current.TestOutputHelper;
        output?.WriteLine($"{total} requests in {elapsed.TotalSeconds:0.0} s; outcome per kind: closed / 2xx / 3xx / 4xx, 501, 505 / other 5xx / malformed");
        foreach (var kind in Enum.GetValues<Kind>())
        {
            output?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {kind,-12} {counts[(int)kind, 0],6} {counts[(int)kind, 1],6} {counts[(int)kind, 2],6} {counts[(int)kind, 3],6} {counts[(int)kind, 4],6} {counts[(int)kind, 5],6}"));
        }

        Assert.True(problems.IsEmpty, $"{problems.Count} bad answers, e.g.:\n{string.Join('\n', problems.Take(10))}");
        Assert.Equal(0, timeouts);
        Assert.False(server.HasExited, server.Output);
        using (var client = server.CreateHttpClient())
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/vod/clip/media.m3u8")).StatusCode);
        }

        // Back to the baseline: every connection closed, no descriptor left but the assemblies the runtime loaded on first
        // use of a code path (it keeps them open for the life of the process).
        static int NotAssemblies(List<string> targets) => targets.Count(t => !t.EndsWith(".dll", StringComparison.Ordinal));
        await Eventually.TrueAsync(() => NotAssemblies(DescriptorTargets(server.Pid)) <= NotAssemblies(baselineTargets), TimeSpan.FromSeconds(30),
            () => $"descriptors {server.OpenDescriptors()}, baseline {baselineFds}; new: {string.Join(", ", DescriptorTargets(server.Pid).Except(baselineTargets))}");
        const long Slack = 32L * 1024 * 1024;
        await Eventually.TrueAsync(() => server.ResidentBytes() <= baselineRss + Slack, TimeSpan.FromSeconds(40),
            () => $"resident {server.ResidentBytes() >> 20} MiB, baseline {baselineRss >> 20} MiB");
        output?.WriteLine($"descriptors {server.OpenDescriptors()} (baseline {baselineFds}), resident {server.ResidentBytes() >> 20} MiB (baseline {baselineRss >> 20} MiB)");
        Assert.DoesNotContain("fail:", server.Output);
    }

    private static List<string> DescriptorTargets(int pid)
    {
        var targets = new List<string>();
        foreach (var fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            try
            {
                targets.Add(new FileInfo(fd).LinkTarget ?? "?");
            }
            catch (IOException)
            {
            }
        }

        return targets;
    }
}
