using System.Buffers;
using StreamServer.Http1;
using StreamServer.Ingest.Rtmp;
using StreamServer.Transcode;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;
using StreamServer.Vod;

namespace StreamServer.Fuzz;

/// <summary>
/// One method per fuzz target, each taking the fuzzer's bytes. An exception the code documents for bad input (a protocol
/// error, a transcode error) is an answer; any other exception, or a broken invariant, is a crash the fuzzer keeps.
/// The xunit tests run the same methods over the kept corpora and crashes (tests/StreamServer.Tests/Fuzz).
/// </summary>
public static class FuzzTargets
{
    public static readonly string[] Names = ["http1", "range", "rtmp", "h264", "playlists"];

    public static void Run(string target, ReadOnlySpan<byte> input)
    {
        switch (target)
        {
            case "http1":
                Http1(input);
                break;
            case "range":
                Range(input);
                break;
            case "rtmp":
                Rtmp(input);
                break;
            case "h264":
                H264(input);
                break;
            case "playlists":
                Playlists(input);
                break;
            default:
                throw new ArgumentException($"no fuzz target '{target}' (targets: {string.Join(", ", Names)})");
        }
    }

    /// <summary>The zero-copy path's request parser: what it accepts must be a well-formed GET/HEAD head.</summary>
    private static void Http1(ReadOnlySpan<byte> input)
    {
        var request = default(Http1Request);
        var status = Http1RequestParser.Parse(input, 8192, 32 * 1024, 100, ref request);
        if (status != Http1ParseStatus.Complete)
        {
            return;
        }

        var head = input[..request.HeadLength];
        Check(head.EndsWith("\r\n\r\n"u8), "accepted head does not end with CRLF CRLF");
        Check(head.StartsWith("GET /"u8) || head.StartsWith("HEAD /"u8), "accepted a method other than GET/HEAD");
        Check(head.IndexOf((byte)0) < 0, "accepted a NUL");
        Check(request.Target.Length > 0 && request.Target[0] == (byte)'/', "target does not start with /");
        Check(request.Target.IndexOfAnyInRange((byte)0, (byte)0x20) < 0, "control byte or space in the target");
    }

