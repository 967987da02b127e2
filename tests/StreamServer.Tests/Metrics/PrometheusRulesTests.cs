using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Tracing;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Metrics;

/// <summary>
/// The shipped Prometheus setup (ops/prometheus, scripts/observe.sh) and Grafana dashboard (dashboards/): rules and
/// alerts checked by promtool on synthetic series, then a real Prometheus scraping a real server under load, where every
/// recording rule and every dashboard query must parse and return data.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public sealed class PrometheusRulesTests
{
    [Fact]
    public async Task Config_and_rules_are_valid_and_alerts_fire_on_synthetic_series_as_specified()
    {
        var missing = Capabilities.MissingTool("promtool");
        Assert.SkipWhen(missing is not null, missing ?? "");
        var config = await ProcessRunner.RunAsync("promtool", ["check", "config", RepoPaths.Combine("ops", "prometheus", "prometheus.yml")]);
        Assert.True(config.ExitCode == 0, config.StdOut + config.StdErr);
        Assert.Contains("SUCCESS: 2 rule files found", config.StdOut + config.StdErr);
        var rules = await ProcessRunner.RunAsync("promtool", ["test", "rules", RepoPaths.Combine("ops", "prometheus", "tests", "alerts_test.yml")]);
        Assert.True(rules.ExitCode == 0, rules.StdOut + rules.StdErr);
        Assert.Contains("SUCCESS", rules.StdOut);
    }

    [Fact]
    public async Task A_real_Prometheus_scrapes_the_server_and_every_rule_and_dashboard_query_returns_data()
    {
        var missing = TracingEnvironment.MissingBpf(out _) ?? Capabilities.MissingTool("prometheus", "promtool", "curl");
        Assert.SkipWhen(missing is not null, missing ?? "the send-syscall panels need the kernel tracers");
        await using var server = await RunningServer.StartProcessAsync(null, "--StreamServer:Live:TestChannel=true", "--StreamServer:Live:SegmentSeconds=1");
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        await server.WaitForTracersAsync(TimeSpan.FromSeconds(30));
        using var work = new TempDir("ss-prometheus");
        var promPort = RunningServer.FreePort();
        var psi = new ProcessStartInfo("bash", [RepoPaths.Combine("scripts", "observe.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["STREAMSERVER_TARGET"] = $"127.0.0.1:{server.Port}",
                ["PROMETHEUS_PORT"] = promPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["SCRAPE_INTERVAL"] = "1s",
                ["WORK"] = work.Path,
            },
        };
        using var prometheus = Process.Start(psi)!;
        var log = new System.Text.StringBuilder();
        prometheus.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        prometheus.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        prometheus.BeginOutputReadLine();
        prometheus.BeginErrorReadLine();
        using var stopLoad = new CancellationTokenSource();
        var load = LoadAsync(server, stopLoad.Token);
        try
        {
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{promPort}/") };
            string Log() { lock (log) { return log.ToString(); } }

            // Scraped: `up` is 1 and our series are there.
            await Eventually.TrueAsync(async () =>
            {
                try
                {
                    return (await QueryAsync(api, "up{job=\"streamserver\"} == 1")).GetArrayLength() == 1;
                }
                catch (HttpRequestException)
                {
                    return false; // still starting
                }
            }, TimeSpan.FromSeconds(60), () => "Prometheus never scraped the server:\n" + Log());

            // Every recording rule evaluates to data once a few scrapes of traffic are in.
            var recorded = new List<string>();
            foreach (var line in await File.ReadAllLinesAsync(RepoPaths.Combine("ops", "prometheus", "rules", "recording.yml")))
            {
                if (line.TrimStart().StartsWith("- record: ", StringComparison.Ordinal))
                {
                    recorded.Add(line.Trim()["- record: ".Length..]);
                }
            }

            Assert.Equal(8, recorded.Count);
            var expressions = new List<string>(recorded);
            using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(RepoPaths.Combine("dashboards", "streamserver.json")));
            foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
            {
                foreach (var target in panel.GetProperty("targets").EnumerateArray())
                {
                    expressions.Add(target.GetProperty("expr").GetString()!);
                }
            }

            Assert.True(expressions.Count > 25, $"{expressions.Count} expressions");
            foreach (var expr in expressions)
            {
                await Eventually.TrueAsync(async () => (await QueryAsync(api, expr)).GetArrayLength() > 0, TimeSpan.FromSeconds(45),
                    () => $"no data for {expr}\n{Log()}");
            }

            // The alert annotation's query is not expected to return data (nothing fires) but must parse.
            foreach (var annotation in dashboard.RootElement.GetProperty("annotations").GetProperty("list").EnumerateArray())
            {
                await QueryAsync(api, annotation.GetProperty("expr").GetString()!);
            }

            // Prometheus loaded the shipped alert rules, and on a healthy server none fires.
            var alerts = await api.GetFromJsonAsync<JsonElement>("api/v1/rules?type=alert");
            var names = new List<string>();
            foreach (var group in alerts.GetProperty("data").GetProperty("groups").EnumerateArray())
            {
                foreach (var rule in group.GetProperty("rules").EnumerateArray())
                {
                    names.Add(rule.GetProperty("name").GetString()!);
                    Assert.NotEqual("firing", rule.GetProperty("state").GetString());
                }
            }

            Assert.Contains("StreamServerSendLatencyP999Critical", names);
            Assert.Contains("StreamServerLowLatencyReloadSlow", names);
            Assert.Equal(8, names.Count);

            // Prometheus asked for OpenMetrics and stored the request ids our latency buckets carry as exemplars.
            var end = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 5;
            JsonElement exemplars = default;
            await Eventually.TrueAsync(async () =>
            {
                exemplars = await api.GetFromJsonAsync<JsonElement>(
                    $"api/v1/query_exemplars?query=streamserver_http_request_duration_seconds_bucket&start={end - 600}&end={end}");
                return exemplars.GetProperty("data").GetArrayLength() > 0;
            }, TimeSpan.FromSeconds(30), () => "no exemplars: " + exemplars);
            var first = exemplars.GetProperty("data")[0].GetProperty("exemplars")[0];
            Assert.Matches(@"^[0-9A-Z]+[.:][0-9A-F]{8}$", first.GetProperty("labels").GetProperty("request_id").GetString());
        }
        finally
        {
            await stopLoad.CancelAsync();
            await load;
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
        }
    }

    /// <summary>An instant query; throws with Prometheus's error when the expression does not parse.</summary>
    private static async Task<JsonElement> QueryAsync(HttpClient api, string expr)
    {
        using var response = await api.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(expr));
        if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
        {
            throw new HttpRequestException("Prometheus is not ready yet", null, response.StatusCode);
        }

        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(body.GetProperty("status").GetString() == "success", $"{expr}: {body}");
        return body.GetProperty("data").GetProperty("result");
    }

    /// <summary>Playlists, segments and the live channel fetched in a loop, so every family has samples that move.</summary>
    private static async Task LoadAsync(RunningServer server, CancellationToken stop)
    {
        using var http = server.CreateHttpClient();
        string[] paths = ["/vod/clip/media.m3u8", "/vod/clip/seg_000.m4s", "/vod/clip/init.mp4", "/live/test/master.m3u8", "/vod/clip/missing.m4s"];
        while (!stop.IsCancellationRequested)
        {
            foreach (var path in paths)
            {
                try
                {
                    using var response = await http.GetAsync(path, stop);
                    await response.Content.CopyToAsync(Stream.Null, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (HttpRequestException)
                {
                    // The live channel may not be up yet; keep going.
                }
            }

            try
            {
                await Task.Delay(20, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
