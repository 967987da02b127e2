using System.Diagnostics.Metrics;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Tests.Media;

/// <summary>
/// Reads streamserver_transcode_frame_copy_bytes_total and streamserver_transcode_frames_outside_pool_total
/// for the lifetime of one test. The instruments are process wide, so tests using this belong to
/// <see cref="FrameCopyMetricsCollection"/> (nothing else runs while they measure).
/// </summary>
internal sealed class FrameCopyCounters : IDisposable
{
    private readonly MeterListener listener = new();
    private long copiedBytes;
    private long framesOutsidePool;

    public FrameCopyCounters()
    {
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == TranscodeMetrics.MeterName &&
                i.Name is "streamserver_transcode_frame_copy_bytes_total" or "streamserver_transcode_frames_outside_pool_total")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, _, _) =>
        {
            if (i.Name == "streamserver_transcode_frame_copy_bytes_total")
            {
                Interlocked.Add(ref copiedBytes, v);
            }
            else
            {
                Interlocked.Add(ref framesOutsidePool, v);
            }
        });
        listener.Start();
    }

    public long CopiedBytes => Interlocked.Read(ref copiedBytes);

    public long FramesOutsidePool => Interlocked.Read(ref framesOutsidePool);

    public void Dispose() => listener.Dispose();
}
