using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Text;

namespace StreamServer.Tests.Http;

/// <summary>
/// In-process allocation profile: the runtime's GCAllocationTick events (one per ~100 KB allocated,
/// carrying the type that crossed the threshold) counted by type name, per labelled phase. Enough to
/// tell which types a per-request allocation consists of when a budget test fails, without dotnet-trace.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly List<(string Phase, long Requests, ConcurrentDictionary<string, long> BytesByType)> _phases = [];
    private volatile ConcurrentDictionary<string, long>? _current;

    public void Start(string phase, long requests)
    {
        var bytesByType = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        lock (_phases)
        {
            _phases.Add((phase, requests, bytesByType));
        }

        _current = bytesByType;
    }

    public void Stop() => _current = null;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        var current = _current;
        if (current is null || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null)
        {
            return;
        }

        var type = "?";
        long amount = 0;
        for (var i = 0; i < e.PayloadNames.Count; i++)
        {
            switch (e.PayloadNames[i])
            {
                case "TypeName":
                    type = e.Payload![i] as string ?? "?";
                    break;
                case "AllocationAmount64":
                    amount = Convert.ToInt64(e.Payload![i], CultureInfo.InvariantCulture);
                    break;
                case "AllocationAmount" when amount == 0:
                    amount = Convert.ToInt64(e.Payload![i], CultureInfo.InvariantCulture);
                    break;
            }
        }

        current.AddOrUpdate(type, amount, (_, old) => old + amount);
    }

    /// <summary>Per phase, the sampled types by bytes, largest first, as "type ~bytes per request" lines.</summary>
    public string Report(int top = 12)
    {
        var text = new StringBuilder();
        lock (_phases)
        {
            foreach (var (phase, requests, bytesByType) in _phases)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n {phase}:");
                var rows = bytesByType.ToArray();
                Array.Sort(rows, static (a, b) => b.Value.CompareTo(a.Value));
                for (var i = 0; i < Math.Min(top, rows.Length); i++)
                {
                    text.Append(CultureInfo.InvariantCulture, $"\n  {rows[i].Key}: ~{(double)rows[i].Value / Math.Max(1, requests):F1} B/req");
                }
            }
        }

        return text.ToString();
    }
}
