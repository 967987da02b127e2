using System.Buffers.Binary;
using StreamServer.Transcode.Interop;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Packaging;

/// <summary>
/// One track as CMAF: an mp4 muxer in fragmented mode (frag_custom: we decide where fragments end)
/// writing through a memory AVIO; each fragment becomes one segment file written once
/// (<c>seg_00001.m4s</c>, ...), the ftyp+moov become <c>init.mp4</c>.
/// </summary>
internal sealed unsafe class Fmp4TrackWriter : IDisposable
{
    // delay_moov: the moov is written with the first fragment, once edit lists / durations are known.
    private const string MovFlags = "+frag_custom+delay_moov+cmaf+skip_sidx+skip_trailer";

    private readonly MuxerHandle muxer;
    private readonly string directory;
    private readonly Rational encoderTimeBase;
    private readonly List<SegmentInfo> segments = [];
    private bool initWritten;
    private bool pendingPackets;
    private long segmentStart = long.MinValue;
    private long segmentEnd = long.MinValue;
    private long firstStart;

    public Fmp4TrackWriter(nint encoder, Rational encoderTimeBase, string directory, string label)
    {
        this.directory = directory;
        this.encoderTimeBase = encoderTimeBase;
        Label = label;
        Directory.CreateDirectory(directory);
        FfmpegError.Check(SsAv.MuxerOpen(encoder, MovFlags, out var m), $"avformat_write_header(mp4 {label})");
        muxer = MuxerHandle.FromNative(m);
        SsAv.MuxerTimebase(m, out var num, out var den);
        Timescale = den / Math.Max(1, num);
    }

    public string Label { get; }

    /// <summary>Ticks per second of the track (mdhd timescale), the unit of segment starts/durations.</summary>
    public long Timescale { get; }

    public IReadOnlyList<SegmentInfo> Segments => segments;

    public long TotalBytes { get; private set; }

    private nint Ptr => muxer.DangerousGetHandle();

    /// <summary>Writes an encoded packet; <paramref name="startsSegment"/> closes the running segment first.</summary>
    public void Write(PacketHandle packet, bool startsSegment, long defaultDuration)
    {
        if (startsSegment && pendingPackets)
        {
            CloseSegment();
        }

        var pts = Rescale(packet.Pts);
        var duration = Rescale(packet.Duration > 0 ? packet.Duration : defaultDuration);
        if (segmentStart == long.MinValue)
        {
            segmentStart = pts;
        }

        segmentStart = Math.Min(segmentStart, pts);
        segmentEnd = Math.Max(segmentEnd, pts + duration);
        FfmpegError.Check(SsAv.MuxerWrite(Ptr, packet.Ptr), $"av_write_frame(mp4 {Label})");
        pendingPackets = true;
    }

    /// <summary>Closes the last segment; call once after the encoder is drained.</summary>
    public void Finish()
    {
        if (pendingPackets)
        {
            CloseSegment();
        }

        FfmpegError.Check(SsAv.MuxerFinish(Ptr), $"av_write_trailer(mp4 {Label})");
        SsAv.MuxerConsume(Ptr, nuint.MaxValue);
        if (!initWritten)
        {
            throw new TranscodeException($"{Label}: no media was produced");
        }
    }

    private long Rescale(long ts) => ts == long.MinValue ? 0 : (long)Math.Round((double)ts * encoderTimeBase.Num * Timescale / encoderTimeBase.Den);

    private void CloseSegment()
    {
        FfmpegError.Check(SsAv.MuxerFlush(Ptr), $"fragment flush (mp4 {Label})");
        SsAv.MuxerPeek(Ptr, out var data, out var len);
        var bytes = new ReadOnlySpan<byte>(data, checked((int)len));
        var mediaStart = SplitInit(bytes);
        if (mediaStart == bytes.Length)
        {
            // With delay_moov the first flush may emit only ftyp+moov; the fragment follows on the next one.
            SsAv.MuxerConsume(Ptr, len);
            FfmpegError.Check(SsAv.MuxerFlush(Ptr), $"fragment flush (mp4 {Label})");
            SsAv.MuxerPeek(Ptr, out data, out len);
            bytes = new ReadOnlySpan<byte>(data, checked((int)len));
            mediaStart = SplitInit(bytes);
        }

        var media = bytes[mediaStart..];
        if (media.IsEmpty)
        {
            throw new TranscodeException($"{Label}: the muxer produced no fragment");
        }

        var number = segments.Count + 1;
        var name = $"seg_{number:D5}.m4s";
        WriteFile(name, media);
        if (segments.Count == 0)
        {
            firstStart = segmentStart;
        }

        var start = segments.Count == 0 ? 0 : segments[^1].Start + segments[^1].Duration;
        // Starts chain without gaps (players and the MPD timeline expect contiguity); the duration
        // absorbs rounding so the sum equals the track's presentation end.
        var end = segmentEnd - firstStart;
        segments.Add(new SegmentInfo(number, name, start, Math.Max(1, end - start), media.Length, Timescale));
        SsAv.MuxerConsume(Ptr, len);
        pendingPackets = false;
        segmentStart = long.MinValue;
    }

    /// <summary>Writes leading ftyp/moov boxes to init.mp4 (once) and returns where media boxes begin.</summary>
    private int SplitInit(ReadOnlySpan<byte> bytes)
    {
        var pos = 0;
        while (pos + 8 <= bytes.Length)
        {
            var size = BinaryPrimitives.ReadUInt32BigEndian(bytes[pos..]);
            var type = bytes.Slice(pos + 4, 4);
            if (!(type.SequenceEqual("ftyp"u8) || type.SequenceEqual("moov"u8)))
            {
                break;
            }

            if (size < 8 || pos + (long)size > bytes.Length)
            {
                throw new TranscodeException($"{Label}: malformed box in muxer output");
            }

            pos += (int)size;
            if (type.SequenceEqual("moov"u8))
            {
                if (!initWritten)
                {
                    WriteFile("init.mp4", bytes[..pos]);
                    initWritten = true;
                }
            }
        }

        return pos;
    }

    private void WriteFile(string name, ReadOnlySpan<byte> content)
    {
        using (var file = new FileStream(Path.Combine(directory, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 0))
        {
            file.Write(content);
        }

        TotalBytes += content.Length;
        TranscodeMetrics.SegmentBytes.Add(content.Length);
    }

    public void Dispose() => muxer.Dispose();
}
