using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using StreamServer.BufferPool;
using StreamServer.Hosting;
using StreamServer.Transcode;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;
using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Cli;

/// <summary>`package &lt;input&gt; --out &lt;dir&gt; [--ladder 720,480,360] [--preset veryfast] [--segment-seconds 4]`.</summary>
internal static class PackageVerb
{
    public static async Task<int> RunAsync(string[] args)
    {
        var input = new Argument<string>("input") { Description = "Source media file" };
        var output = new Option<string>("--out", "-o") { Description = "Output folder (master.m3u8, manifest.mpd, renditions)", Required = true };
        var defaults = new PackagingOptions(); // the one place packaging defaults are defined
        var ladder = new Option<string>("--ladder") { Description = "Rendition heights, capped at the source height", DefaultValueFactory = _ => string.Join(',', defaults.Ladder) };
        var preset = new Option<string>("--preset") { Description = "libx264 preset", DefaultValueFactory = _ => defaults.Preset };
        var segment = new Option<double>("--segment-seconds") { Description = "Segment length in seconds", DefaultValueFactory = _ => defaults.SegmentSeconds };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing output folder" };
        var threads = new Option<int>("--encoder-threads") { Description = "Threads per libx264 encoder (0 = automatic)", DefaultValueFactory = _ => 0 };
        var command = new RootCommand("Package a media file as HLS + DASH (CMAF fMP4)") { input, output, ladder, preset, segment, overwrite, threads };

        var parsed = command.Parse(args);
        if (parsed.Action is not null && parsed.Errors.Count == 0 && parsed.CommandResult.Command == command && IsHelp(args))
        {
            return await parsed.InvokeAsync();
        }

        if (parsed.Errors.Count > 0)
        {
            await Console.Error.WriteLineAsync($"package: {parsed.Errors[0].Message}");
            return 2;
        }

        int[] heights;
        try
        {
            heights = ParseLadder(parsed.GetValue(ladder)!);
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync($"package: {e.Message}");
            return 2;
        }

        using var images = new VodImageSink(); // poster.jpg, sprites, thumbnails.vtt in the same decode pass

        // The same memory as the server's packaging jobs: frames and segments in one memfd buffer pool.
        using var pool = BufferPoolSetup.CreatePool(new StreamServerOptions());
        var options = BufferPoolSetup.ForPackaging(new PackagingOptions
        {
            FrameSinks = [images],
            Ladder = heights,
            Preset = parsed.GetValue(preset)!,
            SegmentSeconds = parsed.GetValue(segment),
            Overwrite = parsed.GetValue(overwrite),
            EncoderThreads = parsed.GetValue(threads),
        }, pool, new PooledFrameMemory(pool));

        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };

        try
        {
            var result = await RunWithProgressAsync(parsed.GetValue(input)!, parsed.GetValue(output)!, options, cts.Token);
            var names = string.Join(", ", result.Renditions.Select(r => $"{r.Width}x{r.Height}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"packaged {result.Duration.TotalSeconds:0.0}s ({names}{(result.Audio is null ? "" : ", audio")}) in {result.Elapsed.TotalSeconds:0.0}s ({result.Speed:0.00}x) -> {result.OutputDirectory}"));
            Console.WriteLine(DescribePool(pool));
            return 0;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("package: cancelled");
            return 130;
        }
        catch (Exception e) when (e is TranscodeException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            await Console.Error.WriteLineAsync($"package: {OneLine(e.Message)}");
            return 1;
        }
    }

    private static bool IsHelp(string[] args) => args.Contains("--help") || args.Contains("-h") || args.Contains("-?");

    private static async Task<PackagingResult> RunWithProgressAsync(string input, string outDir, PackagingOptions options, CancellationToken ct)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            // Not a terminal (logs, CI): a plain line every few seconds instead of a redrawn bar.
            var last = DateTime.MinValue;
            var plain = new Progress<PackagingProgress>(p =>
            {
                if (DateTime.UtcNow - last > TimeSpan.FromSeconds(2) || p.Percent >= 100)
                {
                    last = DateTime.UtcNow;
                    Console.WriteLine(Describe(p));
                }
            });
            return await Packager.PackageAsync(input, outDir, options, plain, ct);
        }

        PackagingResult? result = null;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask("packaging", maxValue: 100);
                var bar = new Progress<PackagingProgress>(p =>
                {
                    task.Value = p.Percent;
                    task.Description = string.Create(CultureInfo.InvariantCulture, $"packaging {p.Fps,6:0} fps {p.Speed,5:0.00}x");
                });
                result = await Packager.PackageAsync(input, outDir, options, bar, ct);
                task.Value = 100;
            });
        return result!;
    }

    private static string DescribePool(MemfdBufferPool pool)
    {
        var stats = pool.GetStatistics();
        return string.Create(CultureInfo.InvariantCulture,
            $"buffer pool: {stats.Allocations} rents (frames + segments), {stats.ExhaustedFailures + stats.TimeoutFailures} failed, {stats.LeasedBlocks} leased at exit ({stats.CapacityBytes >> 20} MiB memfd)");
    }

    private static string Describe(PackagingProgress p) =>
        string.Create(CultureInfo.InvariantCulture, $"package: {p.Percent,5:0.0}%  {p.Fps,6:0.0} fps  {p.Speed,5:0.00}x");

    internal static int[] ParseLadder(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            throw new FormatException("--ladder needs at least one height, e.g. 720,480,360");
        }

        var heights = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i].TrimEnd('p'), NumberStyles.None, CultureInfo.InvariantCulture, out heights[i]) || heights[i] < 16 || heights[i] > 4320)
            {
                throw new FormatException($"--ladder: '{parts[i]}' is not a height between 16 and 4320");
            }
        }

        return heights;
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
