using System.Buffers.Binary;
using StreamServer.Transcode.Interop;
using StreamServer.Transcode.Media;

namespace StreamServer.Transcode.Packaging;

/// <summary>
/// One track as CMAF: an mp4 muxer in fragmented mode (frag_custom: we decide where fragments end)
/// writing through a custom AVIO into a <see cref="SegmentBuffer"/> (buffer-pool memory); each fragment
/// becomes one segment file written once (<c>seg_00001.m4s</c>, ...), the ftyp+moov become <c>init.mp4</c>.
/// For LL-HLS a segment may be cut into parts: each part is one fragment (a CMAF chunk), and the segment file is its
/// parts' fragments back to back. Parts are byte ranges of the segment, readable from the buffer pool while it grows
/// (<see cref="Live.LiveOpenSegment"/>), or, with <c>partsAsFiles</c>, files of their own (<c>part_00001_0.m4s</c>, ...).
/// </summary>
internal sealed unsafe class Fmp4TrackWriter : IDisposable
{
    // delay_moov: the moov is written with the first fragment, once edit lists / durations are known.
    private const string MovFlags = "+frag_custom+delay_moov+cmaf+skip_sidx+skip_trailer";

    private readonly SegmentBuffer output;
    private readonly MuxerHandle muxer;
    private readonly string directory;
    private readonly Rational encoderTimeBase;
    private readonly List<SegmentInfo> segments = [];
    private readonly List<PartInfo> parts = [];
    private long mediaStart = -1; // where the open segment's first fragment begins in the buffer (after init, if any)
    private long partStart = long.MinValue;
    private long partEnd = long.MinValue;
    private bool partIndependent;
    private bool pendingPartPackets;
    private readonly bool writeParts;
    private readonly bool partsAsFiles;
    private Live.LiveOpenSegment? open;
    private bool initWritten;
    private bool pendingPackets;
    private long segmentStart = long.MinValue;
    private long segmentEnd = long.MinValue;
    private long firstStart;

    /// <param name="firstNumber">Number of the first segment (a live stream that follows another continues its numbering).</param>
    /// <param name="initName">File name of the initialization segment.</param>
    /// <param name="partsAsFiles">Each part written as a file of its own instead of being a byte range of its segment.</param>
    public Fmp4TrackWriter(nint encoder, Rational encoderTimeBase, string directory, string label, SegmentBuffer output, bool writeParts = false,
        int firstNumber = 1, string initName = "init.mp4", bool partsAsFiles = false)
    {
        this.writeParts = writeParts;
        this.partsAsFiles = partsAsFiles;
        FirstNumber = firstNumber;
        InitName = initName;
        this.directory = directory;
        this.encoderTimeBase = encoderTimeBase;
        this.output = output;
        Label = label;
        Directory.CreateDirectory(directory);
        var opened = SsAv.MuxerOpen(encoder, MovFlags, SegmentBuffer.WriteCallback, output.Opaque, out var m);
        output.ThrowIfFailed();
        FfmpegError.Check(opened, $"avformat_write_header(mp4 {label})");
        muxer = MuxerHandle.FromNative(m);
        SsAv.MuxerTimebase(m, out var num, out var den);
        Timescale = den / Math.Max(1, num);
    }

    public string Label { get; }

    /// <summary>The folder init.mp4 and the segments are written to.</summary>
    public string OutputDirectory => directory;

    /// <summary>Ticks per second of the track (mdhd timescale), the unit of segment starts/durations.</summary>
    public long Timescale { get; }

    public IReadOnlyList<SegmentInfo> Segments => segments;

    public int FirstNumber { get; }

    public string InitName { get; }

    /// <summary>The number the open (next) segment gets.</summary>
    public int NextNumber => FirstNumber + segments.Count;

    /// <summary>Parts written so far, oldest first (the caller drops old ones with <see cref="ForgetPartsBefore"/>).</summary>
    public IReadOnlyList<PartInfo> Parts => parts;

