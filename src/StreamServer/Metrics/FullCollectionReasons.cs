using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;

namespace StreamServer.Metrics;

/// <summary>
/// Why the runtime ran each full (gen2) collection, from its own GC events: streamserver_dotnet_gc_full_collections_total
/// {reason}. The runtime's collection counter says how many; the reason says whether it was garbage promoted by serving
/// ("small_alloc"), large or pinned memory growing ("large_alloc": pools growing for a burst), one we asked for
/// ("induced": the transport pool's trim), or memory pressure.
/// </summary>
public sealed class FullCollectionReasons : EventListener
{
    private const int GcStartEventId = 1;

    // GC reasons in the order the runtime numbers them (gc_reason in gcinterface.h).
    private static readonly KeyValuePair<string, object?>[] Reasons =
    [
        new("reason", "small_alloc"), new("reason", "induced"), new("reason", "low_memory"), new("reason", "empty"),
        new("reason", "large_alloc"), new("reason", "small_out_of_space"), new("reason", "large_out_of_space"),
        new("reason", "induced_not_forced"), new("reason", "internal_tuning"), new("reason", "induced_low_memory"),
        new("reason", "induced_compacting"), new("reason", "low_memory_host"), new("reason", "pm_full"),
        new("reason", "low_memory_host_blocking"), new("reason", "other"),
    ];

    private static readonly Lazy<FullCollectionReasons> Instance = new(static () => new FullCollectionReasons());

    private readonly Counter<long> _full = ServerMetrics.Meter.CreateCounter<long>("streamserver_dotnet_gc_full_collections_total",
        description: "Full (gen2) collections by the runtime's reason: small_alloc (promoted garbage), large_alloc (large or pinned memory grew), induced (asked for), low_memory, ...");

    private FullCollectionReasons()
    {
    }

    /// <summary>Starts listening, once per process (several servers in one process share it).</summary>
    public static void EnsureStarted() => _ = Instance.Value;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Informational, (EventKeywords)0x1); // GC keyword: starts and ends of collections
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        // GCStart_V2: Count, Depth, Reason, Type, ...
        if (eventData.EventId != GcStartEventId || eventData.Payload is not { Count: >= 3 } payload || Convert.ToUInt32(payload[1]) < 2)
        {
            return;
        }

        var reason = Convert.ToUInt32(payload[2]);
        _full.Add(1, Reasons[Math.Min(reason, (uint)Reasons.Length - 1)]);
    }
}
