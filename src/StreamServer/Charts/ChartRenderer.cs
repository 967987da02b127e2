using ScottPlot;

namespace StreamServer.Charts;

public enum ChartFormat
{
    Png,
    Svg,
}

/// <summary>
/// Draws the charts with ScottPlot (SkiaSharp underneath, DejaVu Sans from Debian's fonts-dejavu-core). The send-latency
/// heatmap: time on x (seconds before the newest sample), one row per kernel log2 bucket on y, colour by count on a log
/// scale (viridis; empty cells left blank), P50/P99/P999 of each second drawn over it, and sends refused with EAGAIN per
/// second on the right axis when there were any.
/// </summary>
public static class ChartRenderer
{
    private const string Font = "DejaVu Sans";

    public static byte[] SendLatency(ChartData data, int width, int height, ChartFormat format) =>
        Encode(BuildSendLatency(data), width, height, format);

    public static byte[] Retransmits(ChartData data, int width, int height, ChartFormat format) =>
        Encode(BuildRetransmits(data), width, height, format);

    public static byte[] Requests(ChartData data, int width, int height, ChartFormat format) =>
        Encode(BuildRequests(data), width, height, format);

    public static byte[] Live(ChartData data, int width, int height, ChartFormat format) =>
        Encode(BuildLive(data), width, height, format);

    /// <summary>The plot behind <see cref="SendLatency"/>, for callers that need coordinates (tests find the pixel of a cell).</summary>
    public static Plot BuildSendLatency(ChartData data)
    {
        var plot = NewPlot("send-syscall latency", data);
        var rows = ChartHistory.Rows;
        var positions = new double[rows];
        var labels = new string[rows];
        for (var r = 0; r < rows; r++)
        {
            positions[r] = r + 0.5;
            labels[r] = r % 3 == 0 ? Latency(ChartHistory.RowUpperBound(r)) : "";
        }

        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, labels);
        plot.YLabel("latency (bucket upper bound)");
        plot.Axes.SetLimits(-data.WindowSeconds, 0, 0, rows);
        if (!data.HasSendData)
        {
            NoData(plot);
            return plot;
        }