    /// <summary>Parts of the segment being written (0 when none has ended yet).</summary>
    public int OpenSegmentParts { get; private set; }

    /// <summary>Bytes of the open segment's complete parts (where its next part will begin).</summary>
    public long OpenSegmentLength => mediaStart < 0 ? 0 : output.Length - mediaStart;

    /// <summary>The segment being written, readable while it grows (byte-range parts only; null before its first part).</summary>
    public Live.LiveOpenSegment? Open => Volatile.Read(ref open);

    /// <summary>Whether parts are files of their own (else byte ranges of their segment).</summary>
    public bool PartsAsFiles => partsAsFiles;

    /// <summary>Drops the records of parts of segments numbered below <paramref name="segmentNumber"/>.</summary>
    public void ForgetPartsBefore(int segmentNumber)
    {
        var n = 0;
        while (n < parts.Count && parts[n].SegmentNumber < segmentNumber)
        {
            n++;
        }

        parts.RemoveRange(0, n);
    }

    public long TotalBytes { get; private set; }

    private nint Ptr => muxer.DangerousGetHandle();

    /// <summary>
    /// Writes an encoded packet; <paramref name="startsSegment"/> closes the running segment first,
    /// <paramref name="startsPart"/> the running part (live only).
    /// </summary>
    public void Write(PacketHandle packet, bool startsSegment, long defaultDuration, bool startsPart = false)
    {
        if (startsSegment && pendingPackets)
        {
            CloseSegment();
        }
        else if (startsPart && pendingPartPackets)
        {
            ClosePart();
        }

        var pts = Rescale(packet.Pts);
        var duration = Rescale(packet.Duration > 0 ? packet.Duration : defaultDuration);
        if (segmentStart == long.MinValue)
        {
            segmentStart = pts;
        }

        segmentStart = Math.Min(segmentStart, pts);
        segmentEnd = Math.Max(segmentEnd, pts + duration);
        if (!pendingPartPackets)
        {
            partStart = pts;
            partIndependent = packet.IsKey;
        }

        partStart = Math.Min(partStart, pts);
        partEnd = Math.Max(partEnd, pts + duration);
        pendingPartPackets = true;
        var written = SsAv.MuxerWrite(Ptr, packet.Ptr);
        output.ThrowIfFailed();
        FfmpegError.Check(written, $"av_write_frame(mp4 {Label})");
        pendingPackets = true;
    }

    /// <summary>Closes the last segment; call once after the encoder is drained.</summary>
    public void Finish()
    {
        if (pendingPackets)
        {
            CloseSegment();
        }

        var finished = SsAv.MuxerFinish(Ptr);
        output.ThrowIfFailed();
        FfmpegError.Check(finished, $"av_write_trailer(mp4 {Label})");
        output.Clear(); // skip_trailer: nothing after the last fragment belongs in a file
        if (!initWritten)
        {
            throw new TranscodeException($"{Label}: no media was produced");
        }
    }

    private long Rescale(long ts) => ts == long.MinValue ? 0 : (long)Math.Round((double)ts * encoderTimeBase.Num * Timescale / encoderTimeBase.Den);

    private void CloseSegment()
    {
        long start;
        if (writeParts)
        {
            if (pendingPartPackets)
            {
                ClosePart(); // the segment's last part
            }

            start = mediaStart;
        }
        else
        {
            start = FlushFragment();
        }

        var mediaLength = output.Length - start;
        if (start < 0 || mediaLength <= 0)
        {
            throw new TranscodeException($"{Label}: the muxer produced no fragment");
        }

        var number = NextNumber;
        var name = $"seg_{number:D5}.m4s";
        WriteFile(name, start, mediaLength);
        if (open is { } growing)
        {
            // The file is in place: readers that still hold the open segment finish from memory, new ones get the file.
            growing.Commit(output.Chunks, mediaLength, complete: true);
            Volatile.Write(ref open, null);
            growing.Close();
        }
        if (segments.Count == 0)
        {
            firstStart = segmentStart;
        }

        var segmentStartTime = segments.Count == 0 ? 0 : segments[^1].Start + segments[^1].Duration;
        // Starts chain without gaps (players and the MPD timeline expect contiguity); the duration
        // absorbs rounding so the sum equals the track's presentation end.
        var end = segmentEnd - firstStart;
        segments.Add(new SegmentInfo(number, name, segmentStartTime, Math.Max(1, end - segmentStartTime), mediaLength, Timescale));
        output.Clear(); // the segment is on disk: its pool blocks go back now
        pendingPackets = false;
        segmentStart = long.MinValue;
        mediaStart = -1;
        OpenSegmentParts = 0;
    }

