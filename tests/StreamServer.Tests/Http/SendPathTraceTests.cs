using System.Text.RegularExpressions;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tests.Vod;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Http;

/// <summary>
/// What actually leaves the process, seen by strace on the running server (a separate process):
/// segment bodies by sendfile(2), a playlist's head and body by one gathered sendmsg.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class SendPathTraceTests
{
    [Fact]
    public async Task SegmentsLeaveBySendfileAndPlaylistsByOneGatheredWrite()
    {
        var missing = Capabilities.MissingTool("strace");
        Assert.SkipWhen(missing is not null, missing ?? "");
        using var data = new TempDir("ss-strace");
        await TestLibrary.PublishAsync(data.Path);
        var segment = await TestLibrary.ReadAsync("big.m4s");
        var playlist = await TestLibrary.ReadAsync("media.m3u8");
        await using var server = await RunningServer.StartProcessAsync(data.Path);

        // Warm the file cache so the traced requests are the steady-state hot path.
        await using (var warm = await RawHttpConnection.OpenAsync(server.HttpUri))
        {
            await warm.SendAsync("GET /vod/clip/big.m4s HTTP/1.1\r\nHost: a\r\n\r\nGET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\n\r\n");
            await warm.ReadResponseAsync();
            await warm.ReadResponseAsync();
        }

        var log = Path.Combine(data.Path, "strace.log");
        var (strace, failure) = await StraceAttachment.AttachAsync(server.Pid, "-s", "64", "-e", "trace=sendfile,sendfile64,writev,sendmsg", "-o", log);
        Assert.SkipWhen(strace is null, "strace cannot attach here: " + failure);
        using (strace)
        {
            await using (var c = await RawHttpConnection.OpenAsync(server.HttpUri))
            {
                await c.SendAsync("GET /vod/clip/big.m4s HTTP/1.1\r\nHost: a\r\n\r\n");
                Assert.Equal(segment, (await c.ReadResponseAsync())!.Body);
                await c.SendAsync("GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\n\r\n");
                Assert.Equal(playlist, (await c.ReadResponseAsync())!.Body);

                // The connection answers in order: once a third response arrives, the playlist's write has returned.
                await c.SendAsync("GET /vod/clip/media.m3u8 HTTP/1.1\r\nHost: a\r\n\r\n");
                Assert.NotNull(await c.ReadResponseAsync());
            }

            await strace.StopAsync();
        }

        var lines = await File.ReadAllLinesAsync(log);
        var trace = string.Join("\n", lines);

        // Segment: every body byte by sendfile (possibly several calls when the socket buffer fills).
        var sendfileBytes = 0L;
        foreach (var line in lines)
        {
            var m = Regex.Match(line, @"sendfile(64)?\(\d+, \d+, \[\d+\] => \[\d+\], \d+\) = (\d+)");
            if (m.Success)
            {
                sendfileBytes += long.Parse(m.Groups[2].Value);
            }
        }

        Assert.True(sendfileBytes == segment.Length, $"sendfile carried {sendfileBytes} of {segment.Length} bytes:\n{trace}");

        // Its head went by one sendmsg with MSG_MORE just before (shares the first packet with the body).
        Assert.Matches(@"sendmsg\(\d+, \{msg_name=NULL, msg_namelen=0, msg_iov=\[\{iov_base=""HTTP/1.1 200 OK\\r\\nContent-Length: " + segment.Length + @"[^\n]*msg_iovlen=1[^\n]*MSG_NOSIGNAL\|MSG_MORE", trace);

        // Playlist: head and body in ONE sendmsg with two iovecs, nothing else written for it.
        var gathered = Regex.Match(trace, @"sendmsg\(\d+, \{[^\n]*iov_base=""HTTP/1.1 200 OK\\r\\nContent-Length: " + playlist.Length + @"[^\n]*iov_base=""#EXTM3U[^\n]*msg_iovlen=2[^\n]*\) = (\d+)");
        Assert.True(gathered.Success, "no gathered write for the playlist:\n" + trace);
        var head = int.Parse(Regex.Match(gathered.Value, @"iov_len=(\d+)").Groups[1].Value);
        Assert.Equal(head + playlist.Length, int.Parse(gathered.Groups[1].Value));
    }
}
