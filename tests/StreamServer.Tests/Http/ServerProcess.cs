using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace StreamServer.Tests.Http;

/// <summary>
/// The real server as a separate process (`dotnet StreamServer.dll ...`), for tests that look at it
/// from outside: strace on its pid, its open descriptors in /proc. Killed (this child only) on dispose.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, Uri http)
    {
        _process = process;
        HttpUri = http;
    }

    private System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    public int Pid => _process.Id;

    /// <summary>What the server printed, and whether it is still running, for failure messages.</summary>
    public string Output => $"exited={_process.HasExited}\n" + string.Join("\n", _output);
    public Uri HttpUri { get; }

    public static async Task<ServerProcess> StartAsync(string dataDir, params string[] extraArgs)
    {
        var port = FreePort();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(ServerDll());
        foreach (var a in (string[])[$"--StreamServer:DataDir={dataDir}", "--StreamServer:ListenAddress=127.0.0.1", $"--StreamServer:HttpPort={port}",
                     "--StreamServer:HttpsPort=-1", "--StreamServer:GenerateSample=false", "--StreamServer:Live:TestChannel=false", "--StreamServer:RtmpPort=-1",
                     $"--StreamServer:Live:WindowDirectory={Path.Combine(dataDir, "live-window")}", "--Logging:LogLevel:Default=Warning", .. extraArgs])
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the server");
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, new Uri($"http://127.0.0.1:{port}/")) { _output = output };
        using var client = new HttpClient { BaseAddress = server.HttpUri, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var r = await client.GetAsync("/healthz");
                return server;
            }
            catch (Exception) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Resident set size of the process right now (VmRSS), in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS");
    }

    /// <summary>Descriptors the process holds open right now.</summary>
    public int OpenDescriptors() => Directory.GetFiles($"/proc/{Pid}/fd").Length;

    public async Task<string> MetricsAsync()
    {
        using var client = new HttpClient { BaseAddress = HttpUri };
        return await client.GetStringAsync("/metrics");
    }

    /// <summary>Value of one unlabelled sample in the Prometheus text.</summary>
    public static double Sample(string metrics, string name)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new KeyNotFoundException(name);
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

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>SIGTERM, as an operator's stop: the host shuts down in order. True when it exited in time.</summary>
    public async Task<bool> TerminateAsync(TimeSpan timeout)
    {
        if ((await TestSupport.ProcessRunner.RunAsync("kill", ["-TERM", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])).ExitCode != 0)
        {
            return false;
        }

        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
