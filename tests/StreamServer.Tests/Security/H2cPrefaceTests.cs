using StreamServer.Tests.Http;
using StreamServer.Tests.Infrastructure;

namespace StreamServer.Tests.Security;

/// <summary>RFC 9113 3.4: a broken client preface on the cleartext port is a connection error of type PROTOCOL_ERROR.</summary>
[Collection(ServerTestsCollection.Name)]
public class H2cPrefaceTests
{
    [Theory]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\rQ")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")]
    [InlineData("PRI * HTTP/2.0\r\nHost: a\r\n\r\n")]
    public async Task Broken_preface_gets_settings_then_goaway_protocol_error_and_close(string preface)
    {
        await using var server = await RunningServer.StartAsync(tls: false);
        await using var c = await RawHttpConnection.OpenAsync(server.HttpUri);
        await c.SendAsync(preface);
        var bytes = await ReadToEndAsync(c.Socket, TimeSpan.FromSeconds(5));
        Assert.True(bytes.Length >= 26, $"{bytes.Length} bytes: {Convert.ToHexString(bytes)}");
        Assert.Equal(0x4, bytes[3]); // SETTINGS first (the server preface)
        var goaway = bytes.AsSpan(9 + ((bytes[0] << 16) | (bytes[1] << 8) | bytes[2]));
        Assert.Equal(0x7, goaway[3]);
        Assert.Equal(1, (goaway[13] << 24) | (goaway[14] << 16) | (goaway[15] << 8) | goaway[16]); // PROTOCOL_ERROR
    }

    private static async Task<byte[]> ReadToEndAsync(System.Net.Sockets.Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var all = new List<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, cts.Token);
            if (n == 0)
            {
                return [.. all];
            }

            all.AddRange(buffer.AsSpan(0, n));
        }
    }
}