    /// <summary>Ends the open part: its fragment is flushed and written as the part's file; the bytes stay for the segment.</summary>
    private void ClosePart()
    {
        var offset = FlushFragment();
        if (mediaStart < 0)
        {
            mediaStart = offset;
        }

        var length = output.Length - offset;
        if (length <= 0)
        {
            throw new TranscodeException($"{Label}: the muxer produced no fragment for a part");
        }

        var number = NextNumber;
        string name;
        if (partsAsFiles)
        {
            name = $"part_{number:D5}_{OpenSegmentParts}.m4s";
            output.WriteFile(Path.Combine(directory, name), offset, length);
        }
        else
        {
            name = $"seg_{number:D5}.m4s";
            if (open is null)
            {
                Volatile.Write(ref open, new Live.LiveOpenSegment(number, name, mediaStart));
            }

            open!.Commit(output.Chunks, output.Length - mediaStart);
        }

        parts.Add(new PartInfo(number, OpenSegmentParts, name, Math.Max(1, partEnd - partStart), Timescale, partIndependent, length)
        {
            Offset = offset - mediaStart,
            IsByteRange = !partsAsFiles,
        });
        OpenSegmentParts++;
        pendingPartPackets = false;
        partStart = long.MinValue;
        partEnd = long.MinValue;
    }

    /// <summary>Flushes one fragment and returns where it begins in the buffer (past ftyp+moov, written to init.mp4 once).</summary>
    private long FlushFragment()
    {
        var before = output.Length;
        Flush();
        if (before > 0)
        {
            return before;
        }

        var start = SplitInit();
        if (start == output.Length)
        {
            // With delay_moov the first flush may emit only ftyp+moov; the fragment follows on the next one.
            output.Clear();
            Flush();
            start = SplitInit();
        }

        return start;
    }

    private void Flush()
    {
        var flushed = SsAv.MuxerFlush(Ptr);
        output.ThrowIfFailed();
        FfmpegError.Check(flushed, $"fragment flush (mp4 {Label})");
    }

    /// <summary>Writes leading ftyp/moov boxes to init.mp4 (once) and returns where media boxes begin.</summary>
    private long SplitInit()
    {
        Span<byte> header = stackalloc byte[8];
        long pos = 0;
        var length = output.Length;
        while (pos + 8 <= length)
        {
            output.CopyTo(pos, header);
            var size = BinaryPrimitives.ReadUInt32BigEndian(header);
            var type = header[4..];
            if (!(type.SequenceEqual("ftyp"u8) || type.SequenceEqual("moov"u8)))
            {
                break;
            }

            if (size < 8 || pos + size > length)
            {
                throw new TranscodeException($"{Label}: malformed box in muxer output");
            }

            pos += size;
            if (type.SequenceEqual("moov"u8) && !initWritten)
            {
                WriteFile(InitName, 0, pos);
                initWritten = true;
            }
        }

        return pos;
    }

    private void WriteFile(string name, long start, long count)
    {
        output.WriteFile(Path.Combine(directory, name), start, count);
        TotalBytes += count;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref open, null) is { } growing)
        {
            growing.Close(); // abandoned: readers get what was committed
        }

        muxer.Dispose(); // before the buffer: the muxer holds the buffer's GCHandle as its AVIO opaque
        output.Dispose();
    }
}
