using System.Diagnostics;
using System.Globalization;
using StreamServer.Admin;

namespace StreamServer.Hosting;

/// <summary>
/// The embedded default: with an empty library, generate a short synthetic clip (FFmpeg lavfi test
/// pattern + tone) and package it as VOD "sample" through the normal job queue.
/// </summary>
internal sealed class SampleBootstrap(StreamServerOptions options, VodLibrary library, PackagingJobQueue queue, ILogger<SampleBootstrap> log)
    : BackgroundService
{
    public const string SampleId = "sample";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // (What a crash left in uploads/ and staging the job queue swept when it was created.)
        if (!options.GenerateSample || library.PublishedIds().Count > 0 || queue.Find(SampleId) is { IsFinished: false })
        {
            return;
        }

        var clip = Path.Combine(library.UploadsDir, $"sample-{Guid.NewGuid():N}.mp4");
        try
        {
            await GenerateAsync(clip, options.SampleSeconds, stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            log.LogError("sample: could not generate the synthetic clip: {Error}", ex.Message);
            File.Delete(clip);
            return;
        }

        if (queue.TryEnqueue(new VodJob(SampleId, clip, deleteSourceWhenDone: true)) != EnqueueResult.Accepted)
        {
            File.Delete(clip);
            return;
        }

        log.LogInformation("sample: packaging a {Seconds} s synthetic clip as VOD '{Id}'", options.SampleSeconds, SampleId);
    }

    private static async Task GenerateAsync(string path, int seconds, CancellationToken ct)
    {
        var s = seconds.ToString(CultureInfo.InvariantCulture);
        var psi = new ProcessStartInfo("ffmpeg")
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])[
            "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", $"testsrc2=size=1280x720:rate=30:duration={s}",
            "-f", "lavfi", "-i", $"sine=frequency=440:beep_factor=4:sample_rate=48000:duration={s}",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", path])
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start ffmpeg");
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg exited {process.ExitCode}: {(await stderr).Trim()}");
        }
    }
}
