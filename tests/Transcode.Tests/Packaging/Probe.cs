using System.Globalization;
using System.Text.Json;
using StreamServer.TestSupport;

namespace StreamServer.Transcode.Tests.Packaging;

/// <summary>ffprobe (the real CLI) over packaged output: a track is init.mp4 + its segments concatenated.</summary>
internal static class Probe
{
    public static async Task<string> JoinTrackAsync(string trackDir, string into, int? onlySegment = null)
    {
        await using var output = File.Create(into);
        await using (var init = File.OpenRead(Path.Combine(trackDir, "init.mp4")))
        {
            await init.CopyToAsync(output);
        }

        var segments = Directory.GetFiles(trackDir, "seg_*.m4s").Order(StringComparer.Ordinal).ToArray();
        for (var i = 0; i < segments.Length; i++)
        {
            if (onlySegment is null || onlySegment == i + 1)
            {
                await using var seg = File.OpenRead(segments[i]);
                await seg.CopyToAsync(output);
            }
        }

        return into;
    }

    public static async Task<JsonElement> JsonAsync(params string[] args)
    {
        var r = await ProcessRunner.RunAsync("ffprobe", ["-v", "error", "-of", "json", .. args]);
        r.EnsureSuccess("ffprobe");
        return JsonDocument.Parse(r.StdOut).RootElement.Clone();
    }

    /// <summary>Decodes the whole video stream: width, height, decoded frame count, profile, level.</summary>
    public static async Task<(int Width, int Height, int Frames, string Profile, int Level, string PixFmt)> DecodeVideoAsync(string file)
    {
        var json = await JsonAsync("-select_streams", "v:0", "-count_frames", "-show_entries",
            "stream=width,height,nb_read_frames,profile,level,pix_fmt", file);
        var s = json.GetProperty("streams")[0];
        return (s.GetProperty("width").GetInt32(), s.GetProperty("height").GetInt32(),
            int.Parse(s.GetProperty("nb_read_frames").GetString()!, CultureInfo.InvariantCulture),
            s.GetProperty("profile").GetString()!, s.GetProperty("level").GetInt32(), s.GetProperty("pix_fmt").GetString()!);
    }

    /// <summary>Presentation times of the keyframes in decode order.</summary>
    public static async Task<List<double>> KeyframeTimesAsync(string file, string stream = "v:0")
    {
        var json = await JsonAsync("-select_streams", stream, "-show_entries", "packet=pts_time,flags", file);
        var keys = new List<double>();
        foreach (var p in json.GetProperty("packets").EnumerateArray())
        {
            if (p.GetProperty("flags").GetString()!.Contains('K'))
            {
                keys.Add(double.Parse(p.GetProperty("pts_time").GetString()!, CultureInfo.InvariantCulture));
            }
        }

        return keys;
    }

    public static async Task<(bool FirstIsKey, int Packets)> FirstPacketAsync(string file)
    {
        var json = await JsonAsync("-select_streams", "v:0", "-show_entries", "packet=flags", file);
        var packets = json.GetProperty("packets");
        return (packets.GetArrayLength() > 0 && packets[0].GetProperty("flags").GetString()!.Contains('K'), packets.GetArrayLength());
    }

    public static async Task<double> DurationAsync(string file, string stream)
    {
        var json = await JsonAsync("-select_streams", stream, "-show_entries", "packet=pts_time,duration_time", file);
        double end = 0;
        foreach (var p in json.GetProperty("packets").EnumerateArray())
        {
            var pts = double.Parse(p.GetProperty("pts_time").GetString()!, CultureInfo.InvariantCulture);
            var d = p.TryGetProperty("duration_time", out var dt) ? double.Parse(dt.GetString()!, CultureInfo.InvariantCulture) : 0;
            end = Math.Max(end, pts + d);
        }

        return end;
    }
}
