using System.Runtime.CompilerServices;

namespace StreamServer.Vod;

/// <summary>Wiring of the library file serving into the host (one call each from ServerApp).</summary>
internal static class VodServingExtensions
{
    public static IServiceCollection AddVodServing(this IServiceCollection services)
    {
        services.AddSingleton<VodFileCache>();

        // ASP.NET Core's hosting layer starts an Activity and a logging scope for every request as soon as
        // its diagnostics category is enabled at any level (it checks Critical), even when nothing is ever
        // written: ~600 B per request (Activity, ExecutionContext, AsyncLocal maps, scope). Its only
        // output is the per-request "Request starting/finished" lines, which are off at Warning anyway.
        services.AddLogging(logging => logging.AddFilter(HostingDiagnosticsCategory, LogLevel.None));
        RuntimeHelpers.RunClassConstructor(typeof(ServingMetrics).TypeHandle); // registers the observable gauges
        return services;
    }

    internal const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>Must run first in the pipeline: it also counts every other response.</summary>
    public static IApplicationBuilder UseVodServing(this IApplicationBuilder app)
    {
        return app.UseMiddleware<VodStaticMiddleware>();
    }
}
