using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using StreamServer.Hosting;

namespace StreamServer.Admin;

/// <summary>
/// /api: POST /api/vod (JSON {source, id} or multipart upload), GET /api/vod, GET /api/vod/{id},
/// DELETE /api/vod/{id} (cancel a job). Every /api request needs the bearer token.
/// </summary>
public static class AdminApi
{
    public static IServiceCollection AddAdminApi(this IServiceCollection services)
    {
        services.AddSingleton<VodLibrary>();
        services.AddSingleton<AdminToken>();
        services.AddSingleton<UrlSourceDownloader>();
        services.AddSingleton<SourcePolicy>();
        services.AddSingleton<JobJournal>();
        services.AddSingleton<PackagingJobQueue>();
        services.AddHostedService(static sp => sp.GetRequiredService<PackagingJobQueue>());
        return services;
    }

    public static void MapAdminApi(this WebApplication app)
    {
        var token = app.Services.GetRequiredService<AdminToken>();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("StreamServer.Admin.AdminApi");
        app.UseWhen(static ctx => ctx.Request.Path.StartsWithSegments("/api"), branch => branch.Use(async (ctx, next) =>
        {
            if (!token.Accepts(ctx.Request.Headers.Authorization))
            {
                ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                ctx.Response.Headers.WWWAuthenticate = "Bearer";
                await WriteErrorAsync(ctx, "missing or wrong bearer token");
                return;
            }

            try
            {
                await next(ctx);
            }
            catch (BadHttpRequestException ex) when (!ctx.Response.HasStarted)
            {
                // A malformed request body (bad chunk size, truncated body, over a limit) is the client's error: its
                // status and one line, not a 500 with a stack trace per request (log flooding).
                log.LogInformation("{Method} {Path}: bad request body: {Reason}", ctx.Request.Method, ctx.Request.Path, ex.Message);
                ctx.Response.Clear();
                ctx.Response.StatusCode = ex.StatusCode;
                ctx.Response.Headers.Connection = "close";
                await WriteErrorAsync(ctx, $"bad request body: {ex.Message}");
            }
        }));

        app.MapPost("/api/vod", CreateAsync);
        app.MapGet("/api/vod", (PackagingJobQueue queue, VodLibrary library) => Results.Json(List(queue, library), AdminJsonContext.Default.ListVodJobJson));
        app.MapGet("/api/vod/{id}", (string id, PackagingJobQueue queue, VodLibrary library) =>
        {
            if (queue.Find(id) is { } job)
            {
                return Results.Json(VodJobJson.From(job), AdminJsonContext.Default.VodJobJson);
            }

            return VodLibrary.IsValidId(id) && library.IsPublished(id)
                ? Results.Json(VodJobJson.Published(id), AdminJsonContext.Default.VodJobJson)
                : Error(404, $"no VOD or job '{id}'");
        });
        // A queued or running job is cancelled (202); a published VOD is deleted (204); a failed or cancelled job
        // only reports itself (202, nothing left to cancel).
        app.MapDelete("/api/vod/{id}", (string id, PackagingJobQueue queue, VodLibrary library) =>
        {
            if (queue.Find(id) is { IsFinished: false } running)
            {
                queue.Cancel(running);
                return Results.Json(VodJobJson.From(running), AdminJsonContext.Default.VodJobJson, statusCode: 202);
            }

            if (library.Delete(id))
            {
                queue.Forget(id);
                return Results.NoContent();
            }

            return queue.Find(id) is { } finished
                ? Results.Json(VodJobJson.From(finished), AdminJsonContext.Default.VodJobJson, statusCode: 202)
                : Error(404, $"no VOD or job '{id}'");
        });
    }

    private static List<VodJobJson> List(PackagingJobQueue queue, VodLibrary library)
    {
        var result = new List<VodJobJson>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var job in queue.Snapshot())
        {
            result.Add(VodJobJson.From(job));
            seen.Add(job.Id);
        }

        foreach (var id in library.PublishedIds())
        {
            if (seen.Add(id))
            {
                result.Add(VodJobJson.Published(id));
            }
        }

