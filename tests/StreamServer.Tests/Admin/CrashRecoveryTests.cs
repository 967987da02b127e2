using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Admin;

/// <summary>
/// The server killed with SIGKILL (a crash, the OOM killer) in the middle of packaging and in the middle of an upload,
/// then started again on the same DataDir: nothing partial is served, the interrupted job is reported failed, the job
/// still waiting is packaged, and no staging folder or half upload is left behind.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public sealed class CrashRecoveryTests
{
    private const string Token = "crash-test-token-0123456789abcdef";

    private static string[] Args(string importRoot) =>
    [
        $"--StreamServer:AdminToken={Token}", $"--StreamServer:ImportRoots:0={importRoot}", "--StreamServer:JobConcurrency=1",
        "--StreamServer:Packaging:Ladder:0=360", "--StreamServer:Packaging:Ladder:1=240", "--StreamServer:Packaging:Preset=ultrafast",
        "--StreamServer:Packaging:SegmentSeconds=1",
    ];

    private static HttpClient Admin(RunningServer server)
    {
        var client = server.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    private static async Task<JsonElement> JobAsync(HttpClient client, string id) => await client.GetFromJsonAsync<JsonElement>($"/api/vod/{id}");

    private static string[] StagingFolders(string dataDir) => Directory.GetDirectories(Path.Combine(dataDir, "vod"), ".staging-*");

    [Fact]
    public async Task Killed_mid_packaging_the_running_job_is_reported_failed_the_queued_one_runs_and_nothing_partial_is_served()
    {
        using var import = new TempDir("ss-crash-src");
        using var data = new TempDir("ss-crash");
        var longClip = await TestMedia.GenerateAsync(import.Combine("long.mp4"), seconds: 20, width: 640, height: 360);
        var shortClip = await TestMedia.GenerateAsync(import.Combine("short.mp4"), seconds: 2);
        string[] leftovers;
        await using (var server = await RunningServer.StartProcessAsync(data.Path, Args(import.Path)))
        {
            using var client = Admin(server);
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/vod", new { source = longClip, id = "long" })).StatusCode);
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/vod", new { source = shortClip, id = "short" })).StatusCode);
            await Eventually.TrueAsync(async () =>
                (await JobAsync(client, "long")).GetProperty("state").GetString() == "running"
                && Array.Exists(StagingFolders(data.Path), d => Directory.EnumerateFiles(d, "*.m4s", SearchOption.AllDirectories).Any()),
                TimeSpan.FromSeconds(60), () => "the long job never wrote a segment");
            Assert.Equal("queued", (await JobAsync(client, "short")).GetProperty("state").GetString());
            await server.KillAsync();
            leftovers = StagingFolders(data.Path);
        }

        Assert.NotEmpty(leftovers); // the crash did leave partial output behind
        await using var restarted = await RunningServer.StartProcessAsync(data.Path, Args(import.Path));
        using var again = Admin(restarted);
        var interrupted = await JobAsync(again, "long");
        Assert.Equal("failed", interrupted.GetProperty("state").GetString());
        Assert.Contains("interrupted", interrupted.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await again.GetAsync("/vod/long/master.m3u8")).StatusCode);
        Assert.All(leftovers, d => Assert.False(Directory.Exists(d), $"{d} survived the restart"));
        Assert.Equal(1, RunningServer.Sample(await again.GetStringAsync("/metrics"), "streamserver_jobs_total{outcome=\"failed\"}"));

        await Eventually.TrueAsync(async () => (await JobAsync(again, "short")).GetProperty("state").GetString() == "ready",
            TimeSpan.FromSeconds(90), () => "the queued job was not packaged after the restart");
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync("/vod/short/master.m3u8")).StatusCode);
        Assert.True(File.Exists(shortClip), "an import source is the operator's: never deleted");

        // Submitted again, the failed job packages normally.
        Assert.Equal(HttpStatusCode.Accepted, (await again.PostAsJsonAsync("/api/vod", new { source = longClip, id = "long" })).StatusCode);
        var state = (await JobAsync(again, "long")).GetProperty("state").GetString();
        Assert.True(state is "queued" or "running", state);
        await again.DeleteAsync("/api/vod/long");
    }

    [Fact]
    public async Task Killed_mid_upload_the_half_received_file_is_swept_and_no_job_exists()
    {
        using var data = new TempDir("ss-crash-upload");
        using var import = new TempDir("ss-crash-upload-src");
        await using (var server = await RunningServer.StartProcessAsync(data.Path, Args(import.Path)))
        {
            // A multipart upload announcing 10 MB that sends 1 MB and then waits, as a client on a slow link would.
            const string Boundary = "crash-boundary";
            var part = $"--{Boundary}\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\ncut\r\n" +
                $"--{Boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.mp4\"\r\nContent-Type: video/mp4\r\n\r\n";
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(server.HttpUri.Host, server.HttpUri.Port);
            await socket.SendAsync(Encoding.ASCII.GetBytes(
                $"POST /api/vod HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {Token}\r\nContent-Type: multipart/form-data; boundary={Boundary}\r\n" +
                $"Content-Length: {part.Length + 10_000_000}\r\n\r\n{part}"));
            await socket.SendAsync(new byte[1_000_000]);
            var uploads = Path.Combine(data.Path, "uploads");
            await Eventually.TrueAsync(() => Task.FromResult(Directory.GetFiles(uploads, "*.part").Any(f => new FileInfo(f).Length >= 500_000)),
                TimeSpan.FromSeconds(30), () => "the upload never reached the disk");
            await server.KillAsync();
        }

        Assert.NotEmpty(Directory.GetFiles(Path.Combine(data.Path, "uploads")));
        await using var restarted = await RunningServer.StartProcessAsync(data.Path, Args(import.Path));
        using var again = Admin(restarted);
        Assert.Empty(Directory.GetFiles(Path.Combine(data.Path, "uploads")));
        Assert.Equal(HttpStatusCode.NotFound, (await again.GetAsync("/api/vod/cut")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await again.GetAsync("/vod/cut/master.m3u8")).StatusCode);
    }
}