        // One column per second of the window; seconds without a sample stay blank.
        var columns = data.WindowSeconds;
        var cells = new double[rows, columns];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                cells[r, c] = double.NaN;
            }
        }

        var p50 = new List<Coordinates>();
        var p99 = new List<Coordinates>();
        var p999 = new List<Coordinates>();
        var wouldBlock = new List<Coordinates>();
        long maxWouldBlock = 0;
        for (var i = 0; i < data.Seconds.Length; i++)
        {
            var c = columns - 1 - (int)(data.NewestSecond - data.Seconds[i]);
            if (c < 0)
            {
                continue;
            }

            wouldBlock.Add(new Coordinates(c - columns + 0.5, data.SendWouldBlock[i]));
            maxWouldBlock = Math.Max(maxWouldBlock, data.SendWouldBlock[i]);

            long total = 0;
            for (var r = 0; r < rows; r++)
            {
                var n = data.Send[i, r];
                total += n;
                if (n > 0)
                {
                    cells[rows - 1 - r, c] = Math.Log(1 + n); // the heatmap's first row is drawn at the top
                }
            }

            if (total == 0)
            {
                continue;
            }

            var x = c - columns + 0.5;
            p50.Add(new Coordinates(x, Rank(data, i, rows, total, 0.5)));
            p99.Add(new Coordinates(x, Rank(data, i, rows, total, 0.99)));
            p999.Add(new Coordinates(x, Rank(data, i, rows, total, 0.999)));
        }

        var heatmap = plot.Add.Heatmap(cells);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.Rectangle = new CoordinateRect(-columns, 0, 0, rows); // cell edges on whole seconds and rows
        foreach (var (points, name, color) in new[] { (p50, "p50", Colors.Cyan), (p99, "p99", Colors.Orange), (p999, "p999", Colors.Red) })
        {
            var line = plot.Add.ScatterLine(points);
            line.LegendText = name;
            line.Color = color;
            line.LineWidth = 1.5f;
        }

        if (maxWouldBlock > 0)
        {
            // The server's sockets never block: a client reading slower than we send shows as sends refused with EAGAIN
            // (the socket buffer is full), not as long calls. Drawn only when there were any, on its own scale.
            var refused = plot.Add.ScatterLine(wouldBlock);
            refused.LegendText = "EAGAIN / s";
            refused.Color = Colors.Magenta;
            refused.LineWidth = 1.5f;
            refused.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "sends refused, socket buffer full (EAGAIN) / s";
            plot.Axes.SetLimitsY(0, maxWouldBlock * 1.1, plot.Axes.Right);
        }

        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.SetLimits(-columns, 0, 0, rows); // after the plottables, so autoscaling cannot move them
        return plot;
    }

    public static Plot BuildRetransmits(ChartData data)
    {
        var plot = NewPlot("TCP retransmitted segments per second by state", data);
        plot.YLabel("segments / s");
        if (data.Seconds.Length == 0)
        {
            NoData(plot);
            return plot;
        }

        // At most one point per 3 px of a 1200 px chart: seconds are averaged into equal steps, so a render costs the
        // same for an hour as for ten minutes.
        var states = ChartHistory.RetransmitStates.Length;
        var points = Math.Min(data.Seconds.Length, 400);
        var xs = new double[points];
        var stacked = new double[states + 1, points]; // row t: states 0..t-1 stacked; row 0 is the floor
        var total = new double[points];
        var max = 1.0;
        for (var p = 0; p < points; p++)
        {
            int from = p * data.Seconds.Length / points, to = (p + 1) * data.Seconds.Length / points;
            var n = to - from;
            for (var i = from; i < to; i++)
            {
                total[p] += (data.RetransmitsServer[i] + data.RetransmitsClient[i]) / (double)n;
                for (var t = 0; t < states; t++)
                {
                    stacked[t + 1, p] += data.RetransmitsByState[i, t] / (double)n;
                }
            }

            for (var t = 1; t <= states; t++)
            {
                stacked[t, p] += stacked[t - 1, p];
            }

            xs[p] = data.Seconds[to - 1] - data.NewestSecond;
            max = Math.Max(max, Math.Max(total[p], stacked[states, p]));
        }

        // Stacked by the TCP state the socket was in (the event stream), with the kernel counters' total as a line over them.
        Color[] colors = [Colors.OrangeRed.WithAlpha(0.8), Colors.SteelBlue.WithAlpha(0.8), Colors.SeaGreen.WithAlpha(0.8),
            Colors.Purple.WithAlpha(0.8), Colors.DarkGoldenRod.WithAlpha(0.8), Colors.Gray.WithAlpha(0.8)];
        for (var t = 0; t < states; t++)
        {
            var upper = new double[points];
            var lower = new double[points];
            var any = false;
            for (var p = 0; p < points; p++)
            {
                upper[p] = stacked[t + 1, p];
                lower[p] = stacked[t, p];
                any |= upper[p] > lower[p];
            }

            if (any)
            {
                var band = plot.Add.FillY(xs, upper, lower);
                band.FillColor = colors[t];
                band.LegendText = ChartHistory.RetransmitStates[t];
            }
        }

        var line = plot.Add.ScatterLine(xs, total);
        line.Color = Colors.Black;
        line.LegendText = "all (kernel counters)";
        plot.Axes.SetLimitsY(0, max * 1.1);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>Requests per second by kind (solid, left axis) and each kind's P99 (dashed) and P50 (dotted) duration (right axis, ms).</summary>
    public static Plot BuildRequests(ChartData data)
    {
        var plot = NewPlot("requests per second and duration P50 / P99 by kind", data);
        plot.YLabel("requests / s");
        plot.Axes.Right.Label.Text = "P99 ms (dashed), P50 ms (dotted)";
        var any = false;
        double maxRate = 1, maxMs = 1;
        for (var k = 0; k < ChartHistory.RequestKinds.Length; k++)
        {
            var rate = new List<Coordinates>();
            var p50 = new List<Coordinates>();
            var p99 = new List<Coordinates>();
            for (var i = 0; i < data.Seconds.Length; i++)
            {
                var x = data.Seconds[i] - data.NewestSecond;
                rate.Add(new Coordinates(x, data.Requests[i, k]));
                maxRate = Math.Max(maxRate, data.Requests[i, k]);
                if (!double.IsNaN(data.RequestP99Ms[i, k]))
                {
                    p50.Add(new Coordinates(x, data.RequestP50Ms[i, k]));
                    p99.Add(new Coordinates(x, data.RequestP99Ms[i, k]));
                    maxMs = Math.Max(maxMs, data.RequestP99Ms[i, k]);
                }
            }

            if (p99.Count == 0)
            {
                continue; // a kind nobody asked for in this window
            }

            any = true;
            var line = plot.Add.ScatterLine(rate);
            line.Color = Palette[k];
            line.LegendText = ChartHistory.RequestKinds[k];
            var slow = plot.Add.ScatterLine(p99);
            slow.Color = Palette[k];
            slow.LinePattern = LinePattern.Dashed;
            slow.Axes.YAxis = plot.Axes.Right;
            var typical = plot.Add.ScatterLine(p50);
            typical.Color = Palette[k];
            typical.LinePattern = LinePattern.Dotted;
            typical.Axes.YAxis = plot.Axes.Right;
        }

        if (!any)
        {
            NoData(plot);
            return plot;
        }

        plot.Axes.SetLimitsY(0, maxRate * 1.1, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, maxMs * 1.1, plot.Axes.Right);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>Per live channel: ingest bitrate (solid, Mbit/s, left axis), viewers (dotted, left axis) and the publish
    /// delay P50 (dashed, seconds, right axis).</summary>
    public static Plot BuildLive(ChartData data)
    {
        var plot = NewPlot("live channels: ingest, viewers, publish delay", data);
        plot.YLabel("ingest Mbit/s (solid), viewers (dotted)");
        plot.Axes.Right.Label.Text = "publish delay P50, s (dashed)";
        if (data.LiveChannels.Count == 0 || data.Seconds.Length == 0)
        {
            NoData(plot);
            return plot;
        }

        double maxLeft = 1, maxRight = 0.1;
        for (var c = 0; c < data.LiveChannels.Count; c++)
        {
            var bitrate = new List<Coordinates>();
            var viewers = new List<Coordinates>();
            var delay = new List<Coordinates>();
            for (var i = 0; i < data.Seconds.Length; i++)
            {
                var x = data.Seconds[i] - data.NewestSecond;
                if (!double.IsNaN(data.LiveBitsPerSecond[i, c]))
                {
                    bitrate.Add(new Coordinates(x, data.LiveBitsPerSecond[i, c] / 1e6));
                    viewers.Add(new Coordinates(x, data.LiveViewers[i, c]));
                    maxLeft = Math.Max(maxLeft, Math.Max(data.LiveBitsPerSecond[i, c] / 1e6, data.LiveViewers[i, c]));
                }

                if (!double.IsNaN(data.LivePublishDelaySeconds[i, c]))
                {
                    delay.Add(new Coordinates(x, data.LivePublishDelaySeconds[i, c]));
                    maxRight = Math.Max(maxRight, data.LivePublishDelaySeconds[i, c]);
                }
            }

            var ingest = plot.Add.ScatterLine(bitrate);
            ingest.Color = Palette[c];
            ingest.LegendText = data.LiveChannels[c];
            var watching = plot.Add.ScatterLine(viewers);
            watching.Color = Palette[c];
            watching.LinePattern = LinePattern.Dotted;
            if (delay.Count > 0)
            {
                var late = plot.Add.ScatterLine(delay);
                late.Color = Palette[c];
                late.LinePattern = LinePattern.Dashed;
                late.Axes.YAxis = plot.Axes.Right;
            }
        }

        plot.Axes.SetLimitsY(0, maxLeft * 1.1, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, maxRight * 1.1, plot.Axes.Right);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>A plot titled "{what}, last {window}" with the shared time axis: seconds before the newest sample.</summary>
    private static Plot NewPlot(string what, ChartData data)
    {
        var plot = new Plot();
        plot.Font.Set(Font);
        plot.Title($"{what}, last {Describe(data.WindowSeconds)}");
        plot.XLabel("seconds before " + DateTimeOffset.FromUnixTimeSeconds(data.NewestSecond).ToString("HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture));
        plot.Axes.SetLimitsX(-data.WindowSeconds, 0);
        return plot;
    }

    /// <summary>One colour per series (request kind, live channel), in order.</summary>
    private static readonly Color[] Palette =
        [Colors.SteelBlue, Colors.OrangeRed, Colors.SeaGreen, Colors.Purple, Colors.DarkGoldenRod, Colors.Gray, Colors.Brown, Colors.Teal];

    private static void NoData(Plot plot)
    {
        var note = plot.Add.Annotation("no data yet", Alignment.MiddleCenter);
        note.LabelFontName = Font;
        note.LabelFontSize = 20;
    }

    private static byte[] Encode(Plot plot, int width, int height, ChartFormat format)
    {
        if (format == ChartFormat.Svg)
        {
            return System.Text.Encoding.UTF8.GetBytes(plot.GetSvgXml(width, height));
        }

        // Skia's default PNG encoding (every filter tried per row, zlib level 6) is most of a render's time; a chart's
        // flat colours compress nearly as well with the Up filter at level 2 in a fraction of it (bench/charts.sh).
        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(width, height));
        plot.Render(surface.Canvas, width, height);
        using var image = surface.Snapshot();
        using var pixels = image.PeekPixels();
        using var png = pixels.Encode(new SkiaSharp.SKPngEncoderOptions(SkiaSharp.SKPngEncoderFilterFlags.Up, 2))
            ?? throw new InvalidOperationException("PNG encoding failed");
        return png.ToArray();
    }

    /// <summary>The row (as a y coordinate at its centre) where the cumulative count reaches <paramref name="q"/>.</summary>
    private static double Rank(ChartData data, int second, int rows, long total, double q)
    {
        long seen = 0;
        for (var r = 0; r < rows; r++)
        {
            seen += data.Send[second, r];
            if (seen >= q * total)
            {
                return r + 0.5;
            }
        }

        return rows - 0.5;
    }

    private static string Latency(double seconds) => seconds switch
    {
        >= 1 => $"{seconds:0.#} s",
        >= 1e-3 => $"{seconds * 1e3:0.#} ms",
        _ => $"{seconds * 1e6:0} µs",
    };

    private static string Describe(int seconds) => seconds % 3600 == 0 ? $"{seconds / 3600} h" : seconds % 60 == 0 ? $"{seconds / 60} min" : $"{seconds} s";
}
