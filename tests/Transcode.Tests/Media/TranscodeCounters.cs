using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Tests.Media;

/// <summary>
/// Totals of the transcoder's counters (streamserver_transcode_*) for the lifetime of one test, per name and per
/// name + tag. The instruments are process wide, so tests using this belong to
/// <see cref="FrameCopyMetricsCollection"/> (nothing else runs while they measure).
/// </summary>
internal sealed class TranscodeCounters : IDisposable
{
    private readonly MeterListener listener = new();
    private readonly ConcurrentDictionary<string, long> totals = new(StringComparer.Ordinal);

    public TranscodeCounters()
    {
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == TranscodeMetrics.MeterName)
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) =>
        {
            totals.AddOrUpdate(i.Name, v, (_, t) => t + v);
            foreach (var tag in tags)
            {
                totals.AddOrUpdate($"{i.Name}{{{tag.Key}={tag.Value}}}", v, (_, t) => t + v);
            }
        });
        listener.Start();
    }

    /// <summary>streamserver_transcode_frame_copy_bytes_total.</summary>
    public long CopiedBytes => Total("streamserver_transcode_frame_copy_bytes_total");

    /// <summary>streamserver_transcode_frames_outside_pool_total.</summary>
    public long FramesOutsidePool => Total("streamserver_transcode_frames_outside_pool_total");

    /// <summary>streamserver_transcode_segment_bytes_total{pool="shared"|"private"}.</summary>
    public long SegmentBytes(string pool) => Total($"streamserver_transcode_segment_bytes_total{{pool={pool}}}");

    public long Total(string key) => totals.GetValueOrDefault(key);

    public void Dispose() => listener.Dispose();
}
