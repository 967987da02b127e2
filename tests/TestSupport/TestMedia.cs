using System.Globalization;

namespace StreamServer.TestSupport;

/// <summary>Small synthetic clips made with the real ffmpeg CLI (lavfi test pattern + tone).</summary>
public static class TestMedia
{
    public static async Task<string> GenerateAsync(string path, double seconds = 3, int width = 320, int height = 240,
        int fps = 25, bool video = true, bool audio = true, string pixelFormat = "yuv420p", string codec = "libx264",
        IEnumerable<string>? extraOutputArgs = null)
    {
        var s = seconds.ToString(CultureInfo.InvariantCulture);
        var args = new List<string> { "-hide_banner", "-loglevel", "error", "-y" };
        if (video)
        {
            args.AddRange(["-f", "lavfi", "-i", $"testsrc2=size={width}x{height}:rate={fps}:duration={s}"]);
        }

        if (audio)
        {
            args.AddRange(["-f", "lavfi", "-i", $"sine=frequency=440:sample_rate=48000:duration={s}"]);
        }

        if (video)
        {
            args.AddRange(["-c:v", codec, "-pix_fmt", pixelFormat]);
            if (codec == "libx264")
            {
                args.AddRange(["-preset", "ultrafast"]);
            }
        }

        if (audio)
        {
            args.AddRange(["-c:a", "aac", "-b:a", "96k"]);
        }

        if (extraOutputArgs is not null)
        {
            args.AddRange(extraOutputArgs);
        }

        args.Add(path);
        (await ProcessRunner.RunAsync("ffmpeg", args)).EnsureSuccess("ffmpeg (test clip)");
        return path;
    }
}
