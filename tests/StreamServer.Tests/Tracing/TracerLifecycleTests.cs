using System.Globalization;
using System.Text.Json;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;
using StreamServer.Tracing;

namespace StreamServer.Tests.Tracing;

/// <summary>Attach / detach, degraded mode, the live event stream and the exported histograms.</summary>
[Collection(ServerTestsCollection.Name)]
public class TracerLifecycleTests
{
    [Fact]
    public async Task ServerExitLeavesNoBpfProgramLoaded()
    {
        var missing = TracingEnvironment.MissingBpf(out _) ?? Capabilities.MissingTool("bpftool", "curl");
        Assert.SkipWhen(missing is not null, missing ?? "");

        await using var server = await RunningServer.StartProcessAsync();
        Assert.Contains("\"state\":\"attached\"", await server.WaitForTracersAsync(TimeSpan.FromSeconds(30)));
        var ids = ProgramIds(server.Pid.ToString(CultureInfo.InvariantCulture));
        Assert.True(ids.Count >= 10, $"expected the tracer programs in the server's fds, found {ids.Count}");
        foreach (var id in ids)
        {
            Assert.True(await ProgramLoadedAsync(id), $"prog {id} should be loaded while the server runs");
        }

        Assert.Equal(0, await server.StopAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("eBPF tracers detached", server.Output);
        foreach (var id in ids)
        {
            Assert.False(await ProgramLoadedAsync(id), $"prog {id} still loaded after the server exited");
        }
    }

    [Fact]
    public async Task DisposeDetachesWhileTheProcessKeepsRunning()
    {
        var missing = TracingEnvironment.MissingBpf(out var objects) ?? Capabilities.MissingTool("bpftool");
        Assert.SkipWhen(missing is not null, missing ?? "");

        var tracer = KernelTracers.Start(TracingEnvironment.Config(objects) with { TargetTgid = Environment.ProcessId });
        var ours = tracer.ProgramIds;
        Assert.Equal(tracer.AttachedPrograms.Count, ours.Count);
        var held = ProgramIds("self");
        foreach (var id in ours)
        {
            Assert.Contains((int)id, held);
            Assert.True(await ProgramLoadedAsync((int)id), $"prog {id} should be loaded");
        }

        tracer.Dispose();
        foreach (var id in ours)
        {
            Assert.False(await ProgramLoadedAsync((int)id), $"prog {id} still loaded after Dispose");
        }
    }

    [Fact]
    public async Task MissingObjectsLeaveTheServerServingAndHealthzSaysWhy()
    {
        using var empty = new TempDir("ss-no-bpf");
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs: $"--StreamServer:Tracing:ObjectDirectory={empty.Path}");
        using var client = server.CreateHttpClient();
        var tracers = await WaitForTracerStateAsync(client, "disabled");
        Assert.Equal("disabled", tracers.GetProperty("status").GetString());
        Assert.Contains(empty.Path, tracers.GetProperty("reason").GetString());

        using var health = JsonDocument.Parse(await client.GetStringAsync("/healthz"));
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("streamserver_tracer_attached{tracer=\"retransmits\"} 0", metrics);
        Assert.DoesNotContain("streamserver_tcp_retransmits_total{", metrics);
    }

