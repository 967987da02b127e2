using System.Globalization;
using System.Text;

namespace StreamServer.Metrics;

public enum PrometheusType
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>Writes Prometheus text exposition format 0.0.4 (what <c>promtool check metrics</c> reads).</summary>
public sealed class PrometheusTextWriter(StringBuilder sb)
{
    public void Header(string family, string help, PrometheusType type)
    {
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

    /// <summary>Writes _bucket (cumulative, with +Inf), _sum and _count from per-bucket counts.</summary>
    public void Histogram(string family, ReadOnlySpan<KeyValuePair<string, string>> labels, ReadOnlySpan<double> upperBounds,
        ReadOnlySpan<long> bucketCounts, double sum, long count)
    {
        long cumulative = 0;
        for (var i = 0; i < upperBounds.Length; i++)
        {
            cumulative += bucketCounts[i];
            sb.Append(family).Append("_bucket");
            Labels(labels, "le", upperBounds[i].ToString("R", CultureInfo.InvariantCulture));
            sb.Append(' ').Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        sb.Append(family).Append("_bucket");
        Labels(labels, "le", "+Inf");
        sb.Append(' ').Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append(family).Append("_sum");
        Labels(labels, null, null);
        sb.Append(' ');
        Number(sum);
        sb.Append('\n');
        sb.Append(family).Append("_count");
        Labels(labels, null, null);
        sb.Append(' ').Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
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