        return result;
    }

    private static async Task<IResult> CreateAsync(HttpContext ctx, PackagingJobQueue queue, SourcePolicy policy, VodLibrary library, StreamServerOptions options)
    {
        string? source;
        string? id;
        string? sourceName = null;
        var uploaded = false;
        if (MediaTypeHeaderValue.TryParse(ctx.Request.ContentType, out var contentType) && contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var upload = await ReceiveUploadAsync(ctx, contentType, library, options);
            if (upload.Error is not null)
            {
                return Error(upload.Status, upload.Error);
            }

            (source, id, sourceName, uploaded) = (upload.Path!, upload.Id, upload.FileName, true);
        }
        else
        {
            CreateVodRequest? body;
            try
            {
                body = await JsonSerializer.DeserializeAsync(ctx.Request.Body, AdminJsonContext.Default.CreateVodRequest, ctx.RequestAborted);
            }
            catch (JsonException ex)
            {
                return Error(400, $"invalid JSON: {ex.Message}");
            }
            catch (IOException ex) when (!ctx.RequestAborted.IsCancellationRequested)
            {
                // Kestrel reports some malformed framing (a chunk size past 32 bits) as a plain IOException.
                throw new BadHttpRequestException(ex.Message, StatusCodes.Status400BadRequest, ex);
            }

            if (body?.Source is not { Length: > 0 } requested)
            {
                return Error(400, "\"source\" (absolute path or http(s) URL) is required");
            }

            source = policy.Check(requested, out var status, out var reason);
            if (source is null)
            {
                return Error(status, reason);
            }

            id = body.Id;
        }

        id ??= VodLibrary.IdFromFileName(source);
        var job = new VodJob(id, source, deleteSourceWhenDone: uploaded, sourceName);
        switch (queue.TryEnqueue(job))
        {
            case EnqueueResult.Accepted:
                ctx.Response.Headers.Location = $"/api/vod/{id}";
                return Results.Json(VodJobJson.From(job), AdminJsonContext.Default.VodJobJson, statusCode: 202);
            case EnqueueResult.InvalidId:
                DeleteUpload(uploaded, source);
                return Error(400, "id must be 1-64 characters of A-Z a-z 0-9 _ - (not starting with -)");
            default:
                DeleteUpload(uploaded, source);
                return Error(409, $"VOD '{id}' already exists or is being packaged");
        }
    }

    private readonly record struct Upload(string? Path, string? Id, int Status, string? Error, string? FileName = null);

    /// <summary>Streams the "file" part to uploads/&lt;random&gt;.part (never buffered in memory), renames it when complete.</summary>
    private static async Task<Upload> ReceiveUploadAsync(HttpContext ctx, MediaTypeHeaderValue contentType, VodLibrary library, StreamServerOptions options)
    {
        if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = options.MaxUploadBytes;
        }

        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary))
        {
            return new(null, null, 400, "multipart body without boundary");
        }

        var reader = new MultipartReader(boundary, ctx.Request.Body) { BodyLengthLimit = options.MaxUploadBytes };
        string? id = null;
        string? path = null;
        string? part = null;
        string? uploadedName = null;
        try
        {
            while (await reader.ReadNextSectionAsync(ctx.RequestAborted) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                {
                    continue;
                }

                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value;
                if (disposition.IsFileDisposition() && path is null)
                {
                    var fileName = HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? "upload";
                    var stem = Path.Combine(library.UploadsDir, Guid.NewGuid().ToString("N"));
                    part = stem + ".part";
                    await using (var file = new FileStream(part, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                    {
                        await section.Body.CopyToAsync(file, ctx.RequestAborted);
                        if (file.Length > options.MaxUploadBytes)
                        {
                            throw new BadHttpRequestException("upload too large", 413);
                        }
                    }

                    path = stem + Path.GetExtension(fileName).ToLowerInvariant();
                    File.Move(part, path);
                    part = null;
                    id ??= VodLibrary.IdFromFileName(fileName);
                    uploadedName = Path.GetFileName(fileName);
                }
                else if (name == "id")
                {
                    using var sr = new StreamReader(section.Body);
                    id = (await sr.ReadToEndAsync(ctx.RequestAborted)).Trim();
                }
            }
        }
        catch (BadHttpRequestException ex)
        {
            DeleteQuietly(part);
            DeleteQuietly(path);
            return new(null, null, ex.StatusCode, ex.StatusCode == 413 ? $"upload larger than {options.MaxUploadBytes} bytes (StreamServer:MaxUploadBytes)" : ex.Message);
        }
        catch (InvalidDataException)
        {
            // MultipartReader's own section limit.
            DeleteQuietly(part);
            DeleteQuietly(path);
            return new(null, null, 413, $"upload larger than {options.MaxUploadBytes} bytes (StreamServer:MaxUploadBytes)");
        }
        catch (OperationCanceledException)
        {
            DeleteQuietly(part);
            DeleteQuietly(path);
            throw;
        }
        catch (IOException ex)
        {
            DeleteQuietly(part);
            DeleteQuietly(path);
            return new(null, null, 400, $"upload interrupted: {ex.Message}");
        }

        return path is null ? new(null, null, 400, "multipart upload without a file part") : new(path, id, 200, null, uploadedName);
    }

    private static void DeleteQuietly(string? path)
    {
        if (path is not null)
        {
            File.Delete(path);
        }
    }

    private static void DeleteUpload(bool uploaded, string path)
    {
        if (uploaded)
        {
            File.Delete(path);
        }
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new ErrorJson(message), AdminJsonContext.Default.ErrorJson, statusCode: status);

    private static Task WriteErrorAsync(HttpContext ctx, string message) =>
        ctx.Response.WriteAsJsonAsync(new ErrorJson(message), AdminJsonContext.Default.ErrorJson);
}
