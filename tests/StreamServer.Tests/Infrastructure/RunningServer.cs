using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using StreamServer.Hosting;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Infrastructure;

/// <summary>
/// The real server (Kestrel, our endpoints) on 127.0.0.1 with ephemeral ports and its own data folder, configured the
/// way an operator would: --StreamServer:Key=value arguments. Two ways to host it, one helper:
/// <see cref="StartAsync"/> builds it in the test process (its DI services are reachable);
/// <see cref="StartProcessAsync(string?, string[])"/> runs it as a child process (`dotnet StreamServer.dll`) for tests that
/// look at it from outside: strace or BPF on its pid, its descriptors and memory in /proc, signals, its console log,
/// a network namespace of its own. Members that only make sense for one host say so when asked of the other.
/// </summary>
internal sealed partial class RunningServer : IAsyncDisposable
{
    private readonly TempDir? _ownedDataDir;
    private readonly WebApplication? _app;

    private RunningServer(string dataDir, TempDir? ownedDataDir, WebApplication? app, Process? process, NetworkNamespace? netns)
    {
        DataDir = dataDir;
        _ownedDataDir = ownedDataDir;
        _app = app;
        _process = process;
        Netns = netns;
    }

    public string DataDir { get; }

    /// <summary>Cleartext endpoint (HTTP/1.1 and h2c).</summary>
    public Uri HttpUri { get; private set; } = null!;

    /// <summary>TLS endpoint (ALPN h2 + http/1.1), null when disabled.</summary>
    public Uri? HttpsUri { get; private set; }

    /// <summary>The cleartext HTTP port.</summary>
    public int Port => HttpUri.Port;

    /// <summary>The server's DI container (in-process host only).</summary>
    public IServiceProvider Services => (_app ?? throw InProcessOnly()).Services;

    /// <summary>The bearer token /api requires (generated into the data folder unless a test configures one; in-process host only).</summary>
    public string AdminToken => Services.GetRequiredService<global::StreamServer.Admin.AdminToken>().Value;

    /// <summary>Builds and starts the server in this process.</summary>
    public static async Task<RunningServer> StartAsync(string? dataDir = null, bool tls = true, params string[] extraArgs)
    {
        var owned = dataDir is null ? new TempDir("ss-server") : null;
        dataDir ??= owned!.Path;
        var app = ServerApp.Build(Arguments(dataDir, 0, tls ? 0 : -1, ["--Logging:LogLevel:Default=Warning", .. extraArgs]));
        var server = new RunningServer(dataDir, owned, app, null, null);
        try
        {
            await app.StartAsync();
            foreach (var a in app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses)
            {
                var uri = new Uri(a.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
                // The cleartext HTTP listener is bound first; later plain listeners (RTMP) must not replace it.
                if (uri.Scheme == "https")
                {
                    server.HttpsUri ??= uri;
                }
                else
                {
                    server.HttpUri ??= uri;
                }
            }

            if (server.HttpUri is null)
            {
                throw new InvalidOperationException("no http endpoint");
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>The arguments every test server starts with: loopback, the given ports, nothing generated or published.</summary>
    private static string[] Arguments(string dataDir, int httpPort, int httpsPort, string[] extraArgs) =>
    [
        $"--StreamServer:DataDir={dataDir}",
        "--StreamServer:ListenAddress=127.0.0.1",
        $"--StreamServer:HttpPort={httpPort.ToString(CultureInfo.InvariantCulture)}",
        $"--StreamServer:HttpsPort={httpsPort.ToString(CultureInfo.InvariantCulture)}",
        "--StreamServer:GenerateSample=false",
        "--StreamServer:Live:TestChannel=false",
        "--StreamServer:RtmpPort=-1",
        $"--StreamServer:Live:WindowDirectory={Path.Combine(dataDir, "live-window")}",
        .. extraArgs,
    ];

    /// <summary>HttpClient for the cleartext endpoint (HTTP/1.1).</summary>
    public HttpClient CreateHttpClient() => new() { BaseAddress = HttpUri };

    /// <summary>HttpClient for the cleartext endpoint carrying the admin bearer token (for /api).</summary>
    public HttpClient CreateAdminClient()
    {
        var client = CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminToken);
        return client;
    }

    /// <summary>HttpClient for the TLS endpoint, trusting the self-signed certificate; HTTP/2 exactly.</summary>
    public HttpClient CreateHttp2Client()
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
        };
        return new HttpClient(handler)
        {
            BaseAddress = HttpsUri ?? throw new InvalidOperationException("TLS disabled"),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    public async Task<string> MetricsAsync()
    {
        using var client = CreateHttpClient();
        return await client.GetStringAsync("/metrics");
    }

    /// <summary>Value of one sample (name with its labels, as printed) in the Prometheus text.</summary>
    /// <param name="absent">What a sample the text does not hold counts as (a counter nothing has added to yet is only its
    /// HELP and TYPE lines); without it, an absent sample throws.</param>
    public static double Sample(string metrics, string name, double? absent = null)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return absent ?? throw new KeyNotFoundException(name);
    }

    /// <summary>A free loopback port for a second listener (TLS, RTMP) the test configures itself.</summary>
    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (_process is not null)
        {
            await DisposeProcessAsync();
        }

        _ownedDataDir?.Dispose();
    }

    private static InvalidOperationException InProcessOnly() =>
        new("the server runs as a child process: ask it over HTTP, or start it with RunningServer.StartAsync");

    private static InvalidOperationException ChildProcessOnly() =>
        new("the server runs in the test process: start it with RunningServer.StartProcessAsync to look at it from outside");
}
