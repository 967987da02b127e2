using System.Diagnostics;

namespace StreamServer.LoadTest;

internal enum Pace
{
    /// <summary>Like a viewer: keep a forward buffer, fetch only when it runs low, count rebuffering stalls.</summary>
    Realtime,

    /// <summary>Like a CDN filling its cache: segments back to back.</summary>
    Max,
}

internal sealed record LoadOptions(Uri Master, int Players, TimeSpan Duration, Pace Pace, Version HttpVersion, double BufferSeconds, bool Abr);

/// <summary>
/// One player session the way hls.js behaves: master -> media playlists -> init -> segments in order,
/// audio alongside video, throughput-based ABR (highest variant under 80 % of the measured rate).
/// At the end of the VOD it starts over as a new viewer.
/// </summary>
internal sealed class VirtualPlayer(HttpClient http, LoadOptions options)
{
    private readonly byte[] _drain = new byte[64 * 1024];
    private readonly Dictionary<Uri, MediaPlaylist> _playlists = [];

    public LoadStats Stats { get; } = new();

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await WatchOnceAsync(ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task WatchOnceAsync(CancellationToken ct)
    {
        var masterText = await GetTextAsync(options.Master, ct);
        if (masterText is null)
        {
            await Task.Delay(200, ct); // don't spin on a failing origin
            return;
        }

        var (variants, audioGroups) = HlsPlaylist.ParseMaster(masterText, options.Master);
        if (variants.Count == 0)
        {
            Fail("master playlist without variants");
            return;
        }

        var current = 0;
        var video = await PlaylistAsync(variants[current].Uri, ct);
        MediaPlaylist? audio = null;
        if (variants[current].AudioGroup is { } group && audioGroups.TryGetValue(group, out var audioUri))
        {
            audio = await PlaylistAsync(audioUri, ct);
            if (audio?.Init is { } audioInit)
            {
                await FetchAsync(audioInit, isSegment: false, ct);
            }
        }

        if (video?.Init is { } init)
        {
            await FetchAsync(init, isSegment: false, ct);
        }

        if (video is null)
        {
            return;
        }

        double estimateBps = 0;
        double buffered = 0;
        var clock = Stopwatch.StartNew();
        var playing = false;
        for (var i = 0; i < video.Segments.Count && !ct.IsCancellationRequested; i++)
        {
            if (options.Pace == Pace.Realtime && playing)
            {
                var ahead = buffered - clock.Elapsed.TotalSeconds;
                if (ahead < 0)
                {
                    Stats.Stalls++; // playback caught up with the download: the viewer sees a spinner
                    clock.Restart();
                    buffered = 0;
                }
                else if (ahead > options.BufferSeconds)
                {
                    await Task.Delay(TimeSpan.FromSeconds(ahead - options.BufferSeconds), ct);
                }
            }

            var (uri, duration) = video.Segments[i];
            var started = Stopwatch.GetTimestamp();
            var bytes = await FetchAsync(uri, isSegment: true, ct);
            if (audio is not null && i < audio.Segments.Count)
            {
                bytes += await FetchAsync(audio.Segments[i].Uri, isSegment: true, ct);
            }

            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (bytes > 0 && seconds > 0)
            {
                var bps = bytes * 8 / seconds;
                Stats.SegmentMbitPerSecond.Add(bps / 1e6);
                estimateBps = estimateBps == 0 ? bps : (0.7 * estimateBps) + (0.3 * bps);
            }

            buffered += duration;
            if (!playing && buffered >= Math.Min(options.BufferSeconds, duration))
            {
                playing = true;
                clock.Restart();
                buffered = duration;
            }

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
                    Stats.Switches++;
                    current = next;
                    video = switched;
                    if (video.Init is { } switchedInit)
                    {
                        await FetchAsync(switchedInit, isSegment: false, ct);
                    }
                }
            }
        }
    }

    private async Task<MediaPlaylist?> PlaylistAsync(Uri uri, CancellationToken ct)
    {
        if (_playlists.TryGetValue(uri, out var cached))
        {
            return cached;
        }

        var text = await GetTextAsync(uri, ct);
        if (text is null)
        {
            return null;
        }

        var parsed = HlsPlaylist.ParseMedia(text, uri);
        _playlists[uri] = parsed;
        return parsed;
    }

    private async Task<string?> GetTextAsync(Uri uri, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri) { Version = options.HttpVersion, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            Stats.PlaylistTtfbMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            Stats.Requests++;
            if (!response.IsSuccessStatusCode)
            {
                Fail($"GET {uri.AbsolutePath}: {(int)response.StatusCode}");
                return null;
            }

            var text = await response.Content.ReadAsStringAsync(ct);
            Stats.Bytes += text.Length;
            return text;
        }
        catch (HttpRequestException e)
        {
            Fail($"GET {uri.AbsolutePath}: {e.Message}");
            return null;
        }
    }

    private async Task<long> FetchAsync(Uri uri, bool isSegment, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri) { Version = options.HttpVersion, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (isSegment)
            {
                Stats.SegmentTtfbMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                Stats.Segments++;
            }

            Stats.Requests++;
            if (!response.IsSuccessStatusCode)
            {
                Fail($"GET {uri.AbsolutePath}: {(int)response.StatusCode}");
                return 0;
            }

            await using var body = await response.Content.ReadAsStreamAsync(ct);
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(_drain, ct)) > 0)
            {
                total += read;
            }

            if (response.Content.Headers.ContentLength is { } expected && expected != total)
            {
                Fail($"GET {uri.AbsolutePath}: {total} bytes of {expected}");
            }

            Stats.Bytes += total;
            return total;
        }
        catch (HttpRequestException e)
        {
            Fail($"GET {uri.AbsolutePath}: {e.Message}");
            return 0;
        }
    }

    private void Fail(string message)
    {
        Stats.Errors++;
        Stats.FirstError ??= message;
    }
}
