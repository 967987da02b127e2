using System.Net;
using System.Text.Json;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;

namespace StreamServer.Tests.Http;

/// <summary>
/// Where the server bends Kestrel (h2c by reflection, the send pipe, the transport pool): each bend follows its setting,
/// and /healthz ("kestrel") says which are in effect, so an operator sees what the process runs with.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class KestrelSetupTests
{
    [Fact]
    public async Task By_default_every_adaptation_is_on_and_reported()
    {
        await using var server = await RunningServer.StartAsync(tls: false);
        await TestLibrary.PublishAsync(server.DataDir);
        var kestrel = await KestrelHealthAsync(server);
        Assert.Equal("ok", kestrel.GetProperty("status").GetString());
        var details = kestrel.GetProperty("details");
        Assert.True(details.GetProperty("h2cPriorKnowledge").GetBoolean());
        Assert.True(details.GetProperty("directSocketSend").GetBoolean());
        Assert.True(details.GetProperty("rejectBareLineFeed").GetBoolean());
        Assert.True(details.GetProperty("zeroCopyHttp1").GetBoolean());
        Assert.Equal(64 * 1024, details.GetProperty("transportPoolBlockBytes").GetInt32());

        using var h2c = VodServingTests.Client(server, "h2c");
        using var response = await h2c.GetAsync("/vod/clip/media.m3u8");
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Each_adaptation_can_be_turned_off_and_the_server_still_serves()
    {
        await using var server = await RunningServer.StartAsync(null, false, "--StreamServer:Http1:H2cPriorKnowledge=false",
            "--StreamServer:Transport:DirectSocketSend=false", "--StreamServer:Transport:BlockBytes=0", "--StreamServer:Http1:ZeroCopy=false");
        await TestLibrary.PublishAsync(server.DataDir);
        var details = (await KestrelHealthAsync(server)).GetProperty("details");
        Assert.False(details.GetProperty("h2cPriorKnowledge").GetBoolean());
        Assert.False(details.GetProperty("directSocketSend").GetBoolean());
        Assert.False(details.GetProperty("zeroCopyHttp1").GetBoolean());
        Assert.Equal(0, details.GetProperty("transportPoolBlockBytes").GetInt32());

        // Kestrel's own HTTP/1.1 serves the library; the HTTP/2 preface on the cleartext port is not taken as h2c.
        using var http1 = server.CreateHttpClient();
        Assert.Equal(await TestLibrary.ReadAsync("media.m3u8"), await http1.GetByteArrayAsync("/vod/clip/media.m3u8"));
        using var h2c = VodServingTests.Client(server, "h2c");
        await Assert.ThrowsAsync<HttpRequestException>(() => h2c.GetAsync("/vod/clip/media.m3u8"));
    }

    private static async Task<JsonElement> KestrelHealthAsync(RunningServer server)
    {
        using var client = server.CreateHttpClient();
        using var doc = JsonDocument.Parse(await client.GetStringAsync("/healthz"));
        return doc.RootElement.GetProperty("subsystems").GetProperty("kestrel").Clone();
    }
}
