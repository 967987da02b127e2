using System.Globalization;
using System.Text.RegularExpressions;
using StreamServer.TestSupport;
using StreamServer.Transcode.Packaging;

namespace StreamServer.Transcode.Tests.Packaging;

/// <summary>
/// Audio keeps its place next to the video: sources whose audio starts later or earlier than the first picture
/// (capture devices, cut recordings, `-itsoffset`), and audio with a hole in it. Checked on the packaged audio
/// track by where ffmpeg's silencedetect hears the tone and how long the track is.
/// </summary>
public sealed partial class AudioAlignmentTests
{
    [Fact]
    public async Task Audio_that_starts_after_the_first_picture_keeps_its_delay()
    {
        using var dir = new TempDir("av-late");
        // Video 0..4 s; a 440 Hz tone from 1.0 s to 4.0 s.
        var clip = await GenerateAsync(dir.Combine("late.mp4"), "testsrc2=size=320x240:rate=25:duration=4", 0, "sine=frequency=440:sample_rate=48000:duration=3", 1);

        var audio = await PackageAudioAsync(clip, dir);

        var (silenceEnd, _) = await LeadingSilenceAsync(audio);
        Assert.InRange(silenceEnd, 0.97, 1.06); // the tone starts at 1.0 s (+ the AAC encoder's 21 ms priming)
        Assert.Equal(4.0, await Probe.DurationAsync(audio, "a:0"), 0.1);
    }

    [Fact]
    public async Task Audio_from_before_the_first_picture_is_trimmed_to_the_video_timeline()
    {
        using var dir = new TempDir("av-early");
        // Video 1..4 s (an MP4 edit list; passthrough keeps the CLI from filling 0..1 s with copies of the first
        // picture); audio: 1 s of silence then the tone, 0..4 s. The first picture is at 1.0 s, where the tone starts,
        // so the packaged audio starts with the tone and lasts as long as the video (3 s).
        var clip = await GenerateAsync(dir.Combine("early.mp4"), "testsrc2=size=320x240:rate=25:duration=3", 1,
            "sine=frequency=440:sample_rate=48000:duration=4,volume=enable='lt(t,1)':volume=0", 0);

        var audio = await PackageAudioAsync(clip, dir);

        var (silenceEnd, found) = await LeadingSilenceAsync(audio);
        Assert.True(!found || silenceEnd < 0.06, $"audio starts with {silenceEnd:0.000}s of silence: not trimmed to the first picture");
        Assert.Equal(3.0, await Probe.DurationAsync(audio, "a:0"), 0.1);
    }

    [Fact]
    public async Task A_hole_in_the_audio_becomes_silence_instead_of_pulling_the_rest_forward()
    {
        using var dir = new TempDir("av-gap");
        // Video 0..4 s; the tone with its frames from 1 s to 2 s taken out, timestamps kept (a capture that lost a
        // second): packets jump from ~0.98 s to ~2.0 s.
        var clip = dir.Combine("gap.mkv");
        var r = await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
            "-af", "aselect='not(between(t,1,2))',asetpts=PTS", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "pcm_s16le", clip]);
        r.EnsureSuccess("ffmpeg gap clip");

        var audio = await PackageAudioAsync(clip, dir);

        var silences = await SilencesAsync(audio);
        Assert.Contains(silences, s => Math.Abs(s.Start - 1.0) < 0.06 && Math.Abs(s.End - 2.0) < 0.06);
        Assert.Equal(4.0, await Probe.DurationAsync(audio, "a:0"), 0.1);
    }

    private static async Task<string> GenerateAsync(string path, string video, double videoOffset, string audio, double audioOffset)
    {
        var r = await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y",
            "-itsoffset", videoOffset.ToString(CultureInfo.InvariantCulture), "-f", "lavfi", "-i", video,
            "-itsoffset", audioOffset.ToString(CultureInfo.InvariantCulture), "-f", "lavfi", "-i", audio,
            "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", path]);
        r.EnsureSuccess("ffmpeg offset clip");
        return path;
    }

    private static async Task<string> PackageAudioAsync(string clip, TempDir dir)
    {
        var outDir = dir.Combine("out");
        await Packager.PackageAsync(clip, outDir, new PackagingOptions { Ladder = [240], Preset = "ultrafast", SegmentSeconds = 1 }, null,
            TestContext.Current.CancellationToken);
        return await Probe.JoinTrackAsync(Path.Combine(outDir, Packager.AudioFolder), dir.Combine("audio.mp4"));
    }

    private static async Task<(double End, bool Found)> LeadingSilenceAsync(string file)
    {
        var silences = await SilencesAsync(file);
        return silences.Count > 0 && silences[0].Start < 0.01 ? (silences[0].End, true) : (0, false);
    }

    private static async Task<List<(double Start, double End)>> SilencesAsync(string file)
    {
        var r = await ProcessRunner.RunAsync("ffmpeg", ["-hide_banner", "-nostats", "-i", file, "-af", "silencedetect=n=-40dB:d=0.3", "-f", "null", "-"]);
        r.EnsureSuccess("silencedetect");
        var list = new List<(double, double)>();
        double? start = null;
        foreach (Match m in SilenceLine().Matches(r.StdErr))
        {
            var t = double.Parse(m.Groups["t"].Value, CultureInfo.InvariantCulture);
            if (m.Groups["kind"].Value == "start")
            {
                start = t;
            }
            else if (start is { } s)
            {
                list.Add((s, t));
                start = null;
            }
        }

        if (start is { } open)
        {
            list.Add((open, double.PositiveInfinity));
        }

        return list;
    }

    [GeneratedRegex(@"silence_(?<kind>start|end): (?<t>-?[0-9.]+)")]
    private static partial Regex SilenceLine();
}
