using System.Security.Cryptography;
using StreamServer.Tests.Infrastructure;

namespace StreamServer.Tests.Tracing;

/// <summary>
/// A ~1 MiB response body the server sends for the traffic tests: a media segment file below the VOD
/// library when the server serves /vod/{id}/ files, else /metrics (then integrity is checked by length
/// against Content-Length instead of a hash).
/// </summary>
internal sealed record LargeBody(string Path, string? Sha256)
{
    public const string VodId = "tracertest";
    public const string SegmentName = "segment-00001.m4s";

    /// <summary>Writes the segment into the data directory; call before the server starts.</summary>
    public static string Plant(string dataDir)
    {
        var dir = System.IO.Path.Combine(dataDir, "vod", VodId);
        Directory.CreateDirectory(dir);
        var bytes = new byte[1 << 20];
        Random.Shared.NextBytes(bytes);
        File.WriteAllBytes(System.IO.Path.Combine(dir, SegmentName), bytes);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    public static async Task<LargeBody> ChooseAsync(RunningServer server, string sha256)
    {
        var path = $"/vod/{VodId}/{SegmentName}";
        string[] curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", $"http://127.0.0.1:{server.Port}{path}"];
        var probe = server.Netns is null ? await TestSupport.ProcessRunner.RunAsync(curl[0], curl[1..]) : await server.Netns.ExecAsync(curl);
        return probe.StdOut.Trim() == "200" ? new LargeBody(path, sha256) : new LargeBody("/metrics", null);
    }
}
