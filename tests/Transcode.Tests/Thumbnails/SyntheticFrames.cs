using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Transcode.Tests.Thumbnails;

/// <summary>Test pictures in planar 4:2:0: a detailed pattern, a uniform frame.</summary>
internal static class SyntheticFrames
{
    /// <summary>Gradients + checkerboard + diagonal stripes: detail at several frequencies, colour in both chroma planes.</summary>
    public static PinnedYuvImage Pattern(int width, int height, int seed = 0)
    {
        var img = new PinnedYuvImage(width, height);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var checker = (((x + seed) / 16) + (y / 16)) % 2 == 0 ? 40 : 0;
                var stripe = ((x + y + (3 * seed)) / 6) % 2 == 0 ? 25 : 0;
                img.Y[(y * width) + x] = (byte)Math.Clamp(40 + (x * 120 / width) + checker + stripe, 0, 255);
            }
        }

        for (var y = 0; y < img.ChromaHeight; y++)
        {
            for (var x = 0; x < img.ChromaWidth; x++)
            {
                img.U[(y * img.ChromaWidth) + x] = (byte)(64 + (x * 128 / img.ChromaWidth));
                img.V[(y * img.ChromaWidth) + x] = (byte)(192 - (y * 128 / img.ChromaHeight));
            }
        }

        return img;
    }

    public static PinnedYuvImage Uniform(int width, int height, byte luma)
    {
        var img = new PinnedYuvImage(width, height);
        img.Y.AsSpan().Fill(luma);
        img.U.AsSpan().Fill(128);
        img.V.AsSpan().Fill(128);
        return img;
    }

    /// <summary>Peak signal-to-noise ratio of two equally sized planes, in dB.</summary>
    public static double Psnr(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        Assert.Equal(a.Length, b.Length);
        double se = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var d = a[i] - b[i];
            se += d * d;
        }

        var mse = se / a.Length;
        return mse == 0 ? 99 : 10 * Math.Log10(255.0 * 255.0 / mse);
    }
}
