using System.Globalization;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// The parts of an HLS media playlist with CMAF segments that on-demand thumbnails need: the init section
/// (EXT-X-MAP) and each segment's file and start time. URIs must be relative and stay inside the playlist's folder.
/// </summary>
public sealed class HlsMediaPlaylist
{
    private HlsMediaPlaylist(string initPath, string[] segments, double[] starts, double duration)
    {
        InitPath = initPath;
        Segments = segments;
        Starts = starts;
        DurationSeconds = duration;
    }

    public string InitPath { get; }

    public IReadOnlyList<string> Segments { get; }

    /// <summary>Start time of each segment (sum of the EXTINF durations before it).</summary>
    public IReadOnlyList<double> Starts { get; }

    public double DurationSeconds { get; }

    /// <summary>Index of the segment whose span holds <paramref name="seconds"/> (the last one for times at or past the end).</summary>
    public int SegmentAt(double seconds)
    {
        var lo = 0;
        var hi = Starts.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (Starts[mid] <= seconds + 1e-6)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    public static HlsMediaPlaylist Load(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string? init = null;
        var segments = new List<string>();
        var starts = new List<double>();
        double t = 0;
        double? pending = null;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal))
            {
                var at = line.IndexOf("URI=\"", StringComparison.Ordinal);
                var end = at < 0 ? -1 : line.IndexOf('"', at + 5);
                if (end < 0)
                {
                    throw new TranscodeException($"{Path.GetFileName(path)}: EXT-X-MAP without a URI");
                }

                init = Resolve(folder, line[(at + 5)..end], path);
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                var value = line.AsSpan(8);
                var comma = value.IndexOf(',');
                if (!double.TryParse(comma < 0 ? value : value[..comma], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !(d >= 0))
                {
                    throw new TranscodeException($"{Path.GetFileName(path)}: bad EXTINF '{line}'");
                }

                pending = d;
            }
            else if (line.Length > 0 && line[0] != '#' && pending is { } duration)
            {
                segments.Add(Resolve(folder, line, path));
                starts.Add(t);
                t += duration;
                pending = null;
            }
        }

        if (init is null || segments.Count == 0)
        {
            throw new TranscodeException($"{Path.GetFileName(path)} is not a CMAF media playlist (no EXT-X-MAP or no segments)");
        }

        return new HlsMediaPlaylist(init, [.. segments], [.. starts], t);
    }

    private static string Resolve(string folder, string uri, string playlist)
    {
        var full = Path.GetFullPath(Path.Combine(folder, uri));
        if (uri.Contains("://", StringComparison.Ordinal) || !full.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new TranscodeException($"{Path.GetFileName(playlist)}: segment URI outside its folder: {uri}");
        }

        return full;
    }
}
