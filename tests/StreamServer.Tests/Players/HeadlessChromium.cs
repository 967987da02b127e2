using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Players;

/// <summary>
/// Runs tests/Players/player.html (hls.js or shaka-player from npm) in Debian's headless Chromium against
/// a URL and returns the one line the page reports ("PASS ..." / "FAIL ...") to a loopback listener.
/// </summary>
internal static class HeadlessChromium
{
    public static string PlayersDir => RepoPaths.Combine("tests", "Players");

    /// <summary>Null when Chromium and the players are there; otherwise why not.</summary>
    public static string? Missing()
    {
        if (Capabilities.MissingTool("chromium") is { } tool)
        {
            return tool;
        }

        return File.Exists(Path.Combine(PlayersDir, "node_modules", "hls.js", "dist", "hls.min.js"))
            ? null
            : "tests/Players/node_modules is missing (scripts/setup.sh runs npm ci there)";
    }

    public static async Task<string> PlayAsync(string player, Uri source, double seconds, TimeSpan timeout, bool live = false)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var report = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/report";
        var page = new Uri(Path.Combine(PlayersDir, "player.html")).AbsoluteUri +
            $"?player={player}&src={Uri.EscapeDataString(source.AbsoluteUri)}&seconds={seconds}&live={(live ? 1 : 0)}&report={Uri.EscapeDataString(report)}";
        using var profile = new TempDir("ss-chromium");
        var psi = new ProcessStartInfo("chromium")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--autoplay-policy=no-user-gesture-required", "--allow-file-access-from-files",
            $"--user-data-dir={profile.Path}", page])
        {
            psi.ArgumentList.Add(a);
        }

        using var chromium = Process.Start(psi) ?? throw new InvalidOperationException("cannot start chromium");
        chromium.OutputDataReceived += static (_, _) => { };
        chromium.ErrorDataReceived += static (_, _) => { };
        chromium.BeginOutputReadLine();
        chromium.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            using var client = await listener.AcceptTcpClientAsync(cts.Token);
            using var stream = client.GetStream();
            var buffer = new byte[8192];
            var read = await stream.ReadAsync(buffer, cts.Token);
            var requestLine = Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0];
            await stream.WriteAsync("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"u8.ToArray(), cts.Token);
            var query = requestLine.Split(' ')[1];
            var line = query[(query.IndexOf("line=", StringComparison.Ordinal) + 5)..];
            return Uri.UnescapeDataString(line);
        }
        catch (OperationCanceledException)
        {
            return $"FAIL {player}: no report from the page within {timeout.TotalSeconds} s";
        }
        finally
        {
            chromium.Kill(entireProcessTree: true);
            await chromium.WaitForExitAsync();
        }
    }
}
