using System.Text.Json;
using Microsoft.Extensions.Options;
using StreamServer.Admin;
using StreamServer.Health;
using StreamServer.Logging;
using StreamServer.Metrics;
using StreamServer.Thumbnails;
using StreamServer.Tracing;
using StreamServer.Vod;

namespace StreamServer.Hosting;

/// <summary>Builds and runs the Kestrel host: listeners, services, endpoints.</summary>
public static class ServerApp
{
    public static async Task<int> RunAsync(string[] args)
    {
        await using var app = Build(args);
        await app.RunAsync();
        return 0;
    }

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true);
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(args);
        configure?.Invoke(builder);

        var options = builder.Configuration.GetSection(StreamServerOptions.Section).Get<StreamServerOptions>() ?? new();
        if (options.Logging.Format == "json")
        {
            // One JSON object per line; scopes carry ASP.NET's RequestId / RequestPath / ConnectionId for everything logged
            // inside a request. That scope is the hosting layer's, so this format pays for it (see below) on requests Kestrel
            // answers; the zero-copy HTTP/1.1 path has no such scope and no cost.
            builder.Logging.ClearProviders();
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else if (options.Logging.Format == "text")
        {
            // ASP.NET Core's hosting layer starts an Activity and a logging scope for every request as soon as its
            // diagnostics category is enabled at any level (it checks Critical), even when nothing is ever written:
            // ~600 B per request (Activity, ExecutionContext, AsyncLocal maps, scope). Its only output is the per-request
            // "Request starting/finished" lines, which are off at Warning anyway.
            builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        }
        else
        {
            throw new InvalidOperationException($"StreamServer:Logging:Format must be \"text\" or \"json\", not \"{options.Logging.Format}\"");
        }

        var layout = new DataLayout(options.DataDir, options.Live.WindowDirectory);
        Directory.CreateDirectory(layout.DataDir);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(Math.Max(0, options.ShutdownTimeoutSeconds)));
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(layout);

        // Each layer takes its own section, not the whole bag.
        builder.Services.AddSingleton(options.Transport);
        builder.Services.AddSingleton(options.Tls);
        builder.Services.AddSingleton(options.Http1);
        builder.Services.AddSingleton(options.Vod);
        builder.Services.AddSingleton(options.Live);
        builder.Services.AddSingleton(options.Logging);
        builder.Services.AddSingleton<Logging.AccessLog>();
        builder.Services.AddSingleton(new Ingest.Rtmp.RtmpEndpoint(options.ListenAddress, options.RtmpPort));
        builder.Services.AddSingleton<PrometheusExporter>();
        builder.Services.AddSingleton<HealthRegistry>();
        builder.Services.AddAdminApi();
        builder.Services.AddSingleton<Live.LiveChannelRegistry>();
        builder.Services.AddSingleton<Live.LivePackaging>();
        builder.Services.AddHostedService<Live.TestChannelService>();
        builder.Services.AddHostedService<Ingest.Rtmp.RtmpIngestServer>();
        builder.Services.AddSingleton(sp => BufferPoolSetup.ForPackaging(options.Packaging.ToPackagingOptions(),
            sp.GetRequiredService<BufferPool.MemfdBufferPool>(), sp.GetRequiredService<Transcode.Media.IFrameMemory>()));
        builder.Services.AddSingleton<IVodPackager, FfmpegVodPackager>();
        builder.Services.AddHostedService<SampleBootstrap>();
        builder.Services.AddVodServing();
        builder.Services.AddTracing(options);
        Charts.ChartEndpoints.AddCharts(builder.Services);
        BufferPoolSetup.AddBufferPool(builder.Services, options);
        builder.Services.AddThumbnails(options.Thumbnails);

        KestrelSetup.Configure(builder, options, layout);

        var app = builder.Build();
        app.Services.GetRequiredService<Transport.TransportMemoryAccounting>().Log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("StreamServer.Transport");
        app.UseAccessLog();
        app.UseVodServing();
        var exporter = app.Services.GetRequiredService<PrometheusExporter>();
        exporter.AddExemplars(ServingMetrics.Exemplars);
        FullCollectionReasons.EnsureStarted();
        var health = app.Services.GetRequiredService<HealthRegistry>();
        health.Register("http", static () => new SubsystemHealth(HealthState.Ok));
        health.Register("kestrel", app.Services.GetRequiredService<KestrelSetup.KestrelReport>().Probe);
        app.MapTracing();
        Charts.ChartEndpoints.MapCharts(app);
        BufferPoolSetup.UseBufferPool(app);

        var metricsToken = options.Metrics.RequireToken ? app.Services.GetRequiredService<AdminToken>() : null;
        app.MapGet("/metrics", (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "no-store";
            if (metricsToken is not null && !metricsToken.Accepts(ctx.Request.Headers.Authorization))
            {
                ctx.Response.Headers.WWWAuthenticate = "Bearer";
                return Results.Text("missing or wrong bearer token (StreamServer:Metrics:RequireToken)\n", "text/plain; charset=utf-8", statusCode: 401);
            }

            var openMetrics = PrometheusTextWriter.WantsOpenMetrics(ctx.Request.Headers.Accept);
            return Results.Text(exporter.Scrape(openMetrics), openMetrics ? PrometheusTextWriter.OpenMetricsContentType : PrometheusTextWriter.TextContentType);
        });
        // The clock dynamic MPDs point players at (UTCTiming, urn:mpeg:dash:utc:http-iso:2014).
        app.MapGet(Transcode.Packaging.DashManifestWriter.TimeEndpoint, (HttpContext ctx) =>
        {
            ctx.Response.Headers.CacheControl = "no-store";
            ctx.Response.Headers.AccessControlAllowOrigin = "*";
            return Results.Text(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture), "text/plain");
        });
        app.MapGet("/healthz", (HttpContext ctx) =>
        {
            var (overall, subsystems) = health.Check();
            ctx.Response.StatusCode = overall == HealthState.Failed ? 503 : 200;
            ctx.Response.Headers.CacheControl = "no-store";
            return ctx.Response.WriteAsync(HealthJson(overall, subsystems));
        });

        app.MapAdminApi();
        Live.LiveApi.MapLiveApi(app);
        app.UseDashboard();
        app.MapThumbnails();
        StartupBanner.Register(app);
        return app;
    }

    private static string HealthJson(HealthState overall, Dictionary<string, SubsystemHealth> subsystems)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("status", overall.ToString().ToLowerInvariant());
            json.WriteStartObject("subsystems");
            foreach (var (name, h) in subsystems)
            {
                json.WriteStartObject(name);
                json.WriteString("status", h.State.ToString().ToLowerInvariant());
                if (h.Reason is not null)
                {
                    json.WriteString("reason", h.Reason);
                }

                if (h.Details is not null)
                {
                    json.WritePropertyName("details");
                    JsonSerializer.Serialize(json, h.Details, h.Details.GetType(), JsonOptions);
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
}
