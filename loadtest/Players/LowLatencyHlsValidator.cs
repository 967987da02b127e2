using System.Buffers.Binary;
using System.Globalization;
using System.Net.Http.Headers;

namespace StreamServer.LoadTest.Players;

/// <summary>One LL-HLS media playlist, parsed as far as the validator needs it.</summary>
internal sealed class LowLatencyPlaylist
{
    public sealed record Part(int Msn, int Index, double Duration, string Uri, long Length, long Offset, bool Independent)
    {
        public bool IsByteRange => Length >= 0;
    }

    public sealed record Segment(int Msn, double Duration, string Uri);

    public int Version { get; private set; }
    public int TargetDuration { get; private set; }
    public double PartTarget { get; private set; }
    public double PartHoldBack { get; private set; }
    public double CanSkipUntil { get; private set; }
    public bool CanBlockReload { get; private set; }
    public int MediaSequence { get; private set; }
    public int Skipped { get; private set; }
    public bool Ended { get; private set; }
    public List<Segment> Segments { get; } = [];
    public List<Part> Parts { get; } = [];
    public (string Uri, long Start)? Hint { get; private set; }
    public List<(string Uri, int Msn, int Part)> Reports { get; } = [];

    /// <summary>The msn of the segment the next EXTINF (or the open parts) belong to.</summary>
    public int OpenMsn => MediaSequence + Skipped + Segments.Count;

    public static LowLatencyPlaylist Parse(string text)
    {
        var p = new LowLatencyPlaylist();
        var partIndex = 0;
        string? pendingExtinf = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (Tag(line, "#EXT-X-VERSION:") is { } v)
            {
                p.Version = int.Parse(v, CultureInfo.InvariantCulture);
            }
            else if (Tag(line, "#EXT-X-TARGETDURATION:") is { } td)
            {
                p.TargetDuration = int.Parse(td, CultureInfo.InvariantCulture);
            }
            else if (Tag(line, "#EXT-X-PART-INF:") is { } pi)
            {
                p.PartTarget = Number(HlsPlaylist.Attributes(pi)["PART-TARGET"]);
            }
            else if (Tag(line, "#EXT-X-SERVER-CONTROL:") is { } sc)
            {
                var a = HlsPlaylist.Attributes(sc);
                p.PartHoldBack = a.TryGetValue("PART-HOLD-BACK", out var phb) ? Number(phb) : 0;
                p.CanSkipUntil = a.TryGetValue("CAN-SKIP-UNTIL", out var csu) ? Number(csu) : 0;
                p.CanBlockReload = a.GetValueOrDefault("CAN-BLOCK-RELOAD") == "YES";
            }
            else if (Tag(line, "#EXT-X-MEDIA-SEQUENCE:") is { } ms)
            {
                p.MediaSequence = int.Parse(ms, CultureInfo.InvariantCulture);
            }
            else if (Tag(line, "#EXT-X-SKIP:") is { } skip)
            {
                p.Skipped = int.Parse(HlsPlaylist.Attributes(skip)["SKIPPED-SEGMENTS"], CultureInfo.InvariantCulture);
            }
            else if (Tag(line, "#EXT-X-PART:") is { } part)
            {
                var a = HlsPlaylist.Attributes(part);
                long length = -1, offset = 0;
                if (a.TryGetValue("BYTERANGE", out var range))
                {
                    var at = range.IndexOf('@');
                    length = long.Parse(range[..at], CultureInfo.InvariantCulture);
                    offset = long.Parse(range[(at + 1)..], CultureInfo.InvariantCulture);
                }

                p.Parts.Add(new Part(p.OpenMsn, partIndex++, Number(a["DURATION"]), a["URI"], length, offset,
                    a.GetValueOrDefault("INDEPENDENT") == "YES"));
            }
            else if (Tag(line, "#EXTINF:") is { } extinf)
            {
                pendingExtinf = extinf[..extinf.IndexOf(',')];
            }
            else if (Tag(line, "#EXT-X-PRELOAD-HINT:") is { } hint)
            {
                var a = HlsPlaylist.Attributes(hint);
                p.Hint = (a["URI"], a.TryGetValue("BYTERANGE-START", out var start) ? long.Parse(start, CultureInfo.InvariantCulture) : -1);
            }
            else if (Tag(line, "#EXT-X-RENDITION-REPORT:") is { } report)
            {
                var a = HlsPlaylist.Attributes(report);
                p.Reports.Add((a["URI"], int.Parse(a["LAST-MSN"], CultureInfo.InvariantCulture), int.Parse(a["LAST-PART"], CultureInfo.InvariantCulture)));
            }
            else if (line == "#EXT-X-ENDLIST")
            {
                p.Ended = true;
            }
            else if (line.Length > 0 && line[0] != '#' && pendingExtinf is not null)
            {
                p.Segments.Add(new Segment(p.OpenMsn, Number(pendingExtinf), line));
                pendingExtinf = null;
                partIndex = 0;
            }
        }

