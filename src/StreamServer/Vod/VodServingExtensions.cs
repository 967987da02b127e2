using System.Runtime.CompilerServices;
using StreamServer.Health;
using StreamServer.Http1;

namespace StreamServer.Vod;

/// <summary>Wiring of the library file serving into the host (one call each from ServerApp).</summary>
internal static class VodServingExtensions
{
    public static IServiceCollection AddVodServing(this IServiceCollection services)
    {
        services.AddSingleton<VodFileCache>();
        RuntimeHelpers.RunClassConstructor(typeof(ServingMetrics).TypeHandle); // registers the observable gauges
        return services;
    }

    /// <summary>Must run first in the pipeline: it also counts every other response.</summary>
    public static IApplicationBuilder UseVodServing(this IApplicationBuilder app)
    {
        var health = app.ApplicationServices.GetRequiredService<HealthRegistry>();
        health.Register("h2c", static () => H2cPriorKnowledge.Supported
            ? new SubsystemHealth(HealthState.Ok)
            : new SubsystemHealth(HealthState.Degraded, "this Kestrel has no per-connection HttpProtocolsFeature: cleartext port speaks HTTP/1.1 only"));
        return app.UseMiddleware<VodStaticMiddleware>();
    }
}
