using System.Globalization;
using System.Net;
using System.Text;
using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.Report;

/// <summary>
/// report.html: one self-contained page (inline SVG, no script, opens from a mail attachment or a CI artifact) with the
/// run's summary table, rate and latency over time, stalls / errors / server retransmits per second, and the latency
/// histogram.
/// </summary>
internal static class HtmlReport
{
    private const int Width = 900;
    private const int Height = 260;
    private const int Left = 60;
    private const int Right = 20;
    private const int Top = 44;
    private const int Bottom = 40;

    public static string Render(RunSummary run)
    {
        var html = new StringBuilder();
        html.Append("<!doctype html><html><head><meta charset=\"utf-8\"><title>")
            .Append(Esc($"{run.Scenario}: {run.Load}")).Append("</title><style>")
            .Append("body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}")
            .Append("th:first-child,td:first-child{text-align:left}svg{display:block;margin:18px 0;background:#fafafa;border:1px solid #eee}")
            .Append("</style></head><body>");
        html.Append("<h1>").Append(Esc($"{run.Scenario}: {run.Load}")).Append("</h1><p>")
            .Append(Esc(string.Create(CultureInfo.InvariantCulture, $"{run.Target}, {run.Seconds:F1} s: {run.Throughput()}")));
        if (run.IsPlayerRun)
        {
            html.Append("<br>").Append(Esc(run.PlayerTotals()));
        }

        html.Append("</p><table><tr><th>kind</th><th>requests</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>p99.99 ms</th><th>max ms</th></tr>");
        foreach (var row in run.LatencyRows)
        {
            html.Append(string.Create(CultureInfo.InvariantCulture,
                $"<tr><td>{Esc(row.Kind)}</td><td>{row.Requests}</td><td>{row.P50Ms:F3}</td><td>{row.P90Ms:F3}</td><td>{row.P99Ms:F3}</td><td>{row.P999Ms:F3}</td><td>{row.P9999Ms:F3}</td><td>{row.MaxMs:F3}</td></tr>"));
        }

        html.Append("</table>");
        var t = run.Timeline;
        if (t.Count > 0)
        {
            var x = Column(t, static s => s.Second);
            Lines(html, "Players watching", "at the end of each second", x, [("players", "#2ca02c", Column(t, static s => s.Players))]);
            Lines(html, "Requests and MiB per second", "per second", x,
                [("requests/s", "#1f77b4", Column(t, static s => s.Requests)), ("MiB/s", "#ff7f0e", Column(t, static s => s.Bytes / 1048576.0))]);
            Lines(html, "Segment time to first byte", "ms", x,
                [("p50", "#1f77b4", Column(t, static s => s.SegmentP50Ms)), ("p99", "#ff7f0e", Column(t, static s => s.SegmentP99Ms)),
                 ("p99.9", "#d62728", Column(t, static s => s.SegmentP999Ms)), ("playlist p99", "#9467bd", Column(t, static s => s.PlaylistP99Ms))]);
            var faults = new List<(string, string, double[])>
            {
                ("stalls", "#d62728", Column(t, static s => s.Stalls)), ("errors", "#7f7f7f", Column(t, static s => s.Errors)),
            };
            if (run.ServerRetransmits is not null)
            {
                faults.Add(("server retransmits", "#8c564b", Column(t, static s => s.ServerRetransmits ?? double.NaN)));
            }

            Lines(html, "Stalls, errors and the server's TCP retransmits", "per second", x, faults);
            if (run.LiveLatency is not null)
            {
                Lines(html, "Live latency (newest media fetched, behind the wall clock)", "ms", x, [("p50", "#17becf", Column(t, static s => s.LiveLatencyMs))]);
            }
        }

        if (run.Histogram.Count > 0)
        {
            Bars(html, $"Latency histogram ({run.Latency[0].Kind})", run.Histogram);
        }

        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static double[] Column(IReadOnlyList<IntervalSample> t, Func<IntervalSample, double> pick)
    {
        var values = new double[t.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = pick(t[i]);
        }

        return values;
    }

    private static void Lines(StringBuilder html, string title, string unit, double[] x, IReadOnlyList<(string Name, string Color, double[] Values)> series)
    {
        var inv = CultureInfo.InvariantCulture;
        var xMax = Math.Max(1, x[^1]);
        var yMax = 0.0;
        foreach (var s in series)
        {
            foreach (var v in s.Values)
            {
                if (double.IsFinite(v))
                {
                    yMax = Math.Max(yMax, v);
                }
            }
        }

        yMax = NiceCeiling(yMax);
        Frame(html, title, unit, "s", xMax, yMax);
        for (var k = 0; k < series.Count; k++)
        {
            var (name, color, values) = series[k];
            html.Append(inv, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"");
            for (var i = 0; i < values.Length; i++)
            {
                if (double.IsFinite(values[i]))
                {
                    html.Append(inv, $"{Px(x[i], xMax):F1},{Py(values[i], yMax):F1} ");
                }
            }

            html.Append("\"/>");
            html.Append(inv, $"<text x=\"{Left + 10 + (k * 150)}\" y=\"{Top - 12}\" fill=\"{color}\" font-size=\"12\">{Esc(name)}</text>");
        }

        html.Append("</svg>");
    }

    private static void Bars(StringBuilder html, string title, IReadOnlyList<HistogramBucket> buckets)
    {
        var inv = CultureInfo.InvariantCulture;
        long max = 1;
        foreach (var b in buckets)
        {
            max = Math.Max(max, b.Count);
        }

        var yMax = NiceCeiling(max);
        html.Append(inv, $"<svg width=\"{Width}\" height=\"{Height}\" xmlns=\"http://www.w3.org/2000/svg\">");
        html.Append(inv, $"<text x=\"{Left}\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{Esc(title)}</text>");
        var w = (Width - Left - Right) / (double)buckets.Count;
        for (var i = 0; i < buckets.Count; i++)
        {
            var b = buckets[i];
            var y = Py(b.Count, yMax);
            html.Append(inv, $"<rect x=\"{Left + (i * w) + 1:F1}\" y=\"{y:F1}\" width=\"{w - 2:F1}\" height=\"{Height - Bottom - y:F1}\" fill=\"#1f77b4\"><title>{b.FromMs:0.###}-{b.ToMs:0.###} ms: {b.Count}</title></rect>");
            html.Append(inv, $"<text x=\"{Left + ((i + 0.5) * w):F1}\" y=\"{Height - Bottom + 14}\" font-size=\"10\" text-anchor=\"middle\">{b.FromMs:0.###}</text>");
        }

        html.Append(inv, $"<text x=\"{Left}\" y=\"{Height - 6}\" font-size=\"11\">ms (log2 buckets, lower bound)</text>");
        html.Append(inv, $"<text x=\"6\" y=\"{Top + 10}\" font-size=\"11\">{yMax:0}</text><text x=\"6\" y=\"{Height - Bottom}\" font-size=\"11\">0</text></svg>");
    }

    private static void Frame(StringBuilder html, string title, string unit, string xUnit, double xMax, double yMax)
    {
        var inv = CultureInfo.InvariantCulture;
        html.Append(inv, $"<svg width=\"{Width}\" height=\"{Height}\" xmlns=\"http://www.w3.org/2000/svg\">");
        html.Append(inv, $"<text x=\"{Left}\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{Esc(title)} <tspan font-weight=\"normal\" font-size=\"12\">({Esc(unit)})</tspan></text>");
        for (var g = 0; g <= 4; g++)
        {
            var y = Py(yMax * g / 4, yMax);
            html.Append(inv, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{y:F1}\" y2=\"{y:F1}\" stroke=\"#ddd\"/>");
            html.Append(inv, $"<text x=\"{Left - 4}\" y=\"{y + 4:F1}\" font-size=\"10\" text-anchor=\"end\">{yMax * g / 4:0.##}</text>");
            var x = Px(xMax * g / 4, xMax);
            html.Append(inv, $"<text x=\"{x:F1}\" y=\"{Height - Bottom + 14}\" font-size=\"10\" text-anchor=\"middle\">{xMax * g / 4:0.#}</text>");
        }

        html.Append(inv, $"<text x=\"{Width - Right}\" y=\"{Height - 6}\" font-size=\"11\" text-anchor=\"end\">{xUnit}</text>");
    }

    private static double Px(double x, double xMax) => Left + (x / xMax * (Width - Left - Right));

    private static double Py(double y, double yMax) => Height - Bottom - (y / yMax * (Height - Top - Bottom));

    /// <summary>1, 2 or 5 times a power of ten at or above <paramref name="v"/>, so grid labels are round.</summary>
    private static double NiceCeiling(double v)
    {
        if (v <= 0 || !double.IsFinite(v))
        {
            return 1;
        }

        var p = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var m in (double[])[1, 2, 5, 10])
        {
            if (m * p >= v)
            {
                return m * p;
            }
        }

        return 10 * p;
    }

    private static string Esc(string s) => WebUtility.HtmlEncode(s);
}