        return p;
    }

    private static string? Tag(string line, string tag) => line.StartsWith(tag, StringComparison.Ordinal) ? line[tag.Length..] : null;

    private static double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);
}

/// <summary>
/// The rules of RFC 8216bis for low-latency media playlists, checked on every live media playlist a client receives
/// (Apple's mediastreamvalidator does not run on Linux): the load tool's `--validate` and the tests' clients. A violation
/// fails the request that brought the playlist (<see cref="LowLatencyHlsViolationException"/>), with the rule and the
/// playlist. One instance per client: the reload-to-reload rules compare what that client saw. Rules: PART-TARGET at least every part's duration (ms
/// timestamps: 1 ms of rounding allowed); part files named by msn and index in sequence; PART-HOLD-BACK at least 3 x PART-TARGET; CAN-BLOCK-RELOAD; a preload hint
/// on a playlist that has not ended, naming the next part (for byte ranges: the open segment from where its listed
/// parts end); byte ranges contiguous from 0 within each segment; every INDEPENDENT part
/// starting with a sync sample (its bytes fetched and its first moof read); CAN-SKIP-UNTIL at least 6 target
/// durations, and a delta playlist only skipping what lies that far before its end; rendition reports present and
/// never ahead of the playlist's own open part by more than one segment; and from one reload to the next of the same
/// playlist (within one stream), the media sequence and the newest part never going back.
/// </summary>
internal sealed class LowLatencyHlsValidator : DelegatingHandler
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (int Msn, int Part, int Sequence)> _last = [];
    private readonly HashSet<(int Msn, string Id)> _checkedParts = [];
    private readonly List<string> _violations = [];

    private int _validated;
    private int _independentPartsChecked;

    public LowLatencyHlsValidator(HttpMessageHandler? inner = null)
        : base(inner ?? new HttpClientHandler())
    {
    }

    /// <summary>Media playlists validated so far.</summary>
    public int Validated => Volatile.Read(ref _validated);

    /// <summary>INDEPENDENT parts whose first sample was read and found a sync sample.</summary>
    public int IndependentPartsChecked => Volatile.Read(ref _independentPartsChecked);

    public IReadOnlyList<string> Violations
    {
        get
        {
            lock (_lock)
            {
                return [.. _violations];
            }
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        var path = request.RequestUri!.AbsolutePath;
        if (!response.IsSuccessStatusCode || !path.StartsWith("/live/", StringComparison.Ordinal) || !path.EndsWith("/index.m3u8", StringComparison.Ordinal))
        {
            return response;
        }

        await response.Content.LoadIntoBufferAsync(cancellationToken); // the test reads it again, headers and all
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var problems = await CheckAsync(request.RequestUri, text, cancellationToken);
        if (problems.Count > 0)
        {
            lock (_lock)
            {
                _violations.AddRange(problems);
            }

            throw new LowLatencyHlsViolationException(request.RequestUri.PathAndQuery, problems, text);
        }

        return response;
    }

    private async Task<List<string>> CheckAsync(Uri uri, string text, CancellationToken cancellationToken)
    {
        var p = LowLatencyPlaylist.Parse(text);
        Interlocked.Increment(ref _validated);
        var problems = Rules(p);
        if (p.PartTarget <= 0)
        {
            return problems; // not a low-latency playlist
        }

        void Violation(string rule) => problems.Add(rule);

        // From one reload to the next: nothing goes back.
        var key = uri.AbsolutePath;
        var newest = p.Parts.Count > 0 ? (p.Parts[^1].Msn, p.Parts[^1].Index) : (p.OpenMsn - 1, int.MaxValue);
        lock (_lock)
        {
            if (p.MediaSequence <= 1)
            {
                _last.Remove(key); // a new stream starts over (numbering from 1): nothing to compare with
            }

            if (_last.TryGetValue(key, out var before)
                && (p.MediaSequence < before.Sequence || newest.Item1 < before.Msn || (newest.Item1 == before.Msn && newest.Item2 < before.Part)))
            {
                Violation($"went back: media sequence {p.MediaSequence} (was {before.Sequence}), newest part {newest.Item1}.{newest.Item2} (was {before.Msn}.{before.Part})");
            }

            _last[key] = (newest.Item1, newest.Item2, p.MediaSequence);

            // Parts of segments that left the window are never listed again: forget them, so a long run stays bounded.
            _checkedParts.RemoveWhere(checkedPart => checkedPart.Msn < p.MediaSequence);
        }

        // INDEPENDENT parts must start with a sync sample: read each one's first moof (once per part).
        foreach (var part in p.Parts)
        {
            if (!part.Independent)
            {
                continue;
            }

            var partUri = new Uri(uri, part.Uri);
            var id = $"{partUri.AbsolutePath}@{part.Offset}";
            lock (_lock)
            {
                if (!_checkedParts.Add((part.Msn, id)))
                {
                    continue;
                }
            }

            using var get = new HttpRequestMessage(HttpMethod.Get, partUri);
            if (part.IsByteRange)
            {
                get.Headers.Range = new RangeHeaderValue(part.Offset, part.Offset + part.Length - 1);
            }

            using var bytes = await base.SendAsync(get, cancellationToken);
            if (!bytes.IsSuccessStatusCode)
            {
                continue; // slid out of the window since the playlist was written: nothing to judge
            }

            var data = await bytes.Content.ReadAsByteArrayAsync(cancellationToken);
            if (FirstSampleIsSync(data) is not { } sync)
            {
                Violation($"part {part.Msn}.{part.Index}: no moof/traf/trun to read");
            }
            else if (!sync)
            {
                Violation($"part {part.Msn}.{part.Index} is INDEPENDENT=YES but its first sample is not a sync sample");
            }
            else
            {
                Interlocked.Increment(ref _independentPartsChecked);
            }
        }

        return problems;
    }

    /// <summary>The rules one playlist can be judged on by itself (no fetching, no earlier reload).</summary>
    public static List<string> Rules(LowLatencyPlaylist p)
    {
        var problems = new List<string>();
        if (p.PartTarget <= 0)
        {
            return problems;
        }

        void Violation(string rule) => problems.Add(rule);

        if (p.Version < 9 && p.Skipped > 0)
        {
            Violation($"EXT-X-SKIP needs EXT-X-VERSION 9 or more, found {p.Version}");
        }

        if (!p.CanBlockReload)
        {
            Violation("EXT-X-SERVER-CONTROL lacks CAN-BLOCK-RELOAD=YES");
        }

        if (p.PartHoldBack < (3 * p.PartTarget) - 1e-9)
        {
            Violation($"PART-HOLD-BACK {p.PartHoldBack} is under 3 x PART-TARGET {p.PartTarget}");
        }

        if (p.CanSkipUntil > 0 && p.CanSkipUntil < 6 * p.TargetDuration)
        {
            Violation($"CAN-SKIP-UNTIL {p.CanSkipUntil} is under 6 x TARGETDURATION {p.TargetDuration}");
        }

        foreach (var s in p.Segments)
        {
            if (Math.Round(s.Duration) > p.TargetDuration)
            {
                Violation($"segment {s.Msn}: EXTINF {s.Duration} rounds above TARGETDURATION {p.TargetDuration}");
            }
        }

        if (p.Skipped > 0)
        {
            var after = 0.0;
            foreach (var s in p.Segments)
            {
                after += s.Duration;
            }

            // Skipped segments must end at least CAN-SKIP-UNTIL before the playlist's end: what is listed covers it.
            if (after < p.CanSkipUntil - 0.01)
            {
                Violation($"EXT-X-SKIP left {after:0.000} s listed, under CAN-SKIP-UNTIL {p.CanSkipUntil}");
            }
        }

        // Parts: within each segment numbered from 0, byte ranges contiguous from 0, durations within PART-TARGET.
        for (var i = 0; i < p.Parts.Count; i++)
        {
            var part = p.Parts[i];
            var previous = i > 0 && p.Parts[i - 1].Msn == part.Msn ? p.Parts[i - 1] : null;
            if (!part.IsByteRange && part.Uri.StartsWith("part_", StringComparison.Ordinal) && part.Uri != $"part_{part.Msn:D5}_{part.Index}.m4s")
            {
                Violation($"part {part.Msn}.{part.Index} is named {part.Uri}: out of sequence");
            }

            if (part.Duration > p.PartTarget + 0.0015)
            {
                Violation($"part {part.Msn}.{part.Index}: DURATION {part.Duration} exceeds PART-TARGET {p.PartTarget}");
            }

            if (part.IsByteRange && part.Offset != (previous is null ? 0 : previous.Offset + previous.Length))
            {
                Violation($"part {part.Msn}.{part.Index}: BYTERANGE starts at {part.Offset}, not where the previous part ends");
            }
        }

        if (!p.Ended)
        {
            if (p.Hint is not { } hint)
            {
                Violation("no EXT-X-PRELOAD-HINT in a playlist that has not ended");
            }
            else
            {
                var open = p.Parts.Where(x => x.Msn == p.OpenMsn).ToList();
                if (hint.Start >= 0)
                {
                    var expected = open.Count == 0 ? 0 : open[^1].Offset + open[^1].Length;
                    if (hint.Start != expected || !hint.Uri.Contains($"{p.OpenMsn:D5}", StringComparison.Ordinal))
                    {
                        Violation($"preload hint {hint.Uri} @ {hint.Start} is not the next part of segment {p.OpenMsn} (expected start {expected})");
                    }
                }
                else if (hint.Uri != $"part_{p.OpenMsn:D5}_{open.Count}.m4s")
                {
                    Violation($"preload hint {hint.Uri} is not the next part part_{p.OpenMsn:D5}_{open.Count}.m4s");
                }
            }

            if (p.Reports.Count == 0)
            {
                Violation("no EXT-X-RENDITION-REPORT");
            }

            foreach (var (reportUri, msn, reportPart) in p.Reports)
            {
                if (msn > p.OpenMsn + 1 || msn < p.OpenMsn - 2 || reportPart < 0)
                {
                    Violation($"rendition report {reportUri} LAST-MSN={msn} LAST-PART={reportPart} is far from this playlist's segment {p.OpenMsn}");
                }
            }
        }

        return problems;
    }

    /// <summary>Whether the first sample of the first moof is a sync sample (ISO 14496-12 sample_is_non_sync_sample clear); null when unreadable.</summary>
    public static bool? FirstSampleIsSync(ReadOnlySpan<byte> data)
    {
        var moof = Box(data, "moof"u8);
        var traf = moof.IsEmpty ? default : Box(moof, "traf"u8);
        if (traf.IsEmpty)
        {
            return null;
        }

        var tfhd = Box(traf, "tfhd"u8);
        var trun = Box(traf, "trun"u8);
        if (tfhd.Length < 8 || trun.Length < 8)
        {
            return null;
        }

        uint? flags = null;
        var tfhdFlags = BinaryPrimitives.ReadUInt32BigEndian(tfhd) & 0xffffff;
        var at = 8; // version/flags, track_ID
        if ((tfhdFlags & 0x1) != 0)
        {
            at += 8;
        }

        if ((tfhdFlags & 0x2) != 0)
        {
            at += 4;
        }

        if ((tfhdFlags & 0x8) != 0)
        {
            at += 4;
        }

        if ((tfhdFlags & 0x10) != 0)
        {
            at += 4;
        }

        if ((tfhdFlags & 0x20) != 0)
        {
            flags = BinaryPrimitives.ReadUInt32BigEndian(tfhd[at..]);
        }

        var trunFlags = BinaryPrimitives.ReadUInt32BigEndian(trun) & 0xffffff;
        var t = 8; // version/flags, sample_count
        if ((trunFlags & 0x1) != 0)
        {
            t += 4;
        }

        if ((trunFlags & 0x4) != 0)
        {
            flags = BinaryPrimitives.ReadUInt32BigEndian(trun[t..]);
        }
        else if ((trunFlags & 0x400) != 0)
        {
            // The first sample's own fields: duration (0x100) and size (0x200) come before its flags.
            flags = BinaryPrimitives.ReadUInt32BigEndian(trun[(t + ((trunFlags & 0x100) != 0 ? 4 : 0) + ((trunFlags & 0x200) != 0 ? 4 : 0))..]);
        }

        return flags is { } f ? (f & 0x10000) == 0 : null;
    }

    // The payload of the first box of that type at this level.
    private static ReadOnlySpan<byte> Box(ReadOnlySpan<byte> data, ReadOnlySpan<byte> type)
    {
        var pos = 0;
        while (pos + 8 <= data.Length)
        {
            var size = (int)BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            if (size < 8 || pos + size > data.Length)
            {
                return default;
            }

            if (data.Slice(pos + 4, 4).SequenceEqual(type))
            {
                return data.Slice(pos + 8, size - 8);
            }

            pos += size;
        }

        return default;
    }
}

/// <summary>A live media playlist that breaks rules of RFC 8216bis: the first rule names the error, the rest and the
/// playlist are in the message.</summary>
internal sealed class LowLatencyHlsViolationException(string pathAndQuery, IReadOnlyList<string> problems, string playlist)
    : InvalidOperationException($"LL-HLS violation in {pathAndQuery}:\n  {string.Join("\n  ", problems)}\n---\n{playlist}")
{
    public string PathAndQuery => pathAndQuery;

    public IReadOnlyList<string> Problems => problems;
}
