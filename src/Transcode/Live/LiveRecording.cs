using StreamServer.Transcode.Packaging;

namespace StreamServer.Transcode.Live;

/// <summary>
/// One publish kept as a VOD: every segment the remuxer completes is copied, renumbered from 1, into a staging folder
/// next to the library entry (dot-prefixed: never served, swept at start-up if the process dies), and when the publish
/// ends the VOD playlists and the static MPD are written by the VOD writers and the folder is renamed into the library
/// in one step. A recording that cannot be written (disk full) is dropped with its reason; the live stream goes on.
/// </summary>
public sealed class LiveRecording : IDisposable
{
    private readonly StagingFolder _staging;
    private readonly Dictionary<string, List<SegmentInfo>> _segments = [];
    private readonly Action<LiveRecording>? _ended;

    /// <param name="ended">Called once when the recording was published or dropped (<see cref="Error"/> says which).</param>
    public LiveRecording(string target, Action<LiveRecording>? ended = null)
    {
        _staging = StagingFolder.Create(target, overwrite: false);
        Target = _staging.Target;
        _ended = ended;
    }

    /// <summary>The library folder the recording becomes.</summary>
    public string Target { get; }

    /// <summary>Why the recording was dropped, or null.</summary>
    public string? Error { get; private set; }

    /// <summary>Copies a completed segment of the track in <paramref name="folder"/> (and, with its first, the init segment).</summary>
    internal void Add(string folder, SegmentInfo segment, string segmentPath, string initPath)
    {
        if (Error is not null)
        {
            return;
        }

        try
        {
            if (!_segments.TryGetValue(folder, out var list))
            {
                Directory.CreateDirectory(Path.Combine(_staging.Path, folder));
                File.Copy(initPath, Path.Combine(_staging.Path, folder, "init.mp4"));
                _segments[folder] = list = [];
            }

            var number = list.Count + 1;
            var name = $"seg_{number:D5}.m4s";
            File.Copy(segmentPath, Path.Combine(_staging.Path, folder, name));
            list.Add(segment with { Number = number, FileName = name });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Drop($"recording {Path.GetFileName(Target)}: {ex.Message}");
        }
    }

    /// <summary>The segments recorded for the track in <paramref name="folder"/>.</summary>
    internal IReadOnlyList<SegmentInfo> Segments(string folder) => _segments.TryGetValue(folder, out var list) ? list : [];

    /// <summary>Writes the VOD playlists and MPD over the recorded tracks and publishes the folder; false (and <see cref="Error"/>) when it could not.</summary>
    internal bool Complete(IReadOnlyList<TrackResult> video, TrackResult? audio, double segmentSeconds)
    {
        if (Error is not null)
        {
            return false;
        }

        if (video.Count == 0 || video[0].Segments.Count == 0)
        {
            Drop($"recording {Path.GetFileName(Target)}: no complete segment");
            return false;
        }

        try
        {
            foreach (var track in video)
            {
                File.WriteAllText(Path.Combine(_staging.Path, track.Name, HlsPlaylistWriter.MediaPlaylistName), HlsPlaylistWriter.Media(track));
            }

            if (audio is { Segments.Count: > 0 })
            {
                File.WriteAllText(Path.Combine(_staging.Path, audio.Name, HlsPlaylistWriter.MediaPlaylistName), HlsPlaylistWriter.Media(audio));
            }
            else
            {
                audio = null;
            }

            File.WriteAllText(Path.Combine(_staging.Path, "manifest.mpd"), DashManifestWriter.Write(video, audio, segmentSeconds));
            File.WriteAllText(Path.Combine(_staging.Path, "master.m3u8"), HlsPlaylistWriter.Master(video, audio)); // last: what makes it a VOD
            _staging.Publish();
            _ended?.Invoke(this);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Drop($"recording {Path.GetFileName(Target)}: {ex.Message}");
            return false;
        }
    }

    private void Drop(string error)
    {
        Error = error;
        _staging.Dispose();
        _ended?.Invoke(this);
    }

    public void Dispose() => _staging.Dispose();
}
