using StreamServer.LoadTest.Stats;

namespace StreamServer.LoadTest.Players;

/// <summary>
/// One live viewer. Legacy HLS: joins three target durations behind the edge, reloads the media playlist every target
/// duration (half of it when nothing was new, RFC 8216 6.3.4) and fetches each new segment. LL-HLS: joins at the newest
/// independent part, then asks for the next part with a blocking reload (_HLS_msn/_HLS_part, RFC 8216bis 6.2.5.2) and
/// fetches the parts it lists. Audio, when the master has it, follows the same way beside video. How far behind the wall
/// clock the fetched media is (PROGRAM-DATE-TIME to now) is recorded as live latency.
/// </summary>
internal sealed class LivePlayer(PlayerHttp http, PlayerOptions options, bool lowLatency) : IPlayer
{
    public async Task WatchAsync(CancellationToken ct)
    {
        var masterText = await http.TextAsync(options.Url, ct);
        if (masterText is null)
        {
            await Task.Delay(500, ct);
            return;
        }

        var (variants, audioGroups) = HlsPlaylist.ParseMaster(masterText, options.Url);
        if (variants.Count == 0)
        {
            http.Metrics.Failure(ErrorKind.Status, "master playlist without variants");
            return;
        }

        var video = FollowAsync(variants[0].Uri, measure: true, ct);
        if (variants[0].AudioGroup is { } group && audioGroups.TryGetValue(group, out var audio))
        {
            await Task.WhenAll(video, FollowAsync(audio, measure: false, ct));
        }
        else
        {
            await video;
        }
    }

    private async Task FollowAsync(Uri playlistUri, bool measure, CancellationToken ct)
    {
        var text = await http.TextAsync(playlistUri, ct);
        if (text is null)
        {
            await Task.Delay(500, ct); // as after a failed master: a viewer retries, it does not hammer
            return;
        }

        var playlist = HlsPlaylist.ParseMedia(text, playlistUri);
        if (playlist.Init is { } init)
        {
            await http.BodyAsync(init, RequestKind.Segment, ct);
        }

        var buffer = new PlaybackBuffer(options, http.Metrics);
        if (lowLatency && playlist.PartTarget > 0)
        {
            await FollowPartsAsync(playlistUri, playlist, buffer, measure, ct);
        }
        else
        {
            await FollowSegmentsAsync(playlistUri, playlist, buffer, measure, ct);
        }
    }

    private async Task FollowSegmentsAsync(Uri playlistUri, MediaPlaylist playlist, PlaybackBuffer buffer, bool measure, CancellationToken ct)
    {
        // Join three target durations behind the newest segment (the HOLD-BACK players use by default).
        var next = Math.Max(playlist.MediaSequence, playlist.OpenMsn - 3);
        while (!ct.IsCancellationRequested)
        {
            var fetched = false;
            for (var msn = next; msn < playlist.OpenMsn; msn++)
            {
                var index = (int)(msn - playlist.MediaSequence);
                if (index < 0)
                {
                    continue; // slid out of the window while we were away: a real player skips ahead too
                }

                await buffer.WaitForRoomAsync(ct);
                var (uri, duration) = playlist.Segments[index];
                if (await http.BodyAsync(uri, RequestKind.Segment, ct) >= 0)
                {
                    buffer.Add(duration);
                    if (measure && playlist.StartTimes.TryGetValue(msn, out var start))
                    {
                        http.Metrics.LiveLatency(DateTimeOffset.UtcNow - start.AddSeconds(duration));
                    }
                }

                fetched = true;
            }

            next = Math.Max(next, playlist.OpenMsn);
            if (playlist.Ended)
            {
                return;
            }

            var wait = Math.Max(0.1, playlist.TargetDuration) * (fetched ? 1 : 0.5);
            await Task.Delay(TimeSpan.FromSeconds(wait), ct);
            var text = await http.TextAsync(playlistUri, ct);
            if (text is not null)
            {
                playlist = HlsPlaylist.ParseMedia(text, playlistUri);
            }
        }
    }

    private async Task FollowPartsAsync(Uri playlistUri, MediaPlaylist playlist, PlaybackBuffer buffer, bool measure, CancellationToken ct)
    {
        // Join at the newest independent part: playback can start there without waiting for the next segment.
        (long Msn, int Index) last = (playlist.OpenMsn - 1, int.MaxValue);
        for (var p = playlist.Parts.Count - 1; p >= 0; p--)
        {
            if (playlist.Parts[p].Independent)
            {
                last = (playlist.Parts[p].Msn, playlist.Parts[p].Index - 1);
                break;
            }
        }

        while (!ct.IsCancellationRequested)
        {
            foreach (var part in playlist.Parts)
            {
                if (part.Msn < last.Msn || (part.Msn == last.Msn && part.Index <= last.Index))
                {
                    continue;
                }

                if (await http.BodyAsync(part.Uri, part.Offset, part.Length, RequestKind.Part, ct) >= 0)
                {
                    buffer.Add(part.Duration);
                    if (measure && playlist.StartTimes.TryGetValue(part.Msn, out var start))
                    {
                        var end = start;
                        foreach (var q in playlist.Parts)
                        {
                            if (q.Msn == part.Msn && q.Index <= part.Index)
                            {
                                end = end.AddSeconds(q.Duration);
                            }
                        }

                        http.Metrics.LiveLatency(DateTimeOffset.UtcNow - end);
                    }
                }

                last = (part.Msn, part.Index);
            }

            if (playlist.Ended)
            {
                return;
            }

            await buffer.WaitForRoomAsync(ct);

            // The part after the newest listed one: the next of the open segment, or the first of the next.
            var (msn, index) = playlist.Parts.Count > 0 && playlist.Parts[^1].Msn == playlist.OpenMsn
                ? (playlist.OpenMsn, playlist.Parts[^1].Index + 1)
                : (playlist.OpenMsn, 0);
            var blocking = new UriBuilder(playlistUri)
            {
                Query = FormattableString.Invariant($"_HLS_msn={msn}&_HLS_part={index}{(options.Delta ? "&_HLS_skip=YES" : "")}"),
            }.Uri;
            var text = await http.TextAsync(blocking, ct);
            if (text is null)
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Max(0.1, playlist.PartTarget)), ct);
                continue;
            }

            try
            {
                playlist = HlsPlaylist.ParseMedia(text, playlistUri);
            }
            catch (FormatException e)
            {
                // Counted, not fatal: the viewer asks again (a whole run must not end on one bad answer).
                http.Metrics.Failure(ErrorKind.Status, $"GET {blocking.PathAndQuery}: malformed playlist ({e.Message}, {text.Length} chars, ends \"{text[Math.Max(0, text.Length - 60)..]}\")");
            }
        }
    }
}
