namespace StreamServer.Metrics;

/// <summary>
/// A source that already holds aggregated values (an eBPF map, a pool's counters) and writes them
/// straight into the exposition at scrape time.
/// </summary>
public interface IPrometheusCollector
{
    void Collect(PrometheusTextWriter writer);
}
