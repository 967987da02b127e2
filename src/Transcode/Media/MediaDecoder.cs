using StreamServer.Transcode.Interop;

namespace StreamServer.Transcode.Media;

/// <summary>
/// A decoder for one stream of a <see cref="MediaSource"/>. Video frames are allocated through
/// <see cref="IFrameMemory"/> (get_buffer2), so they can be shared by reference downstream.
/// Usage: <see cref="Send"/> a packet (null at end), then <see cref="Receive"/> until it returns false.
/// </summary>
public sealed unsafe class MediaDecoder : IDisposable
{
    private readonly CodecContextHandle context;

    public MediaDecoder(MediaSource source, MediaStreamInfo stream, IFrameMemory? frameMemory = null, int threads = 0)
    {
        Stream = stream;
        var alloc = stream.Kind == MediaKind.Video ? FrameAllocator.For(frameMemory ?? AlignedFrameMemory.Shared) : null;
        var ret = SsAv.DecoderOpen(source.Ptr, stream.Index, threads, alloc, out var ctx);
        FfmpegError.Check(ret, $"avcodec_open2({stream.CodecName} decoder, stream {stream.Index})");
        context = CodecContextHandle.FromNative(ctx);
    }

    public MediaStreamInfo Stream { get; }

    internal nint Ptr => context.DangerousGetHandle();

    /// <summary>Feeds a packet (null drains). Returns false when the decoder is full: receive frames first.</summary>
    public bool Send(PacketHandle? packet)
    {
        var ret = SsAv.DecoderSend(Ptr, packet?.Ptr ?? 0);
        if (ret == FfmpegError.Again)
        {
            return false;
        }

        if (ret == FfmpegError.Eof)
        {
            return true;
        }

        FfmpegError.Check(ret, $"avcodec_send_packet({Stream.CodecName})");
        return true;
    }

    /// <summary>Next decoded frame into <paramref name="frame"/>; false when more input is needed or the decoder is drained.</summary>
    public bool Receive(FrameHandle frame)
    {
        var ret = SsAv.DecoderReceive(Ptr, frame.Ptr);
        if (ret == FfmpegError.Again || ret == FfmpegError.Eof)
        {
            return false;
        }

        FfmpegError.Check(ret, $"avcodec_receive_frame({Stream.CodecName})");
        return true;
    }

    /// <summary>Drops buffered frames (after a seek).</summary>
    public void Flush() => SsAv.DecoderFlush(Ptr);

    /// <summary>
    /// Skip decoding non-reference frames (AVDISCARD_NONREF) for the packets sent while on: for seeking forward to
    /// a frame, where frames before the target that nothing references are never shown.
    /// </summary>
    public void SkipNonReferenceFrames(bool skip) => SsAv.DecoderSkipNonRef(Ptr, skip ? 1 : 0);

    public void Dispose() => context.Dispose();
}
