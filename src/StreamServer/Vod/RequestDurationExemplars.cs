using System.Globalization;
using StreamServer.Metrics;

namespace StreamServer.Vod;

/// <summary>
/// Who a request was, for an exemplar: Kestrel's TraceIdentifier, or the zero-copy path's connection id and request
/// number. Read only when an exemplar is due (at most once a second per bucket), so the id string is made only then.
/// </summary>
internal readonly struct RequestRef
{
    private readonly string? _connectionId;
    private readonly long _number;
    private readonly HttpContext? _context;

    private RequestRef(string? connectionId, long number, HttpContext? context)
    {
        _connectionId = connectionId;
        _number = number;
        _context = context;
    }

    public static RequestRef Of(HttpContext context) => new(null, 0, context);

    /// <summary>The zero-copy path's id: "{connection}.{number:X8}", as its access-log lines have it.</summary>
    public static RequestRef Of(string connectionId, long number) => new(connectionId, number, null);

    public string Format() => _context?.TraceIdentifier ?? $"{_connectionId}.{_number.ToString("X8", CultureInfo.InvariantCulture)}";
}

/// <summary>The latest request in each bucket of streamserver_http_request_duration_seconds, by protocol and kind.</summary>
internal sealed class RequestDurationExemplars : IExemplarSource
{
    private static readonly string[] Protocols = [ServingMetrics.Http11, ServingMetrics.Http10, ServingMetrics.H2, ServingMetrics.H2c];
    private readonly ExemplarSlot[] _slots;
    private readonly int _buckets = ServerMetrics.HttpRequestDurationBuckets.Length + 1;

    public RequestDurationExemplars()
    {
        _slots = new ExemplarSlot[Protocols.Length * ServingMetrics.KindCount * _buckets];
        for (var i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new ExemplarSlot();
        }
    }

    public string FamilyName => "streamserver_http_request_duration_seconds";

    public void Offer(in KeyValuePair<string, object?> protocol, int kind, double seconds, long nowTicks, in RequestRef request)
    {
        var p = Array.IndexOf(Protocols, (string?)protocol.Value);
        if (p < 0)
        {
            return;
        }

        var bounds = ServerMetrics.HttpRequestDurationBuckets;
        var bucket = 0;
        while (bucket < bounds.Length && seconds > bounds[bucket])
        {
            bucket++;
        }

        var slot = _slots[(((p * ServingMetrics.KindCount) + kind) * _buckets) + bucket];
        if (slot.Due(nowTicks))
        {
            slot.Set(nowTicks, request.Format(), seconds);
        }
    }

    public bool TryGet(ReadOnlySpan<KeyValuePair<string, string>> labels, int bucket, out Exemplar exemplar)
    {
        exemplar = default;
        int p = -1, k = -1;
        foreach (var (key, value) in labels)
        {
            if (key == "protocol")
            {
                p = Array.IndexOf(Protocols, value);
            }
            else if (key == "kind")
            {
                for (var i = 0; i < ServingMetrics.KindCount; i++)
                {
                    if (ServingMetrics.KindName(i) == value)
                    {
                        k = i;
                    }
                }
            }
        }

        return p >= 0 && k >= 0 && (uint)bucket < (uint)_buckets
            && _slots[(((p * ServingMetrics.KindCount) + k) * _buckets) + bucket].TryGet(out exemplar);
    }
}
