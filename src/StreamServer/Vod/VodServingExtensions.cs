using System.Runtime.CompilerServices;

namespace StreamServer.Vod;

/// <summary>Wiring of the library file serving into the host (one call each from ServerApp).</summary>
internal static class VodServingExtensions
{
    public static IServiceCollection AddVodServing(this IServiceCollection services)
    {
        services.AddSingleton<Live.LivePlaylistTable>();
        services.AddSingleton<VodFileCache>();
        RuntimeHelpers.RunClassConstructor(typeof(ServingMetrics).TypeHandle); // registers the observable gauges
        return services;
    }

    /// <summary>Must run first in the pipeline: it also counts every other response.</summary>
    public static IApplicationBuilder UseVodServing(this IApplicationBuilder app)
    {
        return app.UseMiddleware<VodStaticMiddleware>();
    }
}