    private static readonly Lazy<VodFile> RangeFile = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"streamserver-fuzz-{Environment.ProcessId}.m4s");
        File.WriteAllBytes(path, new byte[100_000]);
        return VodFile.Open("vod/fuzz/seg.m4s", path, "video/iso.segment", VodKind.Segment, 0, VodFile.CacheControl)
            ?? throw new InvalidOperationException("could not open the fuzz file");
    });

    /// <summary>Range and conditional headers (one per line: Range, If-None-Match, If-Modified-Since, If-Range, If-Match,
    /// If-Unmodified-Since) planned against a 100,000-byte file: the plan never points outside it.</summary>
    private static void Range(ReadOnlySpan<byte> input)
    {
        var rest = input;
        Span<int> starts = stackalloc int[6];
        Span<int> lengths = stackalloc int[6];
        var offset = 0;
        for (var i = 0; i < 6; i++)
        {
            var end = rest.IndexOf((byte)'\n');
            var length = end < 0 ? rest.Length : end;
            (starts[i], lengths[i]) = (offset, length);
            offset += Math.Min(rest.Length, length + 1);
            rest = rest[Math.Min(rest.Length, length + 1)..];
        }

        var headers = new VodRequestHeaders(input.Slice(starts[0], lengths[0]), input.Slice(starts[1], lengths[1]), input.Slice(starts[2], lengths[2]),
            input.Slice(starts[3], lengths[3]), input.Slice(starts[4], lengths[4]), input.Slice(starts[5], lengths[5]));
        var file = RangeFile.Value;
        var plan = VodResponsePlanner.Plan(file, isHead: false, headers);
        Check(plan.Status is 200 or 206 or 304 or 412 or 416, $"status {plan.Status}");
        Check(plan.Offset >= 0 && plan.Count >= 0 && plan.Offset + plan.Count <= file.Length, $"plan {plan.Offset}+{plan.Count} outside {file.Length} bytes");
        Check(plan.Status != 206 || plan.Count > 0, "empty 206");
    }

    /// <summary>RTMP chunk stream from the handshake on, and AMF0 of every command and data message in it.</summary>
    private static void Rtmp(ReadOnlySpan<byte> input)
    {
        using var reader = new RtmpChunkReader();
        var sequence = new ReadOnlySequence<byte>(input.ToArray());
        try
        {
            while (!sequence.IsEmpty)
            {
                if (!reader.TryRead(sequence, out var consumed, out var message))
                {
                    return;
                }

                sequence = sequence.Slice(consumed);
                if (message.TypeId == RtmpMessage.SetChunkSize && message.Length >= 4)
                {
                    reader.SetChunkSize((uint)((message.Buffer[0] << 24) | (message.Buffer[1] << 16) | (message.Buffer[2] << 8) | message.Buffer[3]) & 0x7fffffff);
                }
                else if (message.TypeId is RtmpMessage.DataAmf0 or RtmpMessage.CommandAmf0)
                {
                    Amf0.ReadAll(message.Buffer.AsSpan(0, message.Length));
                }
            }
        }
        catch (RtmpProtocolException)
        {
            // A refused stream: the connection would be closed with this message.
        }
    }

    /// <summary>H.264 readers over untrusted encoder output and configuration: avcC SPS, slice types, reference counts.</summary>
    private static void H264(ReadOnlySpan<byte> input)
    {
        try
        {
            var (width, height) = H264Sps.FrameSize(input);
            Check(width > 0 && height > 0, $"frame size {width}x{height}");
        }
        catch (TranscodeException)
        {
        }

        var nalLengthSize = H264Packet.NalLengthSize(input); // 0: not an avcC
        Check(nalLengthSize is 0 or (>= 1 and <= 4), $"NAL length size {nalLengthSize}");
        H264Packet.ReadPictureKind(input, 4);
        H264Packet.ReadPictureKind(input, Math.Max(1, nalLengthSize));
        H264Packet.X264ReferenceFrames(input, 4);
    }

    /// <summary>
    /// The HLS and DASH writers over what a packaging run can hand them: any number of segments with any timescale and
    /// duration (zero-length, one tick, an hour), any bitrate, size and frame rate. Every playlist must keep RFC 8216's
    /// target-duration rule and print plain numbers; the MPD must be well-formed XML.
    /// </summary>
    private static void Playlists(ReadOnlySpan<byte> input)
    {
        var at = 0;
        static long Take(ReadOnlySpan<byte> data, ref int at, int bytes)
        {
            long v = 0;
            for (var i = 0; i < bytes; i++)
            {
                v = (v << 8) | (at < data.Length ? data[at++] : (byte)0);
            }

            return v;
        }


        var timescale = 1 + Take(input, ref at, 3); // 1 .. 16 M ticks a second
        var segments = new List<SegmentInfo>();
        long start = 0;
        for (int i = 0, count = (int)Take(input, ref at, 1) % 64; i < count; i++)
        {
            var duration = Take(input, ref at, 4) % (timescale * 3600); // up to an hour
            segments.Add(new SegmentInfo(i + 1, $"seg_{i + 1:00000}.m4s", start, duration, Take(input, ref at, 3), timescale));
            start += duration;
        }

        var video = new TrackResult("v" + Take(input, ref at, 1), "avc1.64001f", (int)Take(input, ref at, 2), (int)Take(input, ref at, 2), Take(input, ref at, 2) / (1.0 + Take(input, ref at, 1)), 0, 0, Take(input, ref at, 5), Take(input, ref at, 4), segments);
        var audio = (Take(input, ref at, 1) & 1) == 0 ? null : new TrackResult("audio", "mp4a.40.2", 0, 0, 0, 48000, 1 + (int)(Take(input, ref at, 1) % 8), Take(input, ref at, 3), Take(input, ref at, 3), segments);
        IReadOnlyList<TrackResult> renditions = (Take(input, ref at, 1) & 1) == 0 && audio is not null ? [] : [video];

        var master = HlsPlaylistWriter.Master(renditions, audio);
        CheckPlainNumbers(master);
        foreach (var track in (TrackResult?[])[.. renditions, audio])
        {
            if (track is null)
            {
                continue;
            }

            var media = HlsPlaylistWriter.Media(track);
            CheckPlainNumbers(media);
            var target = 0;
            foreach (var line in media.Split('\n'))
            {
                if (line.StartsWith("#EXT-X-TARGETDURATION:", StringComparison.Ordinal))
                {
                    target = int.Parse(line.AsSpan(22), System.Globalization.CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
                {
                    var seconds = double.Parse(line.AsSpan(8, line.IndexOf(',') - 8), System.Globalization.CultureInfo.InvariantCulture);
                    Check(Math.Round(seconds, MidpointRounding.AwayFromZero) <= target, $"EXTINF {seconds} over TARGETDURATION {target}");
                }
            }
        }

        var mpd = DashManifestWriter.Write(renditions, audio, Math.Max(0.001, segments.Count == 0 ? 1 : segments[0].DurationSeconds));
        CheckPlainNumbers(mpd);
        System.Xml.Linq.XDocument.Parse(mpd);
    }

    private static void CheckPlainNumbers(string text) =>
        Check(!text.Contains("NaN", StringComparison.Ordinal) && !text.Contains('∞') && !text.Contains("E+", StringComparison.Ordinal), "NaN, infinity or an exponent in:\n" + text);

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(what);
        }
    }
}

public sealed class FuzzInvariantException(string message) : Exception(message);
