using System.Diagnostics;
using System.Globalization;
using StreamServer.Charts;

// Render time of each chart from a full hour of per-second history (27 log2 rows of send-syscall latency, retransmits),
// at 10 min and 1 h windows, 1200x400, PNG and SVG: 5 warm-up renders, then ROUNDS timed ones; p50 / p99 / max in ms.
if (args is ["event-to-pixel", var url, var token, var segment, var bursts])
{
    await StreamServer.Charts.Bench.EventToPixel.Setup();
    await StreamServer.Charts.Bench.EventToPixel.RunAsync(new Uri(url), token, segment, int.Parse(bursts, CultureInfo.InvariantCulture));
    return;
}

var rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 40;
var history = new ChartHistory();
var random = new Random(7);
var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
var row = new long[ChartHistory.Rows];
for (var s = ChartHistory.Capacity - 1; s >= 0; s--)
{
    for (var r = 0; r < row.Length; r++)
    {
        // A busy server: ~200k sends a second around 4-16 us, a tail to milliseconds, bursts now and then.
        row[r] = r is >= 2 and <= 5 ? 40_000 + random.Next(10_000) : r < 14 ? random.Next(200) >> (r - 5 < 0 ? 0 : r - 5) : 0;
    }

    if (s % 97 == 0)
    {
        row[18] = 500;
    }

    history.Append(now - s, row, random.Next(3), random.Next(2));
}

Console.WriteLine("chart          window  format    p50 ms    p99 ms    max ms     bytes");
foreach (var (name, render) in new (string, Func<ChartData, ChartFormat, byte[]>)[]
{
    ("send-latency", (d, f) => ChartRenderer.SendLatency(d, 1200, 400, f)),
    ("retransmits", (d, f) => ChartRenderer.Retransmits(d, 1200, 400, f)),
})
{
    foreach (var window in (int[])[600, 3600])
    {
        foreach (var format in (ChartFormat[])[ChartFormat.Png, ChartFormat.Svg])
        {
            var times = new List<double>();
            var bytes = 0;
            for (var i = 0; i < 5 + rounds; i++)
            {
                var clock = Stopwatch.StartNew();
                bytes = render(history.Window(window), format).Length; // the window copy is part of every render
                if (i >= 5)
                {
                    times.Add(clock.Elapsed.TotalMilliseconds);
                }
            }

            times.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-14} {window / 60,4} min  {format,-6} {times[times.Count / 2],8:F1}  {times[(int)(times.Count * 0.99)],8:F1}  {times[^1],8:F1}  {bytes,8}"));
        }
    }
}
