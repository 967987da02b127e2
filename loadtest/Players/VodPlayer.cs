using System.Diagnostics;
using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.Players;

/// <summary>
/// One VOD viewer the way hls.js behaves: master -> media playlists -> init -> segments in order, audio alongside video,
/// start-up on the lowest variant, throughput-based ABR (the highest variant under 80 % of a smoothed estimate, up or
/// down), a forward buffer that stalls when playback catches up with the download. In seek mode the viewer watches a
/// few segments, scrubs (thumbnails around the target, as a seek bar previews) and jumps to a random position.
/// </summary>
internal sealed class VodPlayer(PlayerHttp http, PlayerOptions options, bool seek) : IPlayer
{
    private readonly Dictionary<Uri, MediaPlaylist> _playlists = [];
    private readonly Random _random = new();

    public async Task WatchAsync(CancellationToken ct)
    {
        var masterText = await http.TextAsync(options.Url, ct);
        if (masterText is null)
        {
            await Task.Delay(200, ct); // don't spin on a failing origin
            return;
        }

        var (variants, audioGroups) = HlsPlaylist.ParseMaster(masterText, options.Url);
        if (variants.Count == 0)
        {
            http.Metrics.Failure(ErrorKind.Status, "master playlist without variants");
            return;
        }

        var current = 0; // variants are sorted by bandwidth: start on the lowest, as players do before they have an estimate
        var video = await PlaylistAsync(variants[current].Uri, ct);
        MediaPlaylist? audio = null;
        if (variants[current].AudioGroup is { } group && audioGroups.TryGetValue(group, out var audioUri))
        {
            audio = await PlaylistAsync(audioUri, ct);
            if (audio?.Init is { } audioInit)
            {
                await http.BodyAsync(audioInit, RequestKind.Segment, ct);
            }
        }

        if (video is null)
        {
            return;
        }

        if (video.Init is { } init)
        {
            await http.BodyAsync(init, RequestKind.Segment, ct);
        }

        var buffer = new PlaybackBuffer(options, http.Metrics);
        double estimateBps = 0;
        var untilSeek = seek ? _random.Next(2, 5) : int.MaxValue;
        for (var i = 0; i < video.Segments.Count && !ct.IsCancellationRequested; i++)
        {
            if (--untilSeek < 0)
            {
                i = await SeekAsync(video, ct);
                buffer.Restart();
                untilSeek = _random.Next(2, 5);
            }

            await buffer.WaitForRoomAsync(ct);
            var (uri, duration) = video.Segments[i];
            var started = Stopwatch.GetTimestamp();
            var bytes = await http.BodyAsync(uri, RequestKind.Segment, ct);
            if (audio is not null && i < audio.Segments.Count)
            {
                bytes += await http.BodyAsync(audio.Segments[i].Uri, RequestKind.Segment, ct);
            }

            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (bytes > 0 && seconds > 0)
            {
                var bps = bytes * 8 / seconds;
                estimateBps = estimateBps == 0 ? bps : (0.7 * estimateBps) + (0.3 * bps);
            }

            buffer.Add(duration);
            if (options.Abr)
            {
                var next = 0;
                for (var v = 0; v < variants.Count; v++)
                {
                    if (variants[v].Bandwidth <= 0.8 * estimateBps)
                    {
                        next = v;
                    }
                }

                if (next != current && await PlaylistAsync(variants[next].Uri, ct) is { } switched)
                {
                    http.Metrics.Switch();
                    current = next;
                    video = switched;
                    if (video.Init is { } switchedInit)
                    {
                        await http.BodyAsync(switchedInit, RequestKind.Segment, ct);
                    }
                }
            }
        }
    }

    /// <summary>Scrubs to a random position: three thumbnails near it (when the VOD has them), then the segment index to go on from.</summary>
    private async Task<int> SeekAsync(MediaPlaylist video, CancellationToken ct)
    {
        http.Metrics.Seek();
        var target = _random.Next(video.Segments.Count);
        double at = 0, total = 0;
        for (var s = 0; s < video.Segments.Count; s++)
        {
            at += s < target ? video.Segments[s].Duration : 0;
            total += video.Segments[s].Duration;
        }

        var thumbs = new Uri(options.Url, "thumb.jpg");
        for (var t = 0; t < 3; t++)
        {
            var seconds = Math.Clamp(at + ((t - 1) * 2), 0, Math.Max(0, total - 0.5)); // previews stay inside the media
            await http.BodyAsync(new Uri(thumbs, FormattableString.Invariant($"?t={seconds:F1}&w=160")), RequestKind.Thumbnail, ct);
        }

        return target;
    }

    private async Task<MediaPlaylist?> PlaylistAsync(Uri uri, CancellationToken ct)
    {
        if (_playlists.TryGetValue(uri, out var cached))
        {
            return cached;
        }

        var text = await http.TextAsync(uri, ct);
        if (text is null)
        {
            return null;
        }

        var parsed = HlsPlaylist.ParseMedia(text, uri);
        _playlists[uri] = parsed;
        return parsed;
    }
}
