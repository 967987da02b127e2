using System.Globalization;
using System.Text.RegularExpressions;
using StreamServer.TestSupport;

namespace StreamServer.StreamServer.Tests.Cli;

/// <summary>The `package` verb run as a user runs it: a real process, exit code, stdout/stderr.</summary>
public class PackageVerbTests
{
    private static Task<ProcessResult> PackageAsync(params string[] args) =>
        ProcessRunner.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "StreamServer.dll"), "package", .. args], TimeSpan.FromMinutes(2));

    [Fact]
    public async Task Packages_a_clip_and_exits_0()
    {
        using var dir = new TempDir();
        var clip = await TestMedia.GenerateAsync(dir.Combine("in.mp4"), seconds: 2, width: 320, height: 240);
        var outDir = dir.Combine("out");

        var r = await PackageAsync(clip, "--out", outDir, "--ladder", "240,120", "--preset", "ultrafast", "--segment-seconds", "1");

        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Equal("", r.StdErr);
        Assert.Contains("100.0%", r.StdOut);
        Assert.Contains("packaged 2.0s (320x240, 160x120, audio)", r.StdOut);
        Assert.True(File.Exists(Path.Combine(outDir, "master.m3u8")));
        Assert.True(File.Exists(Path.Combine(outDir, "manifest.mpd")));
        Assert.True(File.Exists(Path.Combine(outDir, "v120", "seg_00002.m4s")));

        // Like the server: decoded + scaled frames (50 + 50) and every segment were rented from the memfd pool,
        // and all of it was returned by the end.
        var pool = Regex.Match(r.StdOut, @"buffer pool: (\d+) rents \(frames \+ segments\), 0 failed, 0 leased at exit \(256 MiB memfd\)");
        Assert.True(pool.Success, r.StdOut);
        Assert.True(long.Parse(pool.Groups[1].Value, CultureInfo.InvariantCulture) >= 50 + 50 + 6, pool.Value);
    }

    [Fact]
    public async Task Bad_input_exits_non_zero_with_one_line_on_stderr()
    {
        using var dir = new TempDir();
        var noise = dir.Combine("noise.mp4");
        await File.WriteAllBytesAsync(noise, Enumerable.Range(0, 5000).Select(i => (byte)(i * 37)).ToArray());
        var outDir = dir.Combine("out");

        var r = await PackageAsync(noise, "--out", outDir);

        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("package: cannot read input noise.mp4", line);
        Assert.False(Directory.Exists(outDir));
    }

    [Theory]
    [InlineData("--ladder", "720,abc")]
    [InlineData("--segment-seconds", "x")]
    public async Task Bad_arguments_exit_2_with_one_line(string option, string value)
    {
        using var dir = new TempDir();
        var r = await PackageAsync(dir.Combine("in.mp4"), "--out", dir.Combine("out"), option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("package: ", r.StdErr);
    }

    [Fact]
    public async Task Missing_out_exits_2()
    {
        var r = await PackageAsync("in.mp4");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--out", r.StdErr);
    }
}
