using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Packaging;

/// <summary>Turns the configured ladder into renditions for one source: capped at its height, even sizes, display aspect kept.</summary>
public static class LadderPlanner
{
    public static IReadOnlyList<RenditionPlan> Plan(MediaStreamInfo video, PackagingOptions options) =>
        Plan(video.Width, video.Height, video.SampleAspectRatio, options);

    /// <summary>The renditions for a picture of <paramref name="width"/> x <paramref name="height"/> (sample aspect <paramref name="sampleAspect"/>).</summary>
    public static IReadOnlyList<RenditionPlan> Plan(int width, int height, Rational sampleAspect, PackagingOptions options)
    {
        var sar = sampleAspect.IsValid ? sampleAspect.ToDouble() : 1.0;
        var displayAspect = width * sar / height;
        var sourceHeight = height & ~1;
        var heights = new SortedSet<int>(Comparer<int>.Create((a, b) => b.CompareTo(a)));
        foreach (var h in options.Ladder)
        {
            if (h <= 0)
            {
                throw new ArgumentException($"ladder height {h} is not positive");
            }

            if (h <= height)
            {
                heights.Add(h & ~1);
            }
        }

        if (heights.Count == 0)
        {
            heights.Add(sourceHeight);
        }

        var plans = new List<RenditionPlan>(heights.Count);
        foreach (var h in heights)
        {
            var w = (int)Math.Round(h * displayAspect / 2.0) * 2;
            w = Math.Max(2, w);
            var bitrate = options.VideoBitrateFor(h, w);
            var maxrate = (long)(bitrate * options.PeakBitrateFactor);
            plans.Add(new RenditionPlan($"v{h}", w, h, bitrate, maxrate, bitrate * 2));
        }

        return plans;
    }
}
