using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Infrastructure;

/// <summary>The child-process host: the server as `dotnet StreamServer.dll ...`, ready once Kestrel says where it listens, stopped with SIGTERM like an operator would (killed if it does not exit).</summary>
internal sealed partial class RunningServer
{
    private readonly Process? _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Pid => Process.Id;

    /// <summary>The namespace the child runs in, when it was started in one.</summary>
    public NetworkNamespace? Netns { get; }

    public bool HasExited => Process.HasExited;

    private Process Process => _process ?? throw ChildProcessOnly();

    /// <summary>What the server printed, for failure messages and log assertions.</summary>
    public string Output
    {
        get
        {
            _ = Process;
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the server on a free port with <paramref name="dataDir"/> (a temporary one when null).</summary>
    public static Task<RunningServer> StartProcessAsync(string? dataDir = null, params string[] extraArgs) => StartProcessAsync(null, 0, dataDir, extraArgs);

    /// <summary>Starts the server inside <paramref name="netns"/> on <paramref name="port"/>.</summary>
    public static Task<RunningServer> StartProcessAsync(NetworkNamespace netns, int port, params string[] extraArgs) => StartProcessAsync(netns, port, null, extraArgs);

    private static async Task<RunningServer> StartProcessAsync(NetworkNamespace? netns, int port, string? dataDir, string[] extraArgs)
    {
        var owned = dataDir is null ? new TempDir("ss-server-process") : null;
        dataDir ??= owned!.Path;
        string[] serverArgs =
        [
            ServerDll(),
            .. Arguments(dataDir, port, -1, [
                "--Logging:LogLevel:Default=Warning",
                "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
                "--Logging:LogLevel:StreamServer.Tracing=Information",
                .. extraArgs]),
        ];
        var psi = new ProcessStartInfo(netns is null ? "dotnet" : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDir,
        };
        if (netns is not null)
        {
            foreach (var a in new[] { "netns", "exec", netns.Name, "dotnet" })
            {
                psi.ArgumentList.Add(a);
            }
        }

        foreach (var a in serverArgs)
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the server");
        var server = new RunningServer(dataDir, owned, null, process, netns);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await using var timeoutRegistration = cts.Token.Register(() => server._port.TrySetException(new TimeoutException("server did not start:\n" + server.Output)));
            _ = process.WaitForExitAsync().ContinueWith(_ => server._port.TrySetException(new InvalidOperationException("server exited:\n" + server.Output)), TaskScheduler.Default);
            server.HttpUri = new Uri($"http://127.0.0.1:{(await server._port.Task).ToString(CultureInfo.InvariantCulture)}/");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        var m = ListeningLine().Match(line);
        if (m.Success)
        {
            _port.TrySetResult(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Resident set size of the process right now (VmRSS), in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS");
    }

    /// <summary>Descriptors the process holds open right now.</summary>
    public int OpenDescriptors() => Directory.GetFiles($"/proc/{Pid}/fd").Length;

    /// <summary>The descriptor count once it holds still (two readings 200 ms apart agree): a baseline to compare with.</summary>
    public async Task<int> SteadyDescriptorsAsync() =>
        (int)await Eventually.SettledAsync(() => Task.FromResult((long)OpenDescriptors()), 0, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));

    /// <summary>Waits for a line of the console log, which the server writes asynchronously.</summary>
    public Task WaitForOutputAsync(string text) =>
        Eventually.TrueAsync(() => Output.Contains(text, StringComparison.Ordinal), TimeSpan.FromSeconds(15), () => $"no log line '{text}':\n{Output}");

    /// <summary>Of those, sockets (connections and listeners): what must return to its baseline when clients leave.</summary>
    public int OpenSockets()
    {
        var n = 0;
        foreach (var fd in Directory.GetFiles($"/proc/{Pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                {
                    n++;
                }
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }

        return n;
    }

    /// <summary>GET through curl (run inside the namespace when there is one); returns the body.</summary>
    public async Task<string> GetAsync(string path)
    {
        string[] curl = ["curl", "-sS", "--max-time", "30", $"http://127.0.0.1:{Port}{path}"];
        var result = Netns is null
            ? await ProcessRunner.RunAsync(curl[0], curl[1..])
            : await Netns.ExecAsync(curl);
        return result.EnsureSuccess($"curl {path}").StdOut;
    }

    /// <summary>Waits until /healthz reports the tracers attached (or disabled) and returns the health JSON.</summary>
    public async Task<string> WaitForTracersAsync(TimeSpan timeout)
    {
        var last = "";
        await Eventually.TrueAsync(async () =>
        {
            last = await GetAsync("/healthz");
            return last.Contains("\"state\":\"attached\"", StringComparison.Ordinal) || last.Contains("\"state\":\"disabled\"", StringComparison.Ordinal);
        }, timeout, () => "tracers never attached: " + last + "\n" + Output);
        return last;
    }

    /// <summary>SIGTERM, then wait for a clean exit; returns the exit code. Past the timeout the server is killed and this throws.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!Process.HasExited)
        {
            _ = await ProcessRunner.RunAsync("kill", ["-TERM", Process.Id.ToString(CultureInfo.InvariantCulture)]);
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await Process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Process.Kill(entireProcessTree: true);
                await Process.WaitForExitAsync();
                throw new TimeoutException("server did not exit on SIGTERM:\n" + Output);
            }
        }

        return Process.ExitCode;
    }

    /// <summary>SIGKILL, as a crash or the OOM killer would: nothing of the server runs after this returns.</summary>
    public async Task KillAsync()
    {
        Process.Kill();
        await Process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as an operator's stop: true when the server exited within <paramref name="timeout"/>.</summary>
    public async Task<bool> TerminateAsync(TimeSpan timeout)
    {
        try
        {
            await StopAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private async Task DisposeProcessAsync()
    {
        try
        {
            if (!Process.HasExited)
            {
                await StopAsync(TimeSpan.FromSeconds(15));
            }
        }
        catch (TimeoutException)
        {
            // Killed above; the test that cared already failed.
        }

        Process.Dispose();
    }

    /// <summary>The built server, as run by <see cref="StartProcessAsync(string?, string[])"/> (also its CLI verbs).</summary>
    internal static string ServerDll()
    {
        // The Release (or Debug, matching this test build) output of src/StreamServer, else the copy beside the tests.
        var configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "StreamServer.sln")))
            {
                var built = Path.Combine(dir.FullName, "src", "StreamServer", "bin", configuration, "net10.0", "StreamServer.dll");
                if (File.Exists(built))
                {
                    return built;
                }

                break;
            }
        }

        return Path.Combine(AppContext.BaseDirectory, "StreamServer.dll");
    }

    [GeneratedRegex(@"Now listening on: http://[^:]+:(\d+)")]
    private static partial Regex ListeningLine();
}
