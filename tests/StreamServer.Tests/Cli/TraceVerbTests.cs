using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Tracing;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Cli;

/// <summary>`trace --png`: a standalone tracing run writes the same charts the server draws, with the run's sends in them.</summary>
[Collection(ServerTestsCollection.Name)]
public sealed class TraceVerbTests
{
    [Fact]
    public async Task Trace_with_png_writes_a_heatmap_of_the_sends_it_saw()
    {
        var missing = TracingEnvironment.MissingBpf(out var objects) ?? Capabilities.MissingTool("ffmpeg");
        Assert.SkipWhen(missing is not null, missing ?? "");
        await using var server = await RunningServer.StartProcessAsync(null, "--StreamServer:Tracing:Enabled=false");
        await Vod.TestLibrary.PublishAsync(server.DataDir);
        using var output = new TempDir("ss-trace-png");
        var trace = ProcessRunner.RunAsync("dotnet", [RunningServer.ServerDll(), "trace", "--seconds", "5", "--interval", "2", "--ports",
            server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--objects", objects, "--png", output.Path], TimeSpan.FromSeconds(60));
        using (var http = server.CreateHttpClient())
        {
            while (!trace.IsCompleted)
            {
                await http.GetByteArrayAsync("/vod/clip/seg_000.m4s");
            }
        }

        var result = await trace;
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        Assert.Contains("wrote ", result.StdOut);
        var heatmap = await ViridisPixels.DecodeAsync(await File.ReadAllBytesAsync(output.Combine("send-latency.png")));
        Assert.Equal(1200 * 400 * 3, heatmap.Length);
        Assert.True(ViridisPixels.Count(heatmap, 1200, 0, 1200, 0, 400) > 100, "the heatmap has no cells");
        Assert.Equal(1200 * 400 * 3, (await ViridisPixels.DecodeAsync(await File.ReadAllBytesAsync(output.Combine("retransmits.png")))).Length);
    }
}
