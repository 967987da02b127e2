using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Players;

/// <summary>
/// Runs tests/Players/player.html (hls.js or shaka-player from npm) in Debian's headless Chromium against
/// a URL and returns the one line the page reports ("PASS ..." / "FAIL ...") to a loopback listener.
/// Chromium keeps its process isolation: as root it would have to turn that off, so there it runs as the user "nobody",
/// from a copy of the page and its player script in a folder that user can read.
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
        using var temp = new TempDir("ss-chromium");
        var pageDir = CopyPage(temp, player);
        var page = new Uri(Path.Combine(pageDir, "player.html")).AbsoluteUri +
            $"?player={player}&src={Uri.EscapeDataString(source.AbsoluteUri)}&seconds={seconds}&live={(live ? 1 : 0)}&report={Uri.EscapeDataString(report)}";
        var psi = StartInfo(temp, ["--disable-quic", "--autoplay-policy=no-user-gesture-required", "--allow-file-access-from-files", page]);
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

    /// <summary>
    /// A PNG of <paramref name="page"/> at <paramref name="width"/> x <paramref name="height"/> CSS pixels once
    /// <paramref name="virtualMilliseconds"/> of page time have run (Chromium's virtual time: timers fire without the wall
    /// clock waiting, network requests are real), so a page that polls has drawn a few rounds.
    /// </summary>
    public static async Task<byte[]> ScreenshotAsync(Uri page, int width, int height, int virtualMilliseconds)
    {
        using var temp = new TempDir("ss-chromium");
        var shot = Path.Combine(temp.Combine("profile"), "shot.png"); // the profile is the one folder Chromium may write to
        var psi = StartInfo(temp, [$"--window-size={width},{height}", "--hide-scrollbars",
            $"--virtual-time-budget={virtualMilliseconds}", $"--screenshot={shot}", page.AbsoluteUri]);
        using var chromium = Process.Start(psi) ?? throw new InvalidOperationException("cannot start chromium");
        var stderr = chromium.StandardError.ReadToEndAsync();
        _ = chromium.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await chromium.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            chromium.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium did not finish the screenshot: " + await stderr);
        }

        Assert.True(File.Exists(shot), "no screenshot: " + await stderr);
        return await File.ReadAllBytesAsync(shot);
    }

    /// <summary>Chromium with a fresh profile in <paramref name="temp"/>/profile; as root it runs as "nobody" so its process isolation stays on.</summary>
    private static ProcessStartInfo StartInfo(TempDir temp, IEnumerable<string> args)
    {
        var profile = temp.Combine("profile");
        Directory.CreateDirectory(profile);
        var psi = new ProcessStartInfo(Capabilities.IsRoot ? "setpriv" : "chromium")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Capabilities.IsRoot)
        {
            File.SetUnixFileMode(temp.Path, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(profile, (UnixFileMode)0b111_111_111);
            foreach (var a in (string[])["--reuid=nobody", "--regid=nogroup", "--clear-groups", "chromium"])
            {
                psi.ArgumentList.Add(a);
            }

            psi.Environment["HOME"] = profile;
        }

        foreach (var a in (string[])["--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", $"--user-data-dir={profile}", .. args])
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    /// <summary>player.html and the one script it loads for <paramref name="player"/>, under <paramref name="temp"/>/page.</summary>
    private static string CopyPage(TempDir temp, string player)
    {
        var pageDir = temp.Combine("page");
        string script = player == "shaka"
            ? Path.Combine("node_modules", "shaka-player", "dist", "shaka-player.compiled.js")
            : Path.Combine("node_modules", "hls.js", "dist", "hls.min.js");
        foreach (var file in (string[])["player.html", script])
        {
            var target = Path.Combine(pageDir, file);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(PlayersDir, file), target);
        }

        return pageDir;
    }
}
