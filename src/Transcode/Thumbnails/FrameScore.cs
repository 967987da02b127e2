namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// How good a frame is as a poster, from luma only: mean (too dark / too bright frames are fades, black slates or
/// flashes), standard deviation (a uniform frame has none) and edge energy (mean absolute horizontal + vertical
/// gradient: detail a viewer can recognise). Sampled on a grid, so a 1080p frame costs ~30k reads.
/// </summary>
public readonly record struct FrameScore(double Mean, double StdDev, double EdgeEnergy)
{
    /// <summary>Frames darker/brighter than this mean are fades or slates, whatever their detail.</summary>
    public const double MinUsableMean = 32;
    public const double MaxUsableMean = 224;

    /// <summary>Below this standard deviation a frame is uniform (black, white, a flat card).</summary>
    public const double MinUsableStdDev = 4;

    /// <summary>Single figure, higher is better; 0 for uniform frames.</summary>
    public double Value
    {
        get
        {
            if (StdDev < MinUsableStdDev)
            {
                return 0;
            }

            // Brightness weight: 1 at mid-grey, falling to 0.25 at the usable limits and 0.05 beyond them.
            var off = Math.Abs(Mean - 128) / (128 - MinUsableMean);
            var weight = Mean is < MinUsableMean or > MaxUsableMean ? 0.05 : 1 - (0.75 * off * off);
            return (StdDev + (2 * EdgeEnergy)) * weight;
        }
    }

    public bool IsUniform => StdDev < MinUsableStdDev;

    public static unsafe FrameScore Measure(in YuvPlanes frame)
    {
        // ~180 x ~180 sample grid regardless of resolution; gradients over one sample step.
        var step = Math.Max(1, Math.Min(frame.Width, frame.Height) / 180);
        long n = 0, sum = 0, sumSq = 0, edge = 0, edgeN = 0;
        for (var y = 0; y < frame.Height; y += step)
        {
            var row = frame.Y + ((long)y * frame.YStride);
            var below = y + step < frame.Height ? row + ((long)step * frame.YStride) : null;
            for (var x = 0; x < frame.Width; x += step)
            {
                int v = row[x];
                sum += v;
                sumSq += v * v;
                n++;
                if (x + step < frame.Width && below != null)
                {
                    edge += Math.Abs(v - row[x + step]) + Math.Abs(v - below[x]);
                    edgeN++;
                }
            }
        }

        var mean = (double)sum / n;
        var variance = Math.Max(0, ((double)sumSq / n) - (mean * mean));
        return new FrameScore(mean, Math.Sqrt(variance), edgeN == 0 ? 0 : (double)edge / (2 * edgeN));
    }
}
