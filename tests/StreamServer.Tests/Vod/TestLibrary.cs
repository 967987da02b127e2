using StreamServer.TestSupport;

namespace StreamServer.Tests.Vod;

/// <summary>
/// A published VOD made once per test run with the real ffmpeg CLI (HLS, CMAF fMP4 segments) plus a
/// DASH manifest over the same files and a 1 MiB-class segment, copied into each server's library.
/// </summary>
public static class TestLibrary
{
    public const string Id = "clip";

    /// <summary>Sub-folder with an audio-only fMP4 rendition (init.mp4, seg_000.m4s, media.m3u8), named like the packager's.</summary>
    public const string AudioFolder = global::StreamServer.Transcode.Packaging.Packager.AudioFolder;
    private static readonly Lazy<Task<string>> Source = new(CreateAsync);

    /// <summary>Copies the published clip to DataDir/vod/{Id} and returns that folder.</summary>
    public static async Task<string> PublishAsync(string dataDir, string id = Id)
    {
        var source = await Source.Value;
        var target = Path.Combine(dataDir, "vod", id);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }

        Directory.CreateDirectory(Path.Combine(target, AudioFolder));
        foreach (var file in Directory.GetFiles(Path.Combine(source, AudioFolder)))
        {
            File.Copy(file, Path.Combine(target, AudioFolder, Path.GetFileName(file)), overwrite: true);
        }

        return target;
    }

    public static async Task<byte[]> ReadAsync(string name) => await File.ReadAllBytesAsync(Path.Combine(await Source.Value, name));

    private static async Task<string> CreateAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ss-vodlib-{Environment.ProcessId}");
        if (File.Exists(Path.Combine(dir, AudioFolder, "media.m3u8")))
        {
            return dir;
        }

        Directory.CreateDirectory(dir);
        (await ProcessRunner.RunAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "1500k", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "64k",
            "-f", "hls", "-hls_time", "1", "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod",
            "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", Path.Combine(dir, "seg_%03d.m4s"),
            Path.Combine(dir, "media.m3u8"),
        ])).EnsureSuccess("ffmpeg (test VOD)");
        await File.WriteAllTextAsync(Path.Combine(dir, "master.m3u8"),
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
            "#EXT-X-STREAM-INF:BANDWIDTH=1600000,AVERAGE-BANDWIDTH=1500000,CODECS=\"avc1.42c00d,mp4a.40.2\",RESOLUTION=320x240,FRAME-RATE=25\nmedia.m3u8\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "manifest.mpd"),
            "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" mediaPresentationDuration=\"PT4S\" " +
            "profiles=\"urn:mpeg:dash:profile:isoff-live:2011\"><Period><AdaptationSet mimeType=\"video/mp4\"><Representation id=\"0\" " +
            "bandwidth=\"1500000\" codecs=\"avc1.42c00d\" width=\"320\" height=\"240\"><SegmentTemplate initialization=\"init.mp4\" " +
            "media=\"seg_$Number%03d$.m4s\" startNumber=\"0\" timescale=\"1\" duration=\"1\"/></Representation></AdaptationSet></Period></MPD>\n");

        // A 1 MiB-class segment (the size class origins serve most), random so compression tricks cannot hide copies.
        var big = new byte[1_048_576 + 333];
        new Random(42).NextBytes(big);
        await File.WriteAllBytesAsync(Path.Combine(dir, "big.m4s"), big);

        // An audio-only fMP4 rendition in the folder the packager gives its audio track.
        var audio = Path.Combine(dir, AudioFolder);
        Directory.CreateDirectory(audio);
        (await ProcessRunner.RunAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
            "-c:a", "aac", "-b:a", "64k",
            "-f", "hls", "-hls_time", "1", "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod",
            "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", Path.Combine(audio, "seg_%03d.m4s"),
            Path.Combine(audio, "media.m3u8"),
        ])).EnsureSuccess("ffmpeg (test audio rendition)");
        return dir;
    }
}
