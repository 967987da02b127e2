using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Admin;

/// <summary>
/// A corpus of broken sources uploaded to one running server: truncated, bit-flipped, not media at all, absurd
/// dimensions in the header, no frames. Each job ends with a clear error (or, where the damage is only in the picture,
/// a VOD that serves every file its playlists name), nothing partial is ever visible, and the server keeps serving a
/// published VOD throughout.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public sealed class CorruptMediaTests
{
    private const string Token = "corrupt-media-token-0123456789abc";

    private static async Task<List<(string Name, byte[] Bytes, bool MayDecode)>> CorpusAsync(TempDir work)
    {
        var clip = await File.ReadAllBytesAsync(await TestMedia.GenerateAsync(work.Combine("clip.mp4"), seconds: 2, width: 320, height: 240));
        var corpus = new List<(string, byte[], bool)>();
        foreach (var keep in (double[])[0.1, 0.5, 0.9])
        {
            corpus.Add(($"truncated{(int)(keep * 100)}", clip.AsSpan(0, (int)(clip.Length * keep)).ToArray(), false));
        }

        foreach (var (seed, from) in ((int, int)[])[(1, 0), (2, 0), (3, 4096)])
        {
            // Bit flips in the header region (seed 1, 2: the first 4 KiB) or across the payload (seed 3).
            var flipped = (byte[])clip.Clone();
            var rng = new Random(seed);
            for (var i = 0; i < 64; i++)
            {
                var at = from == 0 ? rng.Next(Math.Min(4096, flipped.Length)) : from + rng.Next(flipped.Length - from);
                flipped[at] ^= (byte)(1 << rng.Next(8));
            }

            corpus.Add(($"bitflip{seed}", flipped, true));
        }

        // Not media: an executable and text, named .mp4.
        corpus.Add(("elf", (await File.ReadAllBytesAsync("/bin/sh")).AsSpan(0, 64 * 1024).ToArray(), false));
        corpus.Add(("text", Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("not a video at all\n", 5000))), false));

        // Absurd dimensions in the header: a YUV4MPEG2 stream declaring 60000x60000 with a frame's worth of nothing.
        corpus.Add(("huge", [.. Encoding.ASCII.GetBytes("YUV4MPEG2 W60000 H60000 F25:1 Ip A1:1 C420jpeg\nFRAME\n"), .. new byte[100_000]], false));

        // A valid container without a single frame.
        var zero = work.Combine("zero.mp4");
        (await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
            "-frames:v", "0", "-c:v", "libx264", zero])).EnsureSuccess("zero-frame mp4");
        corpus.Add(("zeroframes", await File.ReadAllBytesAsync(zero), false));
        return corpus;
    }

    [Fact]
    public async Task Every_broken_upload_fails_clearly_or_serves_whole_and_the_server_keeps_serving()
    {
        using var work = new TempDir("ss-corrupt");
        using var data = new TempDir("ss-corrupt-data");
        await TestLibrary.PublishAsync(data.Path);
        var corpus = await CorpusAsync(work);
        await using var server = await RunningServer.StartProcessAsync(data.Path, $"--StreamServer:AdminToken={Token}",
            "--StreamServer:Packaging:Ladder:0=240", "--StreamServer:Packaging:Preset=ultrafast");
        using var client = server.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        var output = TestContext.Current.TestOutputHelper;
        foreach (var (name, bytes, mayDecode) in corpus)
        {
            using var form = new MultipartFormDataContent();
            form.Add(new StringContent(name), "id");
            form.Add(new ByteArrayContent(bytes), "file", name + ".mp4");
            using (var created = await client.PostAsync("/api/vod", form))
            {
                Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            }

            JsonElement job = default;
            await Eventually.TrueAsync(async () =>
            {
                // While it runs, what is visible is nothing or the whole VOD (publishing is one rename, a moment before the
                // job reports ready).
                using (var visible = await client.GetAsync($"/vod/{name}/master.m3u8"))
                {
                    if (visible.StatusCode != HttpStatusCode.NotFound)
                    {
                        await AssertWholeAsync(client, $"/vod/{name}/", "master.m3u8");
                    }
                }

                job = await client.GetFromJsonAsync<JsonElement>($"/api/vod/{name}");
                return job.GetProperty("state").GetString() is "ready" or "failed";
            }, TimeSpan.FromSeconds(60), () => $"{name}: {job}");

            var outcome = job.GetProperty("state").GetString();
            var error = job.TryGetProperty("error", out var e) ? e.GetString() : null;
            output?.WriteLine($"{name,-12} {outcome}: {error}");
            if (outcome == "failed")
            {
                Assert.False(string.IsNullOrWhiteSpace(error), $"{name}: failed without a message");
                // The message says why, in FFmpeg's words where FFmpeg knows.
                var why = name switch { "huge" => "60000x60000", "zeroframes" => "no audio or video stream", _ when name.StartsWith("trunc", StringComparison.Ordinal) => "moov atom not found", _ => "" };
                Assert.Contains(why, error);
                // Uploads are stored under random names; the message names the file as it was uploaded.
                Assert.DoesNotMatch("[0-9a-f]{32}", error);
                if (name.StartsWith("trunc", StringComparison.Ordinal))
                {
                    Assert.Contains($"{name}.mp4", error);
                }

                Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/vod/{name}/master.m3u8")).StatusCode);
            }
            else
            {
                // Only damage inside the picture may decode; then the VOD is whole: every playlist and file it names serves.
                Assert.True(mayDecode, $"{name}: packaged, but it should not decode");
                await AssertWholeAsync(client, $"/vod/{name}/", "master.m3u8");
            }

            Assert.Empty(Directory.GetDirectories(Path.Combine(data.Path, "vod"), ".staging-*"));
            Assert.Equal(await TestLibrary.ReadAsync("big.m4s"), await client.GetByteArrayAsync($"/vod/{TestLibrary.Id}/big.m4s"));
        }

        Assert.False(server.HasExited, server.Output);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        Assert.Empty(Directory.GetFiles(Path.Combine(data.Path, "uploads")));
    }

    // Fetches a playlist and, recursively, every URI it names (relative to it).
    private static async Task AssertWholeAsync(HttpClient client, string folder, string playlist)
    {
        var text = await client.GetStringAsync(folder + playlist);
        var dir = folder + (playlist.Contains('/') ? playlist[..(playlist.LastIndexOf('/') + 1)] : "");
        foreach (var line in text.Split('\n'))
        {
            var uri = line.StartsWith('#') ? (line.Contains("URI=\"") ? line.Split("URI=\"")[1].Split('"')[0] : null) : line.Trim();
            if (string.IsNullOrEmpty(uri))
            {
                continue;
            }

            if (uri.EndsWith(".m3u8", StringComparison.Ordinal))
            {
                await AssertWholeAsync(client, dir, uri);
            }
            else
            {
                using var response = await client.GetAsync(dir + uri);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }
    }
}
