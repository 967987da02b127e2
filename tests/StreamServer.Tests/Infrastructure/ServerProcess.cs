using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Infrastructure;

/// <summary>
/// The real server as a child process (`dotnet StreamServer.dll ...`), for tests that look at it from outside: strace or
/// BPF on its pid, its descriptors and memory in /proc, signals, a network namespace of its own (`ip netns exec` execs
/// in place, so the child's pid is the server's). Ready once Kestrel says where it listens; stopped with SIGTERM like an
/// operator would, killed if it does not exit. Tests that need the server's services in-process use
/// <see cref="RunningServer"/>.
/// </summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TempDir? _ownedDataDir;
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(Process process, string dataDir, TempDir? ownedDataDir, NetworkNamespace? netns)
    {
        _process = process;
        DataDir = dataDir;
        _ownedDataDir = ownedDataDir;
        Netns = netns;
    }

    public int Pid => _process.Id;

    /// <summary>The cleartext HTTP port (HTTP/1.1 + h2c).</summary>
    public int Port { get; private set; }

    public Uri HttpUri => new($"http://127.0.0.1:{Port}/");

    public string DataDir { get; }

    public NetworkNamespace? Netns { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>What the server printed, for failure messages and log assertions.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the server on a free port with <paramref name="dataDir"/> (a temporary one when null).</summary>
    public static Task<ServerProcess> StartAsync(string? dataDir = null, params string[] extraArgs) => StartAsync(null, 0, dataDir, extraArgs);

    /// <summary>Starts the server inside <paramref name="netns"/> on <paramref name="port"/>.</summary>
    public static Task<ServerProcess> StartAsync(NetworkNamespace netns, int port, params string[] extraArgs) => StartAsync(netns, port, null, extraArgs);

    private static async Task<ServerProcess> StartAsync(NetworkNamespace? netns, int port, string? dataDir, string[] extraArgs)
    {
        var owned = dataDir is null ? new TempDir("ss-server-process") : null;
        dataDir ??= owned!.Path;
        string[] serverArgs =
        [
            ServerDll(),
            $"--StreamServer:DataDir={dataDir}",
            "--StreamServer:ListenAddress=127.0.0.1",
            $"--StreamServer:HttpPort={port.ToString(CultureInfo.InvariantCulture)}",
            "--StreamServer:HttpsPort=-1",
            "--StreamServer:GenerateSample=false",
            "--StreamServer:Live:TestChannel=false",
            "--StreamServer:RtmpPort=-1",
            $"--StreamServer:Live:WindowDirectory={Path.Combine(dataDir, "live-window")}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
            "--Logging:LogLevel:StreamServer.Tracing=Information",
            .. extraArgs,
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
        var server = new ServerProcess(process, dataDir, owned, netns);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await using var timeoutRegistration = cts.Token.Register(() => server._port.TrySetException(new TimeoutException("server did not start:\n" + server.Output)));
            _ = process.WaitForExitAsync().ContinueWith(_ => server._port.TrySetException(new InvalidOperationException("server exited:\n" + server.Output)), TaskScheduler.Default);
            server.Port = await server._port.Task;
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

    public async Task<string> MetricsAsync()
    {
        using var client = new HttpClient { BaseAddress = HttpUri };
        return await client.GetStringAsync("/metrics");
    }

    /// <summary>Value of one sample (name with its labels, as printed) in the Prometheus text.</summary>
    public static double Sample(string metrics, string name)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        throw new KeyNotFoundException(name);
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

    /// <summary>A free loopback port for a second listener (TLS, RTMP) the test configures itself.</summary>
    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>SIGTERM, then wait for a clean exit; returns the exit code. Past the timeout the server is killed and this throws.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            _ = await ProcessRunner.RunAsync("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
                throw new TimeoutException("server did not exit on SIGTERM:\n" + Output);
            }
        }

        return _process.ExitCode;
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

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await StopAsync(TimeSpan.FromSeconds(15));
            }
        }
        catch (TimeoutException)
        {
            // Killed above; the test that cared already failed.
        }

        _process.Dispose();
        _ownedDataDir?.Dispose();
    }

    private static string ServerDll()
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
