using System.Globalization;
using System.Text.RegularExpressions;

namespace StreamServer.TestSupport;

/// <summary>SSIM of two pictures by ffmpeg's ssim filter, and reference frames extracted by the ffmpeg CLI.</summary>
public static partial class FfmpegSsim
{
    /// <summary>The "All:" SSIM of <paramref name="a"/> against <paramref name="b"/> (same size; formats converted by ffmpeg).</summary>
    public static async Task<double> CompareAsync(string a, string b)
    {
        var r = (await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-nostats", "-i", a, "-i", b, "-lavfi", "ssim", "-f", "null", "-"]))
            .EnsureSuccess("ffmpeg ssim");
        var m = AllRegex().Match(r.StdErr);
        if (!m.Success)
        {
            throw new InvalidOperationException($"no SSIM in ffmpeg output: {r.StdErr}");
        }

        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>`ffmpeg -ss t -i src -frames:v 1 -vf scale=w:-2` into a lossless Y4M (stays planar YUV like the source, so the comparison does not pay an RGB round trip).</summary>
    public static async Task<string> ExtractFrameAsync(string source, double seconds, int width, string y4mPath)
    {
        (await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-ss",
            seconds.ToString("0.###", CultureInfo.InvariantCulture), "-i", source, "-frames:v", "1", "-vf",
            $"scale={width}:-2:flags=bicubic", y4mPath])).EnsureSuccess("ffmpeg (reference frame)");
        return y4mPath;
    }

    [GeneratedRegex(@"All:([0-9.]+)")]
    private static partial Regex AllRegex();
}
