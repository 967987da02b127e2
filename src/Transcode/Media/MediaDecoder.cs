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
    private readonly NativeAllocator* allocator;

    /// <param name="frameMemory">Where decoded video frames live; null = FFmpeg's own buffers (avcodec_default_get_buffer2).</param>
    public MediaDecoder(MediaSource source, MediaStreamInfo stream, IFrameMemory? frameMemory, int threads = 0)
    {
        Stream = stream;
        allocator = stream.Kind == MediaKind.Video ? FrameAllocator.For(frameMemory) : null;
        var ret = SsAv.DecoderOpen(source.Ptr, stream.Index, threads, allocator, out var ctx);
        FfmpegError.Check(ret, $"avcodec_open2({stream.CodecName} decoder, stream {stream.Index})");
        context = CodecContextHandle.FromNative(ctx);
    }

    private MediaDecoder(MediaStreamInfo stream, CodecContextHandle context, NativeAllocator* allocator)
    {
        Stream = stream;
        this.context = context;
        this.allocator = allocator;
    }

    /// <summary>
    /// An H.264 decoder for packets that arrive with their configuration instead of from a demuxer (a live publish):
    /// <paramref name="config"/> is the avcC record, packet times are milliseconds.
    /// </summary>
    public static MediaDecoder ForH264(ReadOnlySpan<byte> config, IFrameMemory? frameMemory, int threads = 0)
    {
        var allocator = FrameAllocator.For(frameMemory);
        nint ctx;
        fixed (byte* c = config)
        {
            FfmpegError.Check(SsAv.DecoderOpenH264(c, config.Length, 1, 1000, threads, allocator, out ctx), "avcodec_open2(h264 decoder, live)");
        }

        var stream = new MediaStreamInfo(0, MediaKind.Video, "h264", 0, 0, -1, "", 0, 0, new Rational(1, 1000), default, default, default, 0, 0, false);
        return new MediaDecoder(stream, CodecContextHandle.FromNative(ctx), allocator);
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
        if (Stream.Kind == MediaKind.Video && SsAv.FrameInAllocator(frame.Ptr, allocator) == 0)
        {
            // Used as is (never copied into the pool), but visible: the zero-copy path expects 0 here.
            TranscodeMetrics.FramesOutsidePool.Add(1);
        }

        return true;
    }

    /// <summary>
    /// Sends <paramref name="packet"/> (null drains) and hands every frame that comes out to <paramref name="onFrame"/>,
    /// unreferencing it after; when the decoder is full, its frames are taken out first and the packet sent again.
    /// </summary>
    public void Decode(PacketHandle? packet, FrameHandle frame, Action<FrameHandle> onFrame)
    {
        while (!Send(packet))
        {
            ReceiveAll(frame, onFrame);
        }

        ReceiveAll(frame, onFrame);
    }

    private void ReceiveAll(FrameHandle frame, Action<FrameHandle> onFrame)
    {
        while (Receive(frame))
        {
            try
            {
                onFrame(frame);
            }
            finally
            {
                frame.Unref();
            }
        }
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
