using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Media;

/// <summary>
/// An opened input (demuxer): its streams, packet reading and seeking. Reusable on its own, e.g. for
/// poster frames: open, <see cref="SeekTo"/>, feed a <see cref="VideoDecoder"/>.
/// </summary>
public sealed unsafe class MediaSource : IDisposable
{
    private readonly FormatContextHandle context;

    private MediaSource(string path, FormatContextHandle context)
    {
        Path = path;
        this.context = context;
        var count = SsAv.InputStreamCount(context.DangerousGetHandle());
        var streams = new MediaStreamInfo[count];
        for (var i = 0; i < count; i++)
        {
            FfmpegError.Check(SsAv.InputStreamInfo(Ptr, i, out var s), "stream info");
            var name = new string((sbyte*)s.CodecName);
            streams[i] = new MediaStreamInfo(
                i,
                s.CodecType switch { 0 => MediaKind.Video, 1 => MediaKind.Audio, _ => MediaKind.Other },
                name,
                s.Width,
                s.Height,
                s.Format,
                s.CodecType == 0 ? SsAv.Utf8(SsAv.PixFmtName(s.Format)) ?? "none" : "",
                s.SampleRate,
                s.Channels,
                new Rational(s.TbNum, s.TbDen),
                new Rational(s.AvgFrNum, s.AvgFrDen),
                new Rational(s.RFrNum, s.RFrDen),
                new Rational(s.SarNum, s.SarDen),
                s.StartTime,
                s.Duration,
                s.AttachedPic != 0);
        }

        Streams = streams;
        FormatName = SsAv.Utf8(SsAv.InputFormatName(Ptr)) ?? "";
        var us = SsAv.InputDurationUs(Ptr);
        Duration = us > 0 ? TimeSpan.FromMicroseconds(us) : TimeSpan.Zero;
        DurationIsDeclared = us > 0 && SsAv.InputDurationDeclared(Ptr) != 0;
        var start = SsAv.InputStartUs(Ptr);
        StartTime = start is > long.MinValue and > 0 ? TimeSpan.FromMicroseconds(start) : TimeSpan.Zero;
    }

    public string Path { get; }
    public string FormatName { get; }
    public IReadOnlyList<MediaStreamInfo> Streams { get; }

    /// <summary>Container duration (0 when unknown).</summary>
    public TimeSpan Duration { get; }

    /// <summary>True when <see cref="Duration"/> comes from the container (index, headers, timestamps), not a bitrate guess.</summary>
    public bool DurationIsDeclared { get; }

    /// <summary>Start of the earliest stream, as the container says (0 when unknown or negative).</summary>
    public TimeSpan StartTime { get; }

    internal nint Ptr => context.DangerousGetHandle();

    /// <summary>Opens and probes <paramref name="path"/>; throws <see cref="TranscodeException"/> with a clear reason.</summary>
    /// <param name="probeStreams">
    /// false: no probing decode where the container describes its streams (MP4/MOV): the stream's pixel format stays
    /// unknown and the aspect may be; take both from decoded frames. For readers that open often (thumbnails).
    /// </param>
    public static MediaSource Open(string path, bool probeStreams = true)
    {
        FfmpegLibraries.EnsureCompatible();
        if (!File.Exists(path))
        {
            throw new TranscodeException($"input not found: {path}");
        }

        if (new FileInfo(path).Length == 0)
        {
            throw new TranscodeException($"input is empty (0 bytes): {path}");
        }

        var handle = FormatContextHandle.Open(path, probeStreams);
        try
        {
            return new MediaSource(path, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens files read back to back as one input (FFmpeg's concat protocol), e.g. a CMAF init.mp4 followed by one
    /// media segment: FFmpeg 5.1's HLS demuxer cannot seek in fMP4 playlists, so packaged renditions are read
    /// segment by segment this way.
    /// </summary>
    public static MediaSource OpenConcatenated(IReadOnlyList<string> files, bool probeStreams = true)
    {
        FfmpegLibraries.EnsureCompatible();
        if (files.Count == 0)
        {
            throw new TranscodeException("no files to concatenate");
        }

        foreach (var f in files)
        {
            if (!File.Exists(f))
            {
                throw new TranscodeException($"input not found: {f}");
            }

            if (f.Contains('|', StringComparison.Ordinal))
            {
                throw new TranscodeException($"'|' cannot appear in a concatenated input path: {f}");
            }
        }

        var url = "concat:" + string.Join('|', files);
        var handle = FormatContextHandle.Open(url, probeStreams);
        try
        {
            return new MediaSource(url, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The best video (or audio) stream by FFmpeg's ranking, or null. Attached pictures (cover art) are not video.</summary>
    public MediaStreamInfo? BestStream(MediaKind kind)
    {
        var index = SsAv.InputBestStream(Ptr, kind == MediaKind.Audio ? 1 : 0);
        if (index < 0)
        {
            return null;
        }

        var s = Streams[index];
        return s.IsAttachedPicture ? null : s;
    }

    /// <summary>The codec configuration of a stream (avcC for H.264 in MP4), valid while the source is open.</summary>
    public ReadOnlySpan<byte> Extradata(MediaStreamInfo stream)
    {
        var data = SsAv.InputStreamExtradata(Ptr, stream.Index, out var size);
        return data is null ? default : new ReadOnlySpan<byte>(data, size);
    }

    /// <summary>Reads the next packet; false at end of input.</summary>
    public bool ReadPacket(PacketHandle packet)
    {
        packet.Unref();
        var ret = SsAv.InputRead(Ptr, packet.Ptr);
        if (ret == FfmpegError.Eof)
        {
            return false;
        }

        FfmpegError.Check(ret, $"av_read_frame({System.IO.Path.GetFileName(Path)})");
        return true;
    }

    /// <summary>Seeks <paramref name="stream"/> to the keyframe at or before <paramref name="position"/>; flush decoders afterwards.</summary>
    public void SeekTo(MediaStreamInfo stream, TimeSpan position)
    {
        var tb = stream.TimeBase;
        var ts = (long)Math.Round(position.TotalSeconds * tb.Den / tb.Num);
        if (stream.StartTime != long.MinValue)
        {
            ts += stream.StartTime;
        }

        FfmpegError.Check(SsAv.InputSeek(Ptr, stream.Index, ts), $"avformat_seek_file({position.TotalSeconds:0.###}s)");
    }

    public void Dispose() => context.Dispose();
}