/// <summary>DataDir on a small tmpfs that packaging fills: the job fails saying so, published VODs keep serving.</summary>
[Collection(ServerTestsCollection.Name)]
public sealed class DiskFullTests
{
    private const string Token = "disk-full-token-0123456789abcdef";

    [Fact]
    public async Task A_full_disk_fails_the_job_clearly_and_published_vods_keep_serving()
    {
        Assert.SkipUnless(Capabilities.IsRoot, "mounting a small tmpfs as DataDir needs root");
        using var import = new TempDir("ss-full-src");
        using var scratch = new TempDir("ss-full");
        var clip = await TestMedia.GenerateAsync(import.Combine("big.mp4"), seconds: 10, width: 640, height: 360);
        var data = scratch.Combine("data");
        Directory.CreateDirectory(data);
        (await ProcessRunner.RunAsync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", data])).EnsureSuccess("mount tmpfs");
        try
        {
            await Vod.TestLibrary.PublishAsync(data);
            // Ballast: leave ~400 KB free, less than the job's segments need.
            var free = new DriveInfo(data).AvailableFreeSpace;
            (await ProcessRunner.RunAsync("fallocate", ["-l", (free - 400_000).ToString(System.Globalization.CultureInfo.InvariantCulture), Path.Combine(data, "ballast")]))
                .EnsureSuccess("fallocate");

            await using var server = await RunningServer.StartProcessAsync(data,
                $"--StreamServer:AdminToken={Token}", $"--StreamServer:ImportRoots:0={import.Path}",
                "--StreamServer:Packaging:Ladder:0=360", "--StreamServer:Packaging:Preset=ultrafast");
            using var client = server.CreateHttpClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/vod", new { source = clip, id = "toolarge" })).StatusCode);
            JsonElement job = default;
            await Eventually.TrueAsync(async () =>
            {
                job = await client.GetFromJsonAsync<JsonElement>("/api/vod/toolarge");
                return job.GetProperty("state").GetString() is "failed" or "ready";
            }, TimeSpan.FromSeconds(90), () => job.ToString());
            TestContext.Current.TestOutputHelper?.WriteLine(job.ToString());
            Assert.Equal("failed", job.GetProperty("state").GetString());
            Assert.Contains("space", job.GetProperty("error").GetString(), StringComparison.OrdinalIgnoreCase);

            // Nothing of the job is visible; the published VOD serves whole.
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/vod/toolarge/master.m3u8")).StatusCode);
            Assert.Empty(Directory.GetDirectories(Path.Combine(data, "vod"), ".staging-*"));
            Assert.Equal(await Vod.TestLibrary.ReadAsync("big.m4s"), await client.GetByteArrayAsync("/vod/clip/big.m4s"));
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/vod/clip/master.m3u8")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        }
        finally
        {
            await ProcessRunner.RunAsync("umount", ["-l", data]);
        }
    }
}
