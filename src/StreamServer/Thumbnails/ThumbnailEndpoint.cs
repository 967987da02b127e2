using StreamServer.Admin;
using StreamServer.Health;
using StreamServer.Transcode;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Thumbnails;

/// <summary>
/// GET/HEAD /vod/{id}/thumb.jpg?t=&lt;seconds&gt;&amp;w=&lt;px&gt;&amp;q=&lt;1-100&gt;: an on-demand JPEG of the frame at t,
/// width w with the aspect kept, strong ETag (If-None-Match -> 304). Bad parameters get 400, unknown ids 404,
/// each with a one-line text reason; an undecodable VOD gets 422. Static poster.jpg / thumbnails.vtt / sprites
/// are files served by the VOD file core; only this dynamic name reaches ASP.NET.
/// </summary>
public static class ThumbnailEndpoint
{
    public const string Pattern = "/vod/{id}/thumb.jpg";

    public static IServiceCollection AddThumbnails(this IServiceCollection services, ThumbnailOptions options)
    {
        // On-demand frames come from the process's buffer pool, like packaging's (BufferPoolSetup).
        services.AddSingleton(sp => new ThumbnailService(options.ToServiceOptions() with
        {
            FrameMemory = sp.GetRequiredService<IFrameMemory>(),
        }));
        services.AddSingleton(options);
        services.AddSingleton<VodVideoLocator>();
        return services;
    }

    public static IEndpointRouteBuilder MapThumbnails(this IEndpointRouteBuilder app)
    {
        app.MapMethods(Pattern, ["GET", "HEAD"], HandleAsync);
        var thumbnails = app.ServiceProvider.GetRequiredService<ThumbnailService>();
        // A deleted VOD's cached thumbnails and opened renditions go with it (the cache is keyed by id and version,
        // so nothing stale could be served, but the memory and the open files of deleted segments would stay).
        var library = app.ServiceProvider.GetRequiredService<VodLibrary>();
        library.Deleted += id => thumbnails.Invalidate(id, library.PathOf(id));
        var encoder = ProbeEncoder();
        app.ServiceProvider.GetRequiredService<HealthRegistry>().Register("thumbnails", () => encoder.State != HealthState.Ok
            ? encoder
            : new SubsystemHealth(HealthState.Ok, Details: new
            {
                cachedThumbnails = thumbnails.Cache.Count,
                cacheBytes = thumbnails.Cache.Bytes,
                cacheHits = thumbnails.Cache.Hits,
                cacheMisses = thumbnails.Cache.Misses,
            }));
        return app;
    }

    /// <summary>The JPEG encoder (libssav's libjpeg path) loads: checked once at start (streaming works without it, so "degraded").</summary>
    private static SubsystemHealth ProbeEncoder()
    {
        try
        {
            using var encoder = new JpegEncoder();
            return new SubsystemHealth(HealthState.Ok);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or JpegException)
        {
            return new SubsystemHealth(HealthState.Degraded, $"JPEG encoder unusable: {OneLine(e.Message)}");
        }
    }

    private static async Task HandleAsync(HttpContext ctx, string id, ThumbnailService thumbnails, VodVideoLocator locator,
        ThumbnailOptions settings, ILoggerFactory loggers)
    {
        if (!ThumbnailQuery.TryParse(ctx.Request.Query, settings.DefaultWidth, settings.DefaultQuality, out var query, out var error))
        {
            await ReplyAsync(ctx, StatusCodes.Status400BadRequest, error);
            return;
        }

        if (locator.Find(id, out var reason) is not { } video)
        {
            await ReplyAsync(ctx, StatusCodes.Status404NotFound, reason);
            return;
        }

        CachedThumbnail thumb;
        try
        {
            // No upscaling: a request wider than the top rendition gets (and is cached as) the rendition's width,
            // so w=3840 and w=<rendition width> share one cache entry. The renderer clamps again for non-square pixels.
            var width = video.Width > 0 ? Math.Min(query.Width, Math.Max(16, video.Width & ~1)) : query.Width;
            thumb = await thumbnails.GetAsync(id, video.Version, video.Path, query.Seconds, width, query.Quality, ctx.RequestAborted);
        }
        catch (ThumbnailRequestException e)
        {
            await ReplyAsync(ctx, StatusCodes.Status400BadRequest, e.Message);
            return;
        }
        catch (TranscodeException e) when (e.IsOutOfMemory)
        {
            // Frame memory comes from the server's bounded pool; it stayed full past the rent timeout (packaging
            // jobs hold it). A busy server, not a bad VOD: retry later.
            ctx.Response.Headers.RetryAfter = "2";
            await ReplyAsync(ctx, StatusCodes.Status503ServiceUnavailable, $"no frame memory free for a thumbnail now (buffer pool busy): {OneLine(e.Message)}");
            return;
        }
        catch (Exception e) when (e is TranscodeException or JpegException)
        {
            loggers.CreateLogger(typeof(ThumbnailEndpoint)).LogWarning("thumbnail {Id} t={T}: {Message}", id, query.Seconds, e.Message);
            await ReplyAsync(ctx, StatusCodes.Status422UnprocessableEntity, $"cannot make a thumbnail of this VOD: {OneLine(e.Message)}");
            return;
        }

        var headers = ctx.Response.Headers;
        headers.ETag = thumb.ETag;
        headers.CacheControl = "public, max-age=86400";
        if (IfNoneMatch(ctx, thumb.ETag))
        {
            ctx.Response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        ctx.Response.StatusCode = StatusCodes.Status200OK;
        ctx.Response.ContentType = "image/jpeg";
        ctx.Response.ContentLength = thumb.Jpeg.Length;
        if (!HttpMethods.IsHead(ctx.Request.Method))
        {
            await ctx.Response.Body.WriteAsync(thumb.Jpeg, ctx.RequestAborted);
        }
    }

    private static bool IfNoneMatch(HttpContext ctx, string etag)
    {
        foreach (var value in ctx.Request.Headers.IfNoneMatch)
        {
            if (value is null)
            {
                continue;
            }

            foreach (var part in value.Split(','))
            {
                var tag = part.Trim();
                if (tag == "*" || tag == etag || (tag.StartsWith("W/", StringComparison.Ordinal) && tag[2..] == etag))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static Task ReplyAsync(HttpContext ctx, int status, string reason)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        ctx.Response.Headers.CacheControl = "no-store";
        return HttpMethods.IsHead(ctx.Request.Method) ? Task.CompletedTask : ctx.Response.WriteAsync(OneLine(reason) + "\n");
    }

    private static string OneLine(string s)
    {
        var nl = s.IndexOfAny(['\r', '\n']);
        return nl < 0 ? s : s[..nl];
    }
}
