using System.Text.Json.Serialization;

namespace StreamServer.Admin;

public sealed record VodUrls(string Master, string Manifest, string Poster, string Thumbnails);

public sealed record VodJobJson(
    string Id,
    string State,
    double Progress,
    double Fps,
    double Speed,
    string? Error,
    DateTimeOffset? CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    VodUrls? Urls)
{
    public static VodJobJson From(VodJob job) => new(
        job.Id,
        StateName(job.State),
        job.Progress,
        job.Fps,
        job.Speed,
        job.Error,
        job.CreatedAt,
        job.StartedAt,
        job.FinishedAt,
        job.State == VodJobState.Succeeded ? UrlsOf(job.Id) : null);

    /// <summary>A VOD found on disk (published before this process started).</summary>
    public static VodJobJson Published(string id) => new(id, "ready", 100, 0, 0, null, null, null, null, UrlsOf(id));

    public static VodUrls UrlsOf(string id) =>
        new($"/vod/{id}/master.m3u8", $"/vod/{id}/manifest.mpd", $"/vod/{id}/poster.jpg", $"/vod/{id}/thumbnails.vtt");

    // "ready" is what players care about: the VOD is published and playable.
    private static string StateName(VodJobState state) => state switch
    {
        VodJobState.Queued => "queued",
        VodJobState.Running => "running",
        VodJobState.Succeeded => "ready",
        VodJobState.Failed => "failed",
        _ => "cancelled",
    };
}

public sealed record CreateVodRequest(string? Source, string? Id);

public sealed record ErrorJson(string Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(VodJobJson))]
[JsonSerializable(typeof(List<VodJobJson>))]
[JsonSerializable(typeof(CreateVodRequest))]
[JsonSerializable(typeof(ErrorJson))]
[JsonSerializable(typeof(JobJournalEntry))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;
