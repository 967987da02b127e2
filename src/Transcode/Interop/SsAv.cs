using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Interop;

/// <summary>
/// P/Invoke surface of libssav.so (src/Transcode/Native/ssav.c). FFmpeg objects stay opaque pointers;
/// the only structs crossing the boundary are the shim's own (ssav.h), mirrored below.
/// </summary>
internal static unsafe partial class SsAv
{
    public const string Library = "ssav";

    [LibraryImport(Library, EntryPoint = "ss_versions")]
    public static partial void Versions(uint* out6);

    [LibraryImport(Library, EntryPoint = "ss_strerror")]
    public static partial int StrError(int err, byte* buf, nuint size);

    [LibraryImport(Library, EntryPoint = "ss_capture_errors")]
    public static partial void CaptureErrors();

    [LibraryImport(Library, EntryPoint = "ss_take_last_error")]
    public static partial int TakeLastError(byte* buf, int size);

    [LibraryImport(Library, EntryPoint = "ss_error_eof")]
    public static partial int ErrorEof();

    [LibraryImport(Library, EntryPoint = "ss_error_eagain")]
    public static partial int ErrorEagain();

    [LibraryImport(Library, EntryPoint = "ss_pix_fmt_from_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int PixFmtFromName(string name);

    [LibraryImport(Library, EntryPoint = "ss_pix_fmt_name")]
    public static partial byte* PixFmtName(int fmt);

    [LibraryImport(Library, EntryPoint = "ss_pix_fmt_describe")]
    public static partial int PixFmtDescribe(int fmt, out PixFmtInfo info);

    // packets
    [LibraryImport(Library, EntryPoint = "ss_packet_alloc")]
    public static partial nint PacketAlloc();

    [LibraryImport(Library, EntryPoint = "ss_packet_move_ref")]
    public static partial void PacketMoveRef(nint dst, nint src);

    [LibraryImport(Library, EntryPoint = "ss_packet_free")]
    public static partial void PacketFree(nint p);

    [LibraryImport(Library, EntryPoint = "ss_packet_unref")]
    public static partial void PacketUnref(nint p);

    [LibraryImport(Library, EntryPoint = "ss_packet_stream_index")]
    public static partial int PacketStreamIndex(nint p);

    [LibraryImport(Library, EntryPoint = "ss_packet_is_key")]
    public static partial int PacketIsKey(nint p);

    [LibraryImport(Library, EntryPoint = "ss_packet_pts")]
    public static partial long PacketPts(nint p);

    [LibraryImport(Library, EntryPoint = "ss_packet_dts")]
    public static partial long PacketDts(nint p);

    [LibraryImport(Library, EntryPoint = "ss_packet_duration")]
    public static partial long PacketDuration(nint p);

    [LibraryImport(Library, EntryPoint = "ss_packet_size")]
    public static partial int PacketSize(nint p);

    [LibraryImport(Library, EntryPoint = "ss_packet_data")]
    public static partial byte* PacketData(nint p);

    // frames
    [LibraryImport(Library, EntryPoint = "ss_frame_alloc")]
    public static partial nint FrameAlloc();

    [LibraryImport(Library, EntryPoint = "ss_frame_free")]
    public static partial void FrameFree(nint f);

    [LibraryImport(Library, EntryPoint = "ss_frame_unref")]
    public static partial void FrameUnref(nint f);

    [LibraryImport(Library, EntryPoint = "ss_frame_ref")]
    public static partial int FrameRef(nint dst, nint src);

    [LibraryImport(Library, EntryPoint = "ss_frame_get_info")]
    public static partial void FrameGetInfo(nint f, out FrameInfo info);

    [LibraryImport(Library, EntryPoint = "ss_frame_set_pts")]
    public static partial void FrameSetPts(nint f, long pts);

    [LibraryImport(Library, EntryPoint = "ss_frame_set_forced_key")]
    public static partial void FrameSetForcedKey(nint f, int forceKey);

    [LibraryImport(Library, EntryPoint = "ss_frame_alloc_video")]
    public static partial int FrameAllocVideo(nint f, int w, int h, int fmt, NativeAllocator* alloc);

    [LibraryImport(Library, EntryPoint = "ss_frame_in_allocator")]
    public static partial int FrameInAllocator(nint f, NativeAllocator* alloc);

    [LibraryImport(Library, EntryPoint = "ss_frame_make_writable")]
    public static partial int FrameMakeWritable(nint f, NativeAllocator* alloc, out long copied);

    // demuxing
    [LibraryImport(Library, EntryPoint = "ss_input_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int InputOpen(string path, out nint fc);

    [LibraryImport(Library, EntryPoint = "ss_input_open_lazy", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int InputOpenLazy(string path, out nint fc);

    [LibraryImport(Library, EntryPoint = "ss_input_close")]
    public static partial void InputClose(nint fc);

    [LibraryImport(Library, EntryPoint = "ss_input_stream_count")]
    public static partial int InputStreamCount(nint fc);

    [LibraryImport(Library, EntryPoint = "ss_input_duration_us")]
    public static partial long InputDurationUs(nint fc);

    [LibraryImport(Library, EntryPoint = "ss_stream_describe")]
    public static partial nint StreamDescribe(int audio, byte* extradata, int size, int width, int height, int sampleRate, int channels, int tbNum, int tbDen);

    [LibraryImport(Library, EntryPoint = "ss_stream_describe_free")]
    public static partial void StreamDescribeFree(nint context);

    [LibraryImport(Library, EntryPoint = "ss_packet_set_duration")]
    public static partial void PacketSetDuration(nint pkt, long duration);

    [LibraryImport(Library, EntryPoint = "ss_packet_set")]
    public static partial int PacketSet(nint pkt, byte* data, int size, long pts, long dts, long duration, int key);

    [LibraryImport(Library, EntryPoint = "ss_input_duration_declared")]
    public static partial int InputDurationDeclared(nint fc);

    [LibraryImport(Library, EntryPoint = "ss_input_start_us")]
    public static partial long InputStartUs(nint fc);

    [LibraryImport(Library, EntryPoint = "ss_input_format_name")]
    public static partial byte* InputFormatName(nint fc);

    [LibraryImport(Library, EntryPoint = "ss_input_best_stream")]
    public static partial int InputBestStream(nint fc, int audio);

    [LibraryImport(Library, EntryPoint = "ss_input_stream_info")]
    public static partial int InputStreamInfo(nint fc, int index, out StreamInfoNative info);

    [LibraryImport(Library, EntryPoint = "ss_input_stream_extradata")]
    public static partial byte* InputStreamExtradata(nint fc, int index, out int size);

    [LibraryImport(Library, EntryPoint = "ss_input_read")]
    public static partial int InputRead(nint fc, nint pkt);

    [LibraryImport(Library, EntryPoint = "ss_input_seek")]
    public static partial int InputSeek(nint fc, int stream, long ts);

    // decoding
    [LibraryImport(Library, EntryPoint = "ss_decoder_open")]
    public static partial int DecoderOpen(nint fc, int stream, int threads, NativeAllocator* alloc, out nint ctx);

    [LibraryImport(Library, EntryPoint = "ss_decoder_open_h264")]
    public static partial int DecoderOpenH264(byte* extradata, int size, int tbNum, int tbDen, int threads, NativeAllocator* alloc, out nint ctx);

    [LibraryImport(Library, EntryPoint = "ss_codec_free")]
    public static partial void CodecFree(nint ctx);

    [LibraryImport(Library, EntryPoint = "ss_decoder_send")]
    public static partial int DecoderSend(nint ctx, nint pkt);

    [LibraryImport(Library, EntryPoint = "ss_decoder_receive")]
    public static partial int DecoderReceive(nint ctx, nint frame);

    [LibraryImport(Library, EntryPoint = "ss_decoder_flush")]
    public static partial void DecoderFlush(nint ctx);

    [LibraryImport(Library, EntryPoint = "ss_decoder_skip_nonref")]
    public static partial void DecoderSkipNonRef(nint ctx, int on);

    [LibraryImport(Library, EntryPoint = "ss_codec_name")]
    public static partial byte* CodecName(nint ctx);

    // scaling
    [LibraryImport(Library, EntryPoint = "ss_scaler_create")]
    public static partial nint ScalerCreate(int sw, int sh, int sfmt, int dw, int dh, int dfmt, int flags);

    [LibraryImport(Library, EntryPoint = "ss_scaler_flag")]
    public static partial int ScalerFlag(int which);

    [LibraryImport(Library, EntryPoint = "ss_scaler_free")]
    public static partial void ScalerFree(nint s);

    [LibraryImport(Library, EntryPoint = "ss_scaler_scale")]
    public static partial int ScalerScale(nint s, nint src, nint dst);

    [LibraryImport(Library, EntryPoint = "ss_scaler_scale_into")]
    public static partial int ScalerScaleInto(nint s, nint src, byte* dstY, int strideY, byte* dstU, int strideU, byte* dstV, int strideV);

    [LibraryImport(Library, EntryPoint = "ss_scaler_create_ranged")]
    public static partial nint ScalerCreateRanged(int sw, int sh, int sfmt, int dw, int dh, int dfmt, int flags, int srcFull, int dstFull);

    [LibraryImport(Library, EntryPoint = "ss_frame_sar")]
    public static partial void FrameSar(nint f, out int num, out int den);

    [LibraryImport(Library, EntryPoint = "ss_frame_full_range")]
    public static partial int FrameFullRange(nint f);

    // encoding
    [LibraryImport(Library, EntryPoint = "ss_video_encoder_open")]
    public static partial int VideoEncoderOpen(VideoEncoderParams* p, out nint ctx);

    [LibraryImport(Library, EntryPoint = "ss_audio_encoder_open")]
    public static partial int AudioEncoderOpen(int sampleRate, int channels, long bitrate, out nint ctx);

    [LibraryImport(Library, EntryPoint = "ss_encoder_send")]
    public static partial int EncoderSend(nint ctx, nint frame);

    [LibraryImport(Library, EntryPoint = "ss_encoder_receive")]
    public static partial int EncoderReceive(nint ctx, nint pkt);

    [LibraryImport(Library, EntryPoint = "ss_encoder_frame_size")]
    public static partial int EncoderFrameSize(nint ctx);

    [LibraryImport(Library, EntryPoint = "ss_codec_extradata")]
    public static partial int CodecExtradata(nint ctx, out byte* data, out int size);

    // audio conversion
    [LibraryImport(Library, EntryPoint = "ss_audio_conv_create")]
    public static partial int AudioConvCreate(int outRate, int outChannels, int frameSize, out nint conv);

    [LibraryImport(Library, EntryPoint = "ss_audio_conv_free")]
    public static partial void AudioConvFree(nint conv);

    [LibraryImport(Library, EntryPoint = "ss_audio_conv_push")]
    public static partial int AudioConvPush(nint conv, nint frame, long atMicroseconds);

    [LibraryImport(Library, EntryPoint = "ss_audio_conv_pop")]
    public static partial int AudioConvPop(nint conv, nint frame, int flush);

    // muxing
    [LibraryImport(Library, EntryPoint = "ss_muxer_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MuxerOpen(nint enc, string movflags, delegate* unmanaged<void*, byte*, int, int> write, void* opaque, out nint muxer);

    [LibraryImport(Library, EntryPoint = "ss_muxer_free")]
    public static partial void MuxerFree(nint m);

    [LibraryImport(Library, EntryPoint = "ss_muxer_timebase")]
    public static partial void MuxerTimebase(nint m, out int num, out int den);

    [LibraryImport(Library, EntryPoint = "ss_muxer_write")]
    public static partial int MuxerWrite(nint m, nint pkt);

    [LibraryImport(Library, EntryPoint = "ss_muxer_flush")]
    public static partial int MuxerFlush(nint m);

    [LibraryImport(Library, EntryPoint = "ss_muxer_finish")]
    public static partial int MuxerFinish(nint m);

    public static string? Utf8(byte* p) => p is null ? null : Marshal.PtrToStringUTF8((nint)p);

    // generated sources (libavfilter)
    [LibraryImport(Library, EntryPoint = "ss_generator_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int GeneratorOpen(string description, out nint generator);

    [LibraryImport(Library, EntryPoint = "ss_generator_close")]
    public static partial void GeneratorClose(nint generator);

    [LibraryImport(Library, EntryPoint = "ss_generator_pull")]
    public static partial int GeneratorPull(nint generator, int kind, nint frame, out int timeBaseNum, out int timeBaseDen);

    [LibraryImport(Library, EntryPoint = "ss_generator_has_audio")]
    public static partial int GeneratorHasAudio(nint generator);
}
