using System.Text.Json.Serialization;

namespace StreamServer.Live;

/// <summary>POST /api/live, GET /api/live, GET and DELETE /api/live/{name} (bearer token like every /api call).</summary>
public static class LiveApi
{
    public static void MapLiveApi(this WebApplication app)
    {
        static IResult Error(int status, string message) => Results.Json(new LiveErrorJson(message), LiveJsonContext.Default.LiveErrorJson, statusCode: status);

        app.MapGet("/api/live", (LiveChannelRegistry registry) =>
        {
            var list = new List<LiveChannelJson>();
            foreach (var c in registry.All)
            {
                list.Add(LiveChannelJson.From(c));
            }

            list.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            return Results.Json(list, LiveJsonContext.Default.ListLiveChannelJson);
        });
        // POST {"name": "cam1", "mode": "passthrough"}: 201 with the key and the URLs a publisher and players use.
        app.MapPost("/api/live", async (HttpContext ctx, LiveChannelRegistry registry, Ingest.Rtmp.RtmpEndpoint rtmp) =>
        {
            CreateLiveRequest? body;
            try
            {
                body = await System.Text.Json.JsonSerializer.DeserializeAsync(ctx.Request.Body, LiveJsonContext.Default.CreateLiveRequest, ctx.RequestAborted);
            }
            catch (System.Text.Json.JsonException ex)
            {
                return Error(400, $"invalid JSON: {ex.Message}");
            }

            var name = body?.Name ?? "";
            var mode = body?.Mode ?? "passthrough";
            if (!Admin.VodLibrary.IsValidId(name))
            {
                return Error(400, "name must be 1-64 characters of A-Z a-z 0-9 _ - (not starting with -)");
            }

            if (LiveChannelConfig.ModeError(mode) is { } modeError)
            {
                return Error(400, modeError);
            }

            if (body?.Parts is { } parts && LiveChannelConfig.PartsError(parts) is { } partsError)
            {
                return Error(400, partsError);
            }

            if (registry.Create(name, mode, body?.Parts) is not { } channel)
            {
                return Error(409, $"live channel '{name}' already exists");
            }

            var host = ctx.Request.Host.Host;
            var created = new CreatedLiveJson(channel.Name, channel.Key, channel.Mode,
                rtmp.Enabled ? $"rtmp://{host}:{rtmp.Port}/live/{channel.Name}?key={channel.Key}" : null,
                $"/live/{channel.Name}/master.m3u8", $"/live/{channel.Name}/manifest.mpd");
            return Results.Json(created, LiveJsonContext.Default.CreatedLiveJson, statusCode: 201);
        });
        app.MapDelete("/api/live/{name}", (string name, LiveChannelRegistry registry) =>
            registry.Remove(name) ? Results.NoContent() : Error(404, $"no live channel '{name}'"));
        app.MapGet("/api/live/{name}", (string name, LiveChannelRegistry registry) =>
            registry.Find(name) is { } c
                ? Results.Json(LiveChannelJson.From(c), LiveJsonContext.Default.LiveChannelJson)
                : Error(404, $"no live channel '{name}'"));
    }
}

public sealed record LiveChannelJson(string Name, string Mode, string State, double IngestBitrate, double Fps, long VideoFrames, long AudioFrames,
    long KeyFrames, long IngestBytes, bool HasVideoConfig, bool HasAudioConfig, int Viewers, string? LastError)
{
    public static LiveChannelJson From(LiveChannel c) => new(c.Name, c.Mode, c.State == LiveChannelState.Live ? "live" : "idle",
        Math.Round(c.IngestBitrate), Math.Round(c.FramesPerSecond, 1), c.VideoFrames, c.AudioFrames, c.KeyFrames, c.IngestBytes,
        c.VideoConfig is not null, c.AudioConfig is not null, c.Viewers.Count(), c.LastError);
}

public sealed record LiveErrorJson(string Error);

public sealed record CreateLiveRequest(string? Name, string? Mode, string? Parts = null);

public sealed record CreatedLiveJson(string Name, string Key, string Mode, string? RtmpUrl, string Hls, string Dash);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(List<LiveChannelJson>))]
[JsonSerializable(typeof(LiveChannelJson))]
[JsonSerializable(typeof(LiveErrorJson))]
[JsonSerializable(typeof(CreateLiveRequest))]
[JsonSerializable(typeof(CreatedLiveJson))]
internal sealed partial class LiveJsonContext : JsonSerializerContext;
