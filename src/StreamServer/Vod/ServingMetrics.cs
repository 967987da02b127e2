using System.Diagnostics;
using System.Diagnostics.Metrics;
using StreamServer.Metrics;

namespace StreamServer.Vod;

/// <summary>Label sets cached as objects so recording a response never allocates.</summary>
internal static class ServingMetrics
{
    public const string Http11 = "http1.1";
    public const string Http10 = "http1.0";
    public const string H2 = "h2";
    public const string H2c = "h2c";

    private static readonly KeyValuePair<string, object?>[] KindTags =
    [
        new("kind", "segment"), new("kind", "init"), new("kind", "playlist"), new("kind", "mpd"), new("kind", "image"), new("kind", "other"),
    ];

    private static readonly KeyValuePair<string, object?> ApiKind = new("kind", "api");
    private static readonly KeyValuePair<string, object?>[] CodeTags = BuildCodes();
    private static readonly KeyValuePair<string, object?> Sendfile = new("path", "sendfile");
    private static readonly KeyValuePair<string, object?> Copy = new("path", "copy");

    private static long s_requests;
    private static long s_lastAllocated = GC.GetTotalAllocatedBytes(false);
    private static long s_lastRequests;
    private static double s_lastPerRequest;
    private static readonly Lock Gate = new();

    /// <summary>
    /// Managed bytes allocated by the whole process per HTTP request since the previous scrape: the
    /// figure the "no per-request allocation" goal is checked against (other threads included).
    /// </summary>
    public static readonly ObservableGauge<double> AllocatedPerRequest = ServerMetrics.Meter.CreateObservableGauge(
        "streamserver_http_allocated_bytes_per_request", ObserveAllocatedPerRequest, unit: "By",
        description: "Managed bytes allocated by the process per HTTP request, over the interval since the previous scrape.");

    public static readonly ObservableGauge<long> FileLeases = ServerMetrics.Meter.CreateObservableGauge(
        "streamserver_vod_file_leases", static () => VodFile.ActiveLeases,
        description: "Open-file leases held by responses in flight.");

    public static long RequestCount => Interlocked.Read(ref s_requests);

    public static KeyValuePair<string, object?> Protocol(string protocol) => protocol switch
    {
        Http11 => P11,
        Http10 => P10,
        H2 => PH2,
        _ => PH2c,
    };

    private static readonly KeyValuePair<string, object?> P11 = new("protocol", Http11);
    private static readonly KeyValuePair<string, object?> P10 = new("protocol", Http10);
    private static readonly KeyValuePair<string, object?> PH2 = new("protocol", H2);
    private static readonly KeyValuePair<string, object?> PH2c = new("protocol", H2c);

    /// <summary>Exemplars of streamserver_http_request_duration_seconds: the latest request per protocol, kind and bucket.</summary>
    public static readonly RequestDurationExemplars Exemplars = new();

    public static void Response(in KeyValuePair<string, object?> protocol, VodKind kind, int status, long startTimestamp, in RequestRef request)
        => Response(protocol, (int)kind, status, startTimestamp, request);

    public static void ApiResponse(in KeyValuePair<string, object?> protocol, int status, long startTimestamp, in RequestRef request)
        => Response(protocol, ApiKindIndex, status, startTimestamp, request);

    private const int ApiKindIndex = 6;

    private static void Response(in KeyValuePair<string, object?> protocol, int kindIndex, int status, long startTimestamp, in RequestRef request)
    {
        Interlocked.Increment(ref s_requests);
        var code = (uint)status < (uint)CodeTags.Length ? CodeTags[status] : CodeTags[0];
        var kind = kindIndex == ApiKindIndex ? ApiKind : KindTags[kindIndex];
        ServerMetrics.HttpRequests.Add(1, protocol, kind, code);
        if (startTimestamp != 0)
        {
            var now = Stopwatch.GetTimestamp();
            var seconds = Stopwatch.GetElapsedTime(startTimestamp, now).TotalSeconds;
            ServerMetrics.HttpRequestDuration.Record(seconds, protocol, kind);
            Exemplars.Offer(protocol, kindIndex, seconds, now, request);
        }
    }

    /// <summary>Kind label values by index (VodKind order, then "api").</summary>
    internal static string KindName(int index) => (string)(index == ApiKindIndex ? ApiKind : KindTags[index]).Value!;

    internal const int KindCount = ApiKindIndex + 1;

    public static void BodyBytes(in KeyValuePair<string, object?> protocol, long bytes, bool sendfile)
    {
        if (bytes > 0)
        {
            ServerMetrics.HttpResponseBytes.Add(bytes, protocol, sendfile ? Sendfile : Copy);
        }
    }

    private static double ObserveAllocatedPerRequest()
    {
        lock (Gate)
        {
            var allocated = GC.GetTotalAllocatedBytes(false);
            var requests = RequestCount;
            if (requests > s_lastRequests)
            {
                s_lastPerRequest = (double)(allocated - s_lastAllocated) / (requests - s_lastRequests);
                s_lastAllocated = allocated;
                s_lastRequests = requests;
            }

            return s_lastPerRequest;
        }
    }

    private static KeyValuePair<string, object?>[] BuildCodes()
    {
        var codes = new KeyValuePair<string, object?>[600];
        for (var i = 0; i < codes.Length; i++)
        {
            codes[i] = new("code", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return codes;
    }
}
