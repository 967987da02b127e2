using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Admin;

[Collection(ServerTestsCollection.Name)]
public class AdminApiTests
{
    private const string Token = "test-token-0123456789";

    private static Task<RunningServer> StartAsync(string importRoot, params string[] extra) =>
        RunningServer.StartAsync(null, true, [$"--StreamServer:AdminToken={Token}", $"--StreamServer:ImportRoots:0={importRoot}", .. extra]);

    [Fact]
    public async Task ApiRequiresTheBearerToken()
    {
        using var import = new TempDir();
        await using var server = await StartAsync(import.Path);
        using var anonymous = server.CreateHttpClient();
        using var none = await anonymous.GetAsync("/api/vod");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer", none.Headers.WwwAuthenticate.ToString());

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token + "x");
        using var wrong = await anonymous.GetAsync("/api/vod");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        using var client = server.CreateAdminClient();
        using var ok = await client.GetAsync("/api/vod");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(JsonValueKind.Array, (await ok.Content.ReadFromJsonAsync<JsonElement>()).ValueKind);
    }

    [Fact]
    public async Task GeneratedTokenIsSavedInTheDataFolderAndReused()
    {
        using var data = new TempDir();
        string first;
        await using (var server = await RunningServer.StartAsync(data.Path))
        {
            first = (await File.ReadAllTextAsync(Path.Combine(data.Path, "admin-token"))).Trim();
            Assert.True(first.Length >= 32);
            using var client = server.CreateHttpClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", first);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/vod")).StatusCode);
        }

        await using (await RunningServer.StartAsync(data.Path))
        {
            Assert.Equal(first, (await File.ReadAllTextAsync(Path.Combine(data.Path, "admin-token"))).Trim());
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(data.Path, "admin-token")));
    }

    [Theory]
    [InlineData("{", 400, "invalid JSON")]
    [InlineData("{}", 400, "\"source\"")]
    [InlineData("{\"source\":\"relative/movie.mp4\"}", 400, "absolute path")]
    [InlineData("{\"source\":\"/nonexistent-dir/movie.mp4\"}", 403, "not a file inside the allowed import folders")]
    [InlineData("{\"source\":\"/etc/passwd\"}", 403, "not a file inside the allowed import folders")]
    public async Task BadCreateRequestsGetAClearError(string body, int status, string reason)
    {
        using var import = new TempDir();
        await using var server = await StartAsync(import.Path);
        using var client = server.CreateAdminClient();
        using var response = await client.PostAsync("/api/vod", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(status, (int)response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();
        Assert.Contains(reason, error);
    }

    [Fact]
    public async Task SymlinkOutOfTheImportFolderIsRefused()
    {
        using var import = new TempDir();
        using var outside = new TempDir();
        var target = Path.Combine(outside.Path, "movie.mp4");
        await File.WriteAllBytesAsync(target, [1, 2, 3]);
        var link = Path.Combine(import.Path, "movie.mp4");
        File.CreateSymbolicLink(link, target);
        await using var server = await StartAsync(import.Path);
        using var client = server.CreateAdminClient();
        using var response = await client.PostAsJsonAsync("/api/vod", new { source = link });
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task InvalidIdIsRefused()
    {
        using var import = new TempDir();
        var clip = Path.Combine(import.Path, "clip.mp4");
        await File.WriteAllBytesAsync(clip, [1, 2, 3]);
        await using var server = await StartAsync(import.Path);
        using var client = server.CreateAdminClient();
        using var response = await client.PostAsJsonAsync("/api/vod", new { source = clip, id = "../escape" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var missing = await client.GetAsync("/api/vod/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task UploadOverTheLimitIsRefusedAndLeavesNothingBehind()
    {
        using var import = new TempDir();
        await using var server = await StartAsync(import.Path, "--StreamServer:MaxUploadBytes=100000");
        using var client = server.CreateAdminClient();
        using var form = new MultipartFormDataContent();
        form.Add(new ByteArrayContent(new byte[300_000]), "file", "big.mp4");
        using var response = await client.PostAsync("/api/vod", form);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.DataDir, "uploads")));
    }
}
