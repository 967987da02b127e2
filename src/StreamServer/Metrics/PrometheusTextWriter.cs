using System.Globalization;
using System.Text;

namespace StreamServer.Metrics;

public enum PrometheusType
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>
/// Writes Prometheus text exposition format 0.0.4 (what <c>promtool check metrics</c> reads), or OpenMetrics 1.0.0 when a
/// scraper asks for it: counter families named without their _total suffix, exemplars on histogram buckets, # EOF.
/// </summary>
public sealed class PrometheusTextWriter(StringBuilder sb, bool openMetrics = false)
{
    public const string TextContentType = "text/plain; version=0.0.4; charset=utf-8";
    public const string OpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// <summary>Whether an Accept header asks for OpenMetrics (Prometheus sends it first when it can parse it).</summary>
    public static bool WantsOpenMetrics(string? accept) =>
        accept is not null && accept.Contains("application/openmetrics-text", StringComparison.OrdinalIgnoreCase);

    /// <summary>Ends the exposition (OpenMetrics requires the # EOF line).</summary>
    public void End()
    {
        if (openMetrics)
        {
            sb.Append("# EOF\n");
        }
    }

    public void Header(string family, string help, PrometheusType type)
    {
        if (openMetrics && type == PrometheusType.Counter)
        {
            // OpenMetrics names a counter family without _total; its samples keep the suffix.
            family = family.EndsWith("_total", StringComparison.Ordinal) ? family[..^"_total".Length] : family;
        }

        sb.Append("# HELP ").Append(family).Append(' ');
        foreach (var c in help)
        {
            _ = c switch
            {
                '\\' => sb.Append("\\\\"),
                '\n' => sb.Append("\\n"),
                _ => sb.Append(c),
            };
        }

        sb.Append('\n').Append("# TYPE ").Append(family).Append(' ').Append(type switch
        {
            PrometheusType.Counter => "counter",
            PrometheusType.Gauge => "gauge",
            _ => "histogram",
        }).Append('\n');
    }

    public void Sample(string name, ReadOnlySpan<KeyValuePair<string, string>> labels, double value)
    {
        sb.Append(name);
        Labels(labels, extraKey: null, extraValue: null);
        sb.Append(' ');
        Number(value);
        sb.Append('\n');
    }

    /// <summary>Writes _bucket (cumulative, with +Inf), _sum and _count from per-bucket counts; in OpenMetrics with the
    /// exemplars <paramref name="exemplars"/> has for them.</summary>
    public void Histogram(string family, ReadOnlySpan<KeyValuePair<string, string>> labels, ReadOnlySpan<double> upperBounds,
        ReadOnlySpan<long> bucketCounts, double sum, long count, IExemplarSource? exemplars = null)
    {
        long cumulative = 0;
        for (var i = 0; i < upperBounds.Length; i++)
        {
            cumulative += bucketCounts[i];
            sb.Append(family).Append("_bucket");
            Labels(labels, "le", upperBounds[i].ToString("R", CultureInfo.InvariantCulture));
            sb.Append(' ').Append(cumulative.ToString(CultureInfo.InvariantCulture));
            ExemplarOf(exemplars, labels, i);
            sb.Append('\n');
        }

        sb.Append(family).Append("_bucket");
        Labels(labels, "le", "+Inf");
        sb.Append(' ').Append(count.ToString(CultureInfo.InvariantCulture));
        ExemplarOf(exemplars, labels, upperBounds.Length);
        sb.Append('\n');
        sb.Append(family).Append("_sum");
        Labels(labels, null, null);
        sb.Append(' ');
        Number(sum);
        sb.Append('\n');
        sb.Append(family).Append("_count");
        Labels(labels, null, null);
        sb.Append(' ').Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private void ExemplarOf(IExemplarSource? source, ReadOnlySpan<KeyValuePair<string, string>> labels, int bucket)
    {
        if (openMetrics && source is not null && source.TryGet(labels, bucket, out var e))
        {
            sb.Append(" # {request_id=\"");
            Escape(e.RequestId);
            sb.Append("\"} ");
            Number(e.Value);
            sb.Append(' ').Append(e.UnixSeconds.ToString("F3", CultureInfo.InvariantCulture));
        }
    }

    private void Labels(ReadOnlySpan<KeyValuePair<string, string>> labels, string? extraKey, string? extraValue)
    {
        if (labels.Length == 0 && extraKey is null)
        {
            return;
        }

        sb.Append('{');
        var first = true;
        foreach (var (key, value) in labels)
        {
            if (!first)
            {
                sb.Append(',');
            }

            first = false;
            sb.Append(key).Append("=\"");
            Escape(value);
            sb.Append('"');
        }

        if (extraKey is not null)
        {
            if (!first)
            {
                sb.Append(',');
            }

            sb.Append(extraKey).Append("=\"").Append(extraValue).Append('"');
        }

        sb.Append('}');
    }

    private void Escape(string value)
    {
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => sb.Append("\\\\"),
                '"' => sb.Append("\\\""),
                '\n' => sb.Append("\\n"),
                _ => sb.Append(c),
            };
        }
    }

    private void Number(double value)
    {
        if (double.IsPositiveInfinity(value))
        {
            sb.Append("+Inf");
        }
        else if (double.IsNegativeInfinity(value))
        {
            sb.Append("-Inf");
        }
        else if (double.IsNaN(value))
        {
            sb.Append("NaN");
        }
        else
        {
            sb.Append(value.ToString("R", CultureInfo.InvariantCulture));
        }
    }
}
