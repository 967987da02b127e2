using System.Xml.Linq;
using StreamServer.Charts;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Charts;

/// <summary>Charts drawn from synthetic histories, checked in their pixels and their SVG text.</summary>
public sealed class ChartRendererTests
{
    private const long Now = 1_800_000_000;

    /// <summary>600 s of sends in a low bucket, and ten seconds from 309 to 300 s ago with a burst in bucket 20.</summary>
    private static ChartHistory History()
    {
        var history = new ChartHistory();
        Span<long> row = stackalloc long[ChartHistory.Rows];
        for (var s = 599; s >= 0; s--)
        {
            row.Clear();
            row[3] = 50;
            row[4] = 5;
            if (s is >= 300 and < 310)
            {
                row[20] = 100_000;
            }

            history.Append(Now - s, row, s % 10 == 0 ? 4 : 0, 1);
        }

        return history;
    }

    [Fact]
    public async Task The_heatmaps_hot_cell_is_where_the_data_put_it_and_empty_cells_stay_blank()
    {
        var missing = Capabilities.MissingTool("ffmpeg");
        Assert.SkipWhen(missing is not null, missing ?? "");
        var data = History().Window(600);
        Assert.Equal(600, data.Seconds.Length);
        var plot = ChartRenderer.BuildSendLatency(data);
        var png = plot.GetImageBytes(1200, 400, ScottPlot.ImageFormat.Png);
        if (Environment.GetEnvironmentVariable("CHART_TEST_PNG") is { } keep)
        {
            await File.WriteAllBytesAsync(keep, png);
        }

        Assert.Equal((byte)0x89, png[0]);
        var rgb = await ViridisPixels.DecodeAsync(png);
        Assert.Equal(1200 * 400 * 3, rgb.Length);

        // Inside the burst (x in [-310, -300)), row 20 (y in [20, 21)); above the cell's centre, where the percentile
        // lines run.
        var hot = plot.GetPixel(new ScottPlot.Coordinates(-305.5, 20.2));
        var (r, g, b) = Pixel(rgb, (int)hot.X, (int)hot.Y);
        Assert.True(r > 200 && g > 200 && b < 90, $"hot cell at {hot} is rgb({r},{g},{b}), not viridis' top");

        // The same row a minute later has no data: background, not a colour of the ramp.
        var empty = plot.GetPixel(new ScottPlot.Coordinates(-240.5, 20.5));
        var (er, eg, eb) = Pixel(rgb, (int)empty.X, (int)empty.Y);
        Assert.False(ViridisPixels.OnRamp(er, eg, eb), $"empty cell at {empty} is rgb({er},{eg},{eb})");

        // The everyday bucket is coloured but darker than the burst.
        var usual = plot.GetPixel(new ScottPlot.Coordinates(-100.5, 3.2)); // off the p50 line at the row's centre
        var (ur, ug, ub) = Pixel(rgb, (int)usual.X, (int)usual.Y);
        Assert.True(ViridisPixels.OnRamp(ur, ug, ub) && ur + ug < r + g, $"usual cell rgb({ur},{ug},{ub})");
    }

    [Fact]
    public void Svg_is_valid_xml_with_labelled_axes_and_empty_data_says_so()
    {
        var svg = System.Text.Encoding.UTF8.GetString(ChartRenderer.SendLatency(History().Window(600), 1200, 400, ChartFormat.Svg));
        var doc = XDocument.Parse(svg);
        Assert.Equal("svg", doc.Root!.Name.LocalName);
        Assert.Contains("latency (bucket upper bound)", svg);
        Assert.Contains("seconds before", svg);
        Assert.Contains("send-syscall latency, last 10 min", svg);
        Assert.Contains("µs", svg);
        Assert.Contains("p999", svg);

        var retransmits = System.Text.Encoding.UTF8.GetString(ChartRenderer.Retransmits(History().Window(3600), 800, 300, ChartFormat.Svg));
        XDocument.Parse(retransmits);
        Assert.Contains("all (kernel counters)", retransmits);

        var none = System.Text.Encoding.UTF8.GetString(ChartRenderer.SendLatency(new ChartHistory().Window(600), 1200, 400, ChartFormat.Svg));
        XDocument.Parse(none);
        Assert.Contains("no data yet", none);
        Assert.True(ChartRenderer.Retransmits(new ChartHistory().Window(60), 400, 200, ChartFormat.Png).Length > 1000);
    }

    private static (int R, int G, int B) Pixel(byte[] rgb, int x, int y)
    {
        var i = ((y * 1200) + x) * 3;
        return (rgb[i], rgb[i + 1], rgb[i + 2]);
    }

    [Fact]
    public void Retransmit_events_are_counted_by_state_into_the_second_they_are_sampled_in()
    {
        var history = new ChartHistory();
        history.Sample(null, [], Now - 1); // the baseline
        history.AddRetransmit("ESTABLISHED", 5);
        history.AddRetransmit("SYN_RECV", 1);
        history.AddRetransmit("TIME_WAIT", 2); // not a charted state: "other"
        history.Sample(null, [], Now);
        history.AddRetransmit("ESTABLISHED", 3);
        history.Sample(null, [], Now); // the same second again: added to its row
        var data = history.Window(10);
        Assert.Single(data.Seconds);
        Assert.Equal(8, data.RetransmitsByState[0, Array.IndexOf(ChartHistory.RetransmitStates, "ESTABLISHED")]);
        Assert.Equal(1, data.RetransmitsByState[0, Array.IndexOf(ChartHistory.RetransmitStates, "SYN_RECV")]);
        Assert.Equal(2, data.RetransmitsByState[0, Array.IndexOf(ChartHistory.RetransmitStates, "other")]);
        var svg = System.Text.Encoding.UTF8.GetString(ChartRenderer.Retransmits(data, 800, 300, ChartFormat.Svg));
        Assert.Contains("ESTABLISHED", svg);
        Assert.Contains("SYN_RECV", svg);
    }
}
