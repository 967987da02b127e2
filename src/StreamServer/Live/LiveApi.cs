using System.Text.Json.Serialization;

namespace StreamServer.Live;

/// <summary>GET /api/live and GET /api/live/{name} (bearer token like every /api call).</summary>
public static class LiveApi
{
    public static void MapLiveApi(this WebApplication app)
    {
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
        app.MapGet("/api/live/{name}", (string name, LiveChannelRegistry registry) =>
            registry.Find(name) is { } c
                ? Results.Json(LiveChannelJson.From(c), LiveJsonContext.Default.LiveChannelJson)
                : Results.Json(new LiveErrorJson($"no live channel '{name}'"), LiveJsonContext.Default.LiveErrorJson, statusCode: 404));
    }
}

public sealed record LiveChannelJson(string Name, string Mode, string State, double IngestBitrate, double Fps, long VideoFrames, long AudioFrames,
    long KeyFrames, long IngestBytes, bool HasVideoConfig, bool HasAudioConfig, string? LastError)
{
    public static LiveChannelJson From(LiveChannel c) => new(c.Name, c.Mode, c.State == LiveChannelState.Live ? "live" : "idle",
        Math.Round(c.IngestBitrate), Math.Round(c.FramesPerSecond, 1), c.VideoFrames, c.AudioFrames, c.KeyFrames, c.IngestBytes,
        c.VideoConfig is not null, c.AudioConfig is not null, c.LastError);
}

public sealed record LiveErrorJson(string Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(List<LiveChannelJson>))]
[JsonSerializable(typeof(LiveChannelJson))]
[JsonSerializable(typeof(LiveErrorJson))]
internal sealed partial class LiveJsonContext : JsonSerializerContext;
