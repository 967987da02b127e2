using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Admin;

/// <summary>Jobs through the admin API with the real in-process packager.</summary>
[Collection(ServerTestsCollection.Name)]
public class PackagingJobTests
{
    private const string Token = "job-test-token-0123456789";

    private static Task<RunningServer> StartAsync(string importRoot, params string[] extra) =>
        RunningServer.StartAsync(null, false, [$"--StreamServer:AdminToken={Token}", $"--StreamServer:ImportRoots:0={importRoot}",
            "--StreamServer:Packaging:Ladder:0=240", "--StreamServer:Packaging:Ladder:1=160", "--StreamServer:Packaging:Preset=ultrafast",
            "--StreamServer:Packaging:SegmentSeconds=1", .. extra]);

    private static async Task<JsonElement> WaitFinishedAsync(HttpClient client, string id)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var response = await client.GetAsync($"/api/vod/{id}");
            string? state = "not created yet";
            if (response.StatusCode != HttpStatusCode.NotFound)
            {
                var job = await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
                state = job.GetProperty("state").GetString();
                if (state is "ready" or "failed" or "cancelled")
                {
                    return job;
                }
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"job {id} still {state} after 90 s");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task JsonSourceIsPackagedAndServedWhileRequestsKeepFlowing()
    {
        using var import = new TempDir();
        var clip = await TestMedia.GenerateAsync(Path.Combine(import.Path, "clip.mp4"), seconds: 3);
        await using var server = await StartAsync(import.Path);
        using var client = server.CreateAdminClient();

        using var created = await client.PostAsJsonAsync("/api/vod", new { source = clip, id = "clip1" });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        Assert.Equal("/api/vod/clip1", created.Headers.Location?.OriginalString);

        // Serving never waits for a job: health answers promptly while packaging runs.
        var health = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        // A handler that waited for the job would take the job's length (tens of seconds at this preset on 2 busy cores).
        Assert.True(health.Elapsed < TimeSpan.FromSeconds(5), $"/healthz took {health.Elapsed.TotalSeconds:0.0} s during packaging");

        var job = await WaitFinishedAsync(client, "clip1");
        Assert.Equal("ready", job.GetProperty("state").GetString());
        Assert.Equal(100, job.GetProperty("progress").GetDouble());
        using var playlist = await client.GetAsync(job.GetProperty("urls").GetProperty("master").GetString());
        Assert.Equal(HttpStatusCode.OK, playlist.StatusCode);
        // Exactly the configured ladder (240, 160 for a 240-line source): configuration replaces the default rungs.
        var master = await playlist.Content.ReadAsStringAsync();
        Assert.Equal(2, master.Split("#EXT-X-STREAM-INF").Length - 1);

        // The job's segments were assembled in the server's buffer pool and written from it.
        var metrics = await client.GetStringAsync("/metrics");
        var segmentBytes = Regex.Match(metrics, @"streamserver_transcode_segment_bytes_total\{pool=""shared""\} (\d+)");
        Assert.True(segmentBytes.Success && long.Parse(segmentBytes.Groups[1].Value, CultureInfo.InvariantCulture) > 0, metrics);

        using var again = await client.PostAsJsonAsync("/api/vod", new { source = clip, id = "clip1" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);

        var list = await client.GetFromJsonAsync<JsonElement>("/api/vod");
        Assert.Contains(list.EnumerateArray(), e => e.GetProperty("id").GetString() == "clip1");
    }

    [Fact]
    public async Task UploadIsPackagedAndTheUploadedFileRemoved()
    {
        using var import = new TempDir();
        var clip = await TestMedia.GenerateAsync(Path.Combine(import.Path, "My Upload.mp4"), seconds: 2);
        await using var server = await StartAsync(import.Path);
        using var client = server.CreateAdminClient();
        using var form = new MultipartFormDataContent();
        await using var file = File.OpenRead(clip);
        form.Add(new StreamContent(file), "file", "My Upload.mp4");
        using var created = await client.PostAsync("/api/vod", form);
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);

        var job = await WaitFinishedAsync(client, "my-upload");
        Assert.Equal("ready", job.GetProperty("state").GetString());
        Assert.True(File.Exists(Path.Combine(server.DataDir, "vod", "my-upload", "master.m3u8")));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.DataDir, "uploads")));
    }

    [Fact]
    public async Task CorruptUploadFailsItsJobWithAMessageAndNothingIsPublished()
    {
        using var import = new TempDir();
        await using var server = await StartAsync(import.Path);
        using var client = server.CreateAdminClient();
        using var form = new MultipartFormDataContent();
        var garbage = new byte[200_000];
        new Random(7).NextBytes(garbage);
        form.Add(new ByteArrayContent(garbage), "file", "corrupt.mp4");
        using var created = await client.PostAsync("/api/vod", form);
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);

        var job = await WaitFinishedAsync(client, "corrupt");
        Assert.Equal("failed", job.GetProperty("state").GetString());
        Assert.False(string.IsNullOrWhiteSpace(job.GetProperty("error").GetString()));
        Assert.False(Directory.Exists(Path.Combine(server.DataDir, "vod", "corrupt")));
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(server.DataDir, "vod")));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/vod/corrupt/master.m3u8")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task CancelledJobLeavesNothingVisible()
    {
        using var import = new TempDir();
        var clip = await TestMedia.GenerateAsync(Path.Combine(import.Path, "long.mp4"), seconds: 20, width: 640, height: 360);
        await using var server = await StartAsync(import.Path);
        using var client = server.CreateAdminClient();
        using var created = await client.PostAsJsonAsync("/api/vod", new { source = clip, id = "long" });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var clock = Stopwatch.StartNew();
        while ((await client.GetFromJsonAsync<JsonElement>("/api/vod/long")).GetProperty("state").GetString() == "queued")
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30));
            await Task.Delay(20);
        }

        using var cancel = await client.DeleteAsync("/api/vod/long");
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var job = await WaitFinishedAsync(client, "long");
        Assert.Equal("cancelled", job.GetProperty("state").GetString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(server.DataDir, "vod")));
    }

    [Fact]
    public async Task EmptyLibraryGetsTheEmbeddedSample()
    {
        await using var server = await RunningServer.StartAsync(null, false,
            $"--StreamServer:AdminToken={Token}", "--StreamServer:GenerateSample=true", "--StreamServer:SampleSeconds=2",
            "--StreamServer:Packaging:Ladder:0=360", "--StreamServer:Packaging:Preset=ultrafast");
        using var client = server.CreateAdminClient();
        var job = await WaitFinishedAsync(client, "sample");
        Assert.Equal("ready", job.GetProperty("state").GetString());
        using var mpd = await client.GetAsync("/vod/sample/manifest.mpd");
        Assert.Equal(HttpStatusCode.OK, mpd.StatusCode);
    }
}
