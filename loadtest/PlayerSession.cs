using System.Diagnostics;
using System.Globalization;

namespace StreamServer.LoadTest;

/// <summary>One virtual player: playlist walk and segment fetches like hls.js / AVPlayer do, in order.</summary>
internal sealed class PlayerSession(HttpClient client, LoadOptions options, LoadStats stats, int index)
{
    private const int StartupBufferSegments = 3;
    private readonly byte[] _buffer = new byte[128 * 1024];

    public async Task RunAsync(CancellationToken stop)
    {
        try
        {
            var master = await GetTextAsync(options.Url, "playlist", stop);
            var variants = Uris(master, options.Url, tagged: "#EXT-X-STREAM-INF");
            var mediaUrl = variants.Count > 0 ? variants[index % variants.Count] : options.Url;
            while (!stop.IsCancellationRequested)
            {
                var media = await GetTextAsync(mediaUrl, "playlist", stop);
                var (init, segments) = ParseMedia(media, mediaUrl);
                if (init is not null)
                {
                    await FetchAsync(init, "init", stop);
                }

                var start = Stopwatch.GetTimestamp();
                var due = 0.0;           // playback position where segment i starts
                var playbackStart = -1.0; // seconds after start when playback began (start-up buffer full)
                var bufferAhead = 0.0;
                for (var i = 0; i < segments.Count && !stop.IsCancellationRequested; i++)
                {
                    if (options.Realtime && playbackStart >= 0)
                    {
                        // Keep about the start-up buffer's worth of media ahead of the play head.
                        var wait = playbackStart + due - bufferAhead - Stopwatch.GetElapsedTime(start).TotalSeconds;
                        if (wait > 0)
                        {
                            await Task.Delay(TimeSpan.FromSeconds(wait), stop);
                        }
                    }

                    await FetchAsync(segments[i].Url, "segment", stop);
                    var now = Stopwatch.GetElapsedTime(start).TotalSeconds;
                    if (i < StartupBufferSegments)
                    {
                        bufferAhead += segments[i].Duration;
                    }

                    if (playbackStart < 0 && (i == StartupBufferSegments - 1 || i == segments.Count - 1))
                    {
                        playbackStart = now;
                    }
                    else if (options.Realtime && playbackStart >= 0 && now > playbackStart + due)
                    {
                        stats.Stall(); // arrived after the play head needed it
                    }

                    due += segments[i].Duration;
                }

                if (options.Realtime && playbackStart >= 0)
                {
                    // Watch to the end before this player starts the next viewing.
                    var rest = playbackStart + due - Stopwatch.GetElapsedTime(start).TotalSeconds;
                    if (rest > 0)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(rest), stop);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task<string> GetTextAsync(Uri url, string kind, CancellationToken stop)
    {
        var t0 = Stopwatch.GetTimestamp();
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, stop);
        var ttfb = Stopwatch.GetElapsedTime(t0);
        var text = await response.Content.ReadAsStringAsync(stop);
        stats.Record(kind, (int)response.StatusCode, ttfb, Stopwatch.GetElapsedTime(t0), text.Length);
        response.EnsureSuccessStatusCode();
        return text;
    }

    /// <summary>Downloads one object, draining the body.</summary>
    private async Task FetchAsync(Uri url, string kind, CancellationToken stop)
    {
        var t0 = Stopwatch.GetTimestamp();
        try
        {
            using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, stop);
            var ttfb = Stopwatch.GetElapsedTime(t0);
            await using var body = await response.Content.ReadAsStreamAsync(stop);
            long bytes = 0;
            int n;
            while ((n = await body.ReadAsync(_buffer, stop)) > 0)
            {
                bytes += n;
            }

            stats.Record(kind, (int)response.StatusCode, ttfb, Stopwatch.GetElapsedTime(t0), bytes);
        }
        catch (HttpRequestException)
        {
            stats.Record(kind, 0, TimeSpan.Zero, Stopwatch.GetElapsedTime(t0), 0);
        }
    }

    private static List<Uri> Uris(string playlist, Uri baseUrl, string tagged)
    {
        var result = new List<Uri>();
        var take = false;
        foreach (var raw in playlist.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith(tagged, StringComparison.Ordinal))
            {
                take = true;
            }
            else if (take && line.Length > 0 && line[0] != '#')
            {
                result.Add(new Uri(baseUrl, line));
                take = false;
            }
        }

        return result;
    }

    private static (Uri? Init, List<(Uri Url, double Duration)> Segments) ParseMedia(string playlist, Uri baseUrl)
    {
        Uri? init = null;
        var segments = new List<(Uri, double)>();
        var duration = 0.0;
        foreach (var raw in playlist.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal))
            {
                var q = line.IndexOf("URI=\"", StringComparison.Ordinal) + 5;
                init = new Uri(baseUrl, line[q..line.IndexOf('"', q)]);
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                duration = double.Parse(line[8..].TrimEnd(',').Split(',')[0], CultureInfo.InvariantCulture);
            }
            else if (line.Length > 0 && line[0] != '#')
            {
                segments.Add((new Uri(baseUrl, line), duration));
            }
        }

        return (init, segments);
    }
}
