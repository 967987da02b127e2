using System.Text.Json;
using StreamServer.TestSupport;

namespace StreamServer.Tests.LoadTest;

/// <summary>The built load tool (loadtest/, Release) run as its own process, as a user runs it.</summary>
internal static class LoadTool
{
    public static string Dll => RepoPaths.Combine("loadtest", "bin", "Release", "net10.0", "LoadTest.dll");

    public static Task<ProcessResult> RunAsync(params string[] args)
    {
        Assert.True(File.Exists(Dll), $"{Dll} not built (scripts/setup.sh builds the solution in Release)");
        return ProcessRunner.RunAsync("dotnet", [Dll, .. args], TimeSpan.FromMinutes(3));
    }

    /// <summary>summary.json of a run made with --report <paramref name="folder"/>.</summary>
    public static JsonElement Summary(string folder)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "summary.json")));
        return json.RootElement.Clone();
    }

    /// <summary>The latency row of <paramref name="kind"/> in a summary.</summary>
    public static JsonElement Latency(JsonElement summary, string kind)
    {
        foreach (var row in summary.GetProperty("latency").EnumerateArray())
        {
            if (row.GetProperty("kind").GetString() == kind)
            {
                return row;
            }
        }

        throw new KeyNotFoundException($"no {kind} latency in {summary}");
    }
}
