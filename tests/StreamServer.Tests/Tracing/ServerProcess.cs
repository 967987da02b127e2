using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using StreamServer.Hosting;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Tracing;

/// <summary>
/// The real server as a child process (`dotnet StreamServer.dll`), optionally inside a network namespace
/// (`ip netns exec` execs in place, so the child's pid is the server's). Stopped with SIGTERM like an
/// operator would; killed if it does not exit.
/// </summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TempDir _dataDir;
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(Process process, TempDir dataDir, NetworkNamespace? netns)
    {
        _process = process;
        _dataDir = dataDir;
        Netns = netns;
    }

    public int Pid => _process.Id;

    public int Port { get; private set; }

    public string DataDir => _dataDir.Path;

    public NetworkNamespace? Netns { get; }

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

    public bool HasExited => _process.HasExited;

    public static async Task<ServerProcess> StartAsync(NetworkNamespace? netns = null, int port = 0, params string[] extraArgs)
    {
        var dll = typeof(ServerApp).Assembly.Location;
        var dataDir = new TempDir("ss-trace-server");
        string[] serverArgs =
        [
            dll,
            $"--StreamServer:DataDir={dataDir.Path}",
            "--StreamServer:ListenAddress=127.0.0.1",
            $"--StreamServer:HttpPort={port.ToString(CultureInfo.InvariantCulture)}",
            "--StreamServer:HttpsPort=-1",
            "--StreamServer:GenerateSample=false",
            "--StreamServer:Live:TestChannel=false",
            "--StreamServer:RtmpPort=-1",
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
            WorkingDirectory = dataDir.Path,
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
        var server = new ServerProcess(process, dataDir, netns);
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
        var deadline = DateTime.UtcNow + timeout;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            last = await GetAsync("/healthz");
            if (last.Contains("\"state\":\"attached\"", StringComparison.Ordinal) || last.Contains("\"state\":\"disabled\"", StringComparison.Ordinal))
            {
                return last;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("tracers never attached: " + last + "\n" + Output);
    }

    /// <summary>SIGTERM, then wait for a clean exit; returns the exit code.</summary>
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
        _dataDir.Dispose();
    }

    [GeneratedRegex(@"Now listening on: http://[^:]+:(\d+)")]
    private static partial Regex ListeningLine();
}