    [Fact]
    public async Task DisabledByConfigurationSaysSo()
    {
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs: "--StreamServer:Tracing:Enabled=false");
        using var client = server.CreateHttpClient();
        var tracers = await WaitForTracerStateAsync(client, "disabled");
        Assert.Contains("Tracing:Enabled=false", tracers.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task StallsStreamAsServerSentEventsAndHistogramsPassPromtool()
    {
        var missing = TracingEnvironment.MissingBpf(out _) ?? Capabilities.MissingTool("promtool");
        Assert.SkipWhen(missing is not null, missing ?? "");

        // Threshold 0: every send syscall of the server is a stall event.
        const string token = "trace-test-token";
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs:
            ["--StreamServer:Tracing:StallThresholdMicroseconds=0", $"--StreamServer:AdminToken={token}"]);
        using var client = server.CreateHttpClient();
        await WaitForTracerStateAsync(client, "attached");

        using var sse = new HttpClient { BaseAddress = server.HttpUri, Timeout = Timeout.InfiniteTimeSpan };
        using (var anonymous = await sse.GetAsync("/api/trace/events", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, anonymous.StatusCode); // /api needs the admin token
        }

        sse.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await sse.GetAsync("/api/trace/events", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        _ = await client.GetStringAsync("/healthz"); // a response => a send syscall => a stall event

        string? eventName = null;
        JsonElement data = default;
        while (await reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                eventName = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && eventName == "stall")
            {
                data = JsonDocument.Parse(line[6..]).RootElement.Clone();
                break;
            }
        }

        Assert.Equal("stall", eventName);
        Assert.Contains(data.GetProperty("syscall").GetString(), TracerAbi.SyscallNames);
        Assert.Equal(Environment.ProcessId, data.GetProperty("pid").GetInt32());
        Assert.True(data.GetProperty("result").GetInt64() > 0);

        var metrics = await client.GetStringAsync("/metrics");
        var lint = await ProcessRunner.RunAsync("promtool", ["check", "metrics"], stdin: metrics);
        Assert.True(lint.ExitCode == 0, lint.StdOut + lint.StdErr);
        Assert.True(TracingEnvironment.MetricSum(metrics, "streamserver_send_syscall_duration_seconds_count") > 0, metrics);
        Assert.True(TracingEnvironment.MetricSum(metrics, "streamserver_send_stalls_total") > 0, metrics);
        Assert.Contains("streamserver_send_syscall_duration_seconds_bucket{syscall=\"sendmsg\",le=\"+Inf\"}", metrics);
    }

    [Fact]
    public void EventLayoutsMatchTheCompiledHeaders()
    {
        var dir = TracingPrerequisites.FindObjectDirectory("");
        Assert.SkipWhen(dir is null, "eBPF objects not built (make -C bpf)");
        using var retrans = BpfObject.Open(Path.Combine(dir!, "retrans.bpf.o"));
        using var sendlat = BpfObject.Open(Path.Combine(dir!, "sendlat.bpf.o"));
        using var skballoc = BpfObject.Open(Path.Combine(dir!, "skballoc.bpf.o"));
        unsafe
        {
            Assert.Equal(sizeof(RetransmitRecord), retrans.StructSize("ss_retrans_event"));
            Assert.Equal(sizeof(SendStallRecord), sendlat.StructSize("ss_send_stall_event"));
        }

        Assert.Equal(TracerAbi.SendStatsSize, sendlat.StructSize("ss_send_stats"));
        Assert.Equal(TracerAbi.SkbCountsSize, skballoc.StructSize("ss_skb_counts"));
        Assert.Equal(TracerAbi.SrttStatsSize, retrans.StructSize("ss_srtt_stats"));
    }

    private static async Task<JsonElement> WaitForTracerStateAsync(HttpClient client, string state)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            last = await client.GetStringAsync("/healthz");
            using var doc = JsonDocument.Parse(last);
            var tracers = doc.RootElement.GetProperty("subsystems").GetProperty("tracers");
            if (tracers.GetProperty("details").GetProperty("state").GetString() == state)
            {
                return tracers.Clone();
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"tracers never {state}: {last}");
    }

    /// <summary>BPF program ids a process holds (prog and link fds show "prog_id:" in fdinfo).</summary>
    private static HashSet<int> ProgramIds(string pid)
    {
        var ids = new HashSet<int>();
        foreach (var file in Directory.EnumerateFiles($"/proc/{pid}/fdinfo"))
        {
            try
            {
                foreach (var line in File.ReadLines(file))
                {
                    if (line.StartsWith("prog_id:", StringComparison.Ordinal))
                    {
                        ids.Add(int.Parse(line.AsSpan(8).Trim(), CultureInfo.InvariantCulture));
                    }
                }
            }
            catch (IOException)
            {
                // fd closed while we looked
            }
        }

        return ids;
    }

    private static async Task<bool> ProgramLoadedAsync(int id) =>
        (await ProcessRunner.RunAsync("bpftool", ["prog", "show", "id", id.ToString(CultureInfo.InvariantCulture)])).ExitCode == 0;
}
