using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using StreamServer.Hosting;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Infrastructure;

/// <summary>
/// The real server (Kestrel, our endpoints) on 127.0.0.1 with ephemeral ports and its own data folder.
/// Extra configuration is passed the way an operator would: as --StreamServer:Key=value arguments.
/// </summary>
public sealed class RunningServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TempDir? _ownedDataDir;

    private RunningServer(WebApplication app, TempDir? ownedDataDir, string dataDir, Uri http, Uri? https)
    {
        _app = app;
        _ownedDataDir = ownedDataDir;
        DataDir = dataDir;
        HttpUri = http;
        HttpsUri = https;
    }

    public string DataDir { get; }

    /// <summary>Cleartext endpoint (HTTP/1.1 and h2c).</summary>
    public Uri HttpUri { get; }

    /// <summary>TLS endpoint (ALPN h2 + http/1.1), null when disabled.</summary>
    public Uri? HttpsUri { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The bearer token /api requires (generated into the data folder unless a test configures one).</summary>
    public string AdminToken => _app.Services.GetRequiredService<global::StreamServer.Admin.AdminToken>().Value;

    public static async Task<RunningServer> StartAsync(string? dataDir = null, bool tls = true, params string[] extraArgs)
    {
        TempDir? owned = null;
        if (dataDir is null)
        {
            owned = new TempDir("ss-server");
            dataDir = owned.Path;
        }

        string[] args =
        [
            $"--StreamServer:DataDir={dataDir}",
            "--StreamServer:ListenAddress=127.0.0.1",
            "--StreamServer:HttpPort=0",
            $"--StreamServer:HttpsPort={(tls ? 0 : -1)}",
            "--StreamServer:GenerateSample=false", "--StreamServer:Live:TestChannel=false", "--StreamServer:RtmpPort=-1",
            $"--StreamServer:Live:WindowDirectory={Path.Combine(dataDir, "live-window")}",
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ];
        var app = ServerApp.Build(args);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Uri? http = null, https = null;
        foreach (var a in addresses)
        {
            var uri = new Uri(a.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
            // The cleartext HTTP listener is bound first; later plain listeners (RTMP) must not replace it.
            if (uri.Scheme == "https")
            {
                https ??= uri;
            }
            else
            {
                http ??= uri;
            }
        }

        return new RunningServer(app, owned, dataDir, http ?? throw new InvalidOperationException("no http endpoint"), https);
    }

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

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _ownedDataDir?.Dispose();
    }
}
