using StreamServer.TestSupport;

namespace StreamServer.Tests.Infrastructure;

/// <summary>Reads pictures the way a person looks at them: PNG decoded to RGB by ffmpeg, pixels on the heatmaps' viridis ramp counted.</summary>
internal static class ViridisPixels
{
    private static readonly int[][] Stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

    /// <summary>The PNG as packed RGB24 rows.</summary>
    public static async Task<byte[]> DecodeAsync(byte[] png)
    {
        using var work = new TempDir("ss-png");
        await File.WriteAllBytesAsync(work.Combine("in.png"), png);
        (await ProcessRunner.RunAsync("ffmpeg", ["-v", "error", "-y", "-i", work.Combine("in.png"), "-f", "rawvideo", "-pix_fmt", "rgb24", work.Combine("out.rgb")]))
            .EnsureSuccess("ffmpeg decode png");
        return await File.ReadAllBytesAsync(work.Combine("out.rgb"));
    }

    /// <summary>Pixels in [x0, x1) x [y0, y1) whose colour lies on the viridis ramp.</summary>
    public static int Count(byte[] rgb, int width, int x0, int x1, int y0, int y1) => Count(rgb, width, x0, x1, y0, y1, OnRamp);

    /// <summary>Pixels in [x0, x1) x [y0, y1) whose colour (r, g, b) passes <paramref name="colour"/>.</summary>
    public static int Count(byte[] rgb, int width, int x0, int x1, int y0, int y1, Func<int, int, int, bool> colour)
    {
        var n = 0;
        for (var y = y0; y < y1; y++)
        {
            for (var x = x0; x < x1; x++)
            {
                var i = ((y * width) + x) * 3;
                if (colour(rgb[i], rgb[i + 1], rgb[i + 2]))
                {
                    n++;
                }
            }
        }

        return n;
    }

    public static bool OnRamp(int r, int g, int b)
    {
        for (var k = 0; k < Stops.Length - 1; k++)
        {
            var (a, c) = (Stops[k], Stops[k + 1]);
            for (var t = 0.0; t <= 1.0; t += 1.0 / 32)
            {
                if (Math.Abs(r - (a[0] + ((c[0] - a[0]) * t))) < 10 && Math.Abs(g - (a[1] + ((c[1] - a[1]) * t))) < 10 && Math.Abs(b - (a[2] + ((c[2] - a[2]) * t))) < 10)
                {
                    return true;
                }
            }
        }

        return false;
    }
}
