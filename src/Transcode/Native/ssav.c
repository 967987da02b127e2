/* ssav: thin C shim over FFmpeg 5.1 (libavformat 59, libavcodec 59, libavutil 57, libswscale 6,
 * libswresample 4). Functions return FFmpeg error codes (< 0) and never print; managed code turns
 * them into TranscodeException with av_strerror text and the operation name. */
#include "ssav.h"

#include <errno.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#define SS_API __attribute__((visibility("default")))
#define SS_ALIGN 64

/* ---------- library ---------- */

SS_API void ss_versions(uint32_t out[6])
{
    out[5] = avfilter_version();
    out[0] = avformat_version();
    out[1] = avcodec_version();
    out[2] = avutil_version();
    out[3] = swscale_version();
    out[4] = swresample_version();
}

SS_API int ss_strerror(int err, char *buf, size_t size) { return av_strerror(err, buf, size); }
/* FFmpeg says why in its log, not in its return codes ("Picture size 60000x60000 is invalid" behind an EBUSY): keep the
 * last error-level line of each thread, unprinted, for the managed side to put into its exception. */
static _Thread_local char ss_last_error[256];

static void ss_log_callback(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_ERROR)
        return;
    char line[sizeof ss_last_error];
    int print_prefix = 0;
    if (av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix) < 0)
        return;
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
        line[--n] = 0;
    if (n > 0)
        memcpy(ss_last_error, line, n + 1);
}

/* Route FFmpeg's error-level log lines into the per-thread slot (nothing printed). */
SS_API void ss_capture_errors(void)
{
    av_log_set_level(AV_LOG_ERROR);
    av_log_set_callback(ss_log_callback);
}

/* Takes (and clears) the calling thread's last error line; returns its length. */
SS_API int ss_take_last_error(char *buf, int size)
{
    int n = (int)strnlen(ss_last_error, sizeof ss_last_error);
    if (size <= 0)
        return 0;
    if (n >= size)
        n = size - 1;
    memcpy(buf, ss_last_error, (size_t)n);
    buf[n] = 0;
    ss_last_error[0] = 0;
    return n;
}
SS_API int ss_error_eof(void) { return AVERROR_EOF; }
SS_API int ss_error_eagain(void) { return AVERROR(EAGAIN); }
SS_API int ss_pix_fmt_from_name(const char *name) { return av_get_pix_fmt(name); }

SS_API const char *ss_pix_fmt_name(int fmt)
{
    const char *n = av_get_pix_fmt_name((enum AVPixelFormat)fmt);
    return n ? n : "none";
}

SS_API int ss_pix_fmt_describe(int fmt, ss_pix_fmt_info *info)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)fmt);
    if (!d) return AVERROR(EINVAL);
    info->depth = d->comp[0].depth;
    info->log2_chroma_w = d->log2_chroma_w;
    info->log2_chroma_h = d->log2_chroma_h;
    info->nb_components = d->nb_components;
    info->is_rgb = (d->flags & AV_PIX_FMT_FLAG_RGB) != 0;
    info->has_palette = (d->flags & AV_PIX_FMT_FLAG_PAL) != 0;
    info->is_hwaccel = (d->flags & AV_PIX_FMT_FLAG_HWACCEL) != 0;
    info->has_alpha = (d->flags & AV_PIX_FMT_FLAG_ALPHA) != 0;
    return 0;
}

/* ---------- packets ---------- */

SS_API AVPacket *ss_packet_alloc(void) { return av_packet_alloc(); }
SS_API void ss_packet_free(AVPacket *p) { av_packet_free(&p); }
SS_API void ss_packet_unref(AVPacket *p) { av_packet_unref(p); }
/* dst takes src's payload and fields (no copy); src is left blank. */
SS_API void ss_packet_move_ref(AVPacket *dst, AVPacket *src)
{
    av_packet_unref(dst);
    av_packet_move_ref(dst, src);
}
SS_API int ss_packet_stream_index(const AVPacket *p) { return p->stream_index; }
SS_API int ss_packet_is_key(const AVPacket *p) { return (p->flags & AV_PKT_FLAG_KEY) != 0; }
SS_API int64_t ss_packet_pts(const AVPacket *p) { return p->pts; }
SS_API int64_t ss_packet_dts(const AVPacket *p) { return p->dts; }
SS_API int64_t ss_packet_duration(const AVPacket *p) { return p->duration; }
SS_API int ss_packet_size(const AVPacket *p) { return p->size; }
SS_API const uint8_t *ss_packet_data(const AVPacket *p) { return p->data; }

/* ---------- frames ---------- */

SS_API AVFrame *ss_frame_alloc(void) { return av_frame_alloc(); }
SS_API void ss_frame_free(AVFrame *f) { av_frame_free(&f); }
SS_API void ss_frame_unref(AVFrame *f) { av_frame_unref(f); }
/* Adds a reference to src's buffers: no pixel is copied. */
SS_API int ss_frame_ref(AVFrame *dst, const AVFrame *src) { return av_frame_ref(dst, src); }

SS_API void ss_frame_get_info(const AVFrame *f, ss_frame_info *i)
{
    i->width = f->width;
    i->height = f->height;
    i->format = f->format;
    i->key_frame = f->key_frame;
    i->pict_type = f->pict_type;
    i->nb_samples = f->nb_samples;
    i->sample_rate = f->sample_rate;
    i->channels = f->ch_layout.nb_channels;
    i->pts = f->pts;
    i->best_effort_timestamp = f->best_effort_timestamp;
    i->duration = f->pkt_duration;
    for (int k = 0; k < 4; k++) {
        i->data[k] = f->data[k];
        i->linesize[k] = f->linesize[k];
    }
}

SS_API void ss_frame_set_pts(AVFrame *f, int64_t pts) { f->pts = pts; }

/* force_key != 0 asks the encoder for a keyframe (IDR with forced-idr); 0 clears whatever picture
 * type the decoder left, so source keyframes never leak into our GOP structure. */
SS_API void ss_frame_set_forced_key(AVFrame *f, int force_key)
{
    f->pict_type = force_key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
}

static void ss_release_buffer(void *opaque, uint8_t *data)
{
    ss_allocator *a = opaque;
    a->release(a->user, data);
}

/* One buffer per frame from the managed allocator; planes laid out like avcodec_default_get_buffer2. */
static int ss_fill_frame(AVFrame *f, int w, int h, int aligned_w, int aligned_h, ss_allocator *a)
{
    int linesizes[4];
    ptrdiff_t lines[4];
    size_t sizes[4];
    int ret = av_image_fill_linesizes(linesizes, f->format, aligned_w);
    if (ret < 0) return ret;
    for (int k = 0; k < 4; k++) {
        linesizes[k] = FFALIGN(linesizes[k], SS_ALIGN);
        lines[k] = linesizes[k];
    }
    ret = av_image_fill_plane_sizes(sizes, f->format, aligned_h, lines);
    if (ret < 0) return ret;
    size_t total = 16 + SS_ALIGN - 1;
    for (int k = 0; k < 4; k++) total += sizes[k];
    uint8_t *mem = a->rent(a->user, total, SS_ALIGN);
    if (!mem) return AVERROR(ENOMEM);
    f->buf[0] = av_buffer_create(mem, total, ss_release_buffer, a, 0);
    if (!f->buf[0]) {
        a->release(a->user, mem);
        return AVERROR(ENOMEM);
    }
    uint8_t *p = mem;
    for (int k = 0; k < 4; k++) {
        f->linesize[k] = linesizes[k];
        f->data[k] = sizes[k] ? p : NULL;
        p += sizes[k];
    }
    f->extended_data = f->data;
    f->width = w;
    f->height = h;
    return 0;
}

static int ss_get_buffer2(AVCodecContext *c, AVFrame *f, int flags)
{
    ss_allocator *a = c->opaque;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    if (!a || c->codec_type != AVMEDIA_TYPE_VIDEO || !d ||
        (d->flags & (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM)))
        return avcodec_default_get_buffer2(c, f, flags);
    int w = f->width, h = f->height;
    int linesize_align[AV_NUM_DATA_POINTERS];
    avcodec_align_dimensions2(c, &w, &h, linesize_align);
    int ret = ss_fill_frame(f, f->width, f->height, w, h, a);
    return ret;
}

/* Allocates a writable video frame of w x h in fmt from the managed allocator (scaler output). */
SS_API int ss_frame_alloc_video(AVFrame *f, int w, int h, int fmt, ss_allocator *a)
{
    av_frame_unref(f);
    f->format = fmt;
    if (!a) { f->width = w; f->height = h; return av_frame_get_buffer(f, 0); } /* FFmpeg's allocator (benchmark baseline) */
    return ss_fill_frame(f, w, h, FFALIGN(w, 32), FFALIGN(h, 32), a);
}

/* 1 when f's first plane lies in a block rented from allocator a: ss_fill_frame wraps each block in an
 * AVBuffer whose opaque is a, so this is exact and costs two compares. 0 for frames FFmpeg allocated
 * itself: decoders without AV_CODEC_CAP_DR1 (get_buffer2 never installed), palette/hwaccel/bitstream
 * formats that ss_get_buffer2 hands to avcodec_default_get_buffer2, decoders that reference the packet
 * (rawvideo), or any frame when a is NULL (FFmpeg's allocator chosen on purpose). */
SS_API int ss_frame_in_allocator(const AVFrame *f, const ss_allocator *a)
{
    const AVBufferRef *b = f->buf[0];
    if (!a || !b || !f->data[0] || av_buffer_get_opaque(b) != (void *)a) return 0;
    return f->data[0] >= b->data && f->data[0] < b->data + b->size;
}

/* Makes f's pixels exclusively ours before anyone writes into them (av_frame_make_writable, but the new
 * buffer comes from allocator a, FFmpeg's when NULL). A writable frame is left alone; a shared one (another
 * reference holds its buffer) gets a fresh buffer and its pixels copied. This is the only place the shim
 * copies video pixels, so it reports the bytes through *copied for streamserver_transcode_frame_copy_bytes_total. */
SS_API int ss_frame_make_writable(AVFrame *f, ss_allocator *a, int64_t *copied)
{
    *copied = 0;
    if (!f->buf[0] || f->width <= 0 || f->height <= 0) return AVERROR(EINVAL);
    if (av_frame_is_writable(f)) return 0;
    AVFrame *tmp = av_frame_alloc();
    if (!tmp) return AVERROR(ENOMEM);
    int ret = ss_frame_alloc_video(tmp, f->width, f->height, f->format, a);
    if (ret >= 0) ret = av_frame_copy(tmp, f);
    if (ret >= 0) ret = av_frame_copy_props(tmp, f);
    if (ret < 0) {
        av_frame_free(&tmp);
        return ret;
    }
    /* av_frame_copy copies each plane's visible bytes (av_image_copy): what a 1-aligned image of the same
     * size holds, palette included. */
    int bytes = av_image_get_buffer_size(f->format, f->width, f->height, 1);
    av_frame_unref(f);
    av_frame_move_ref(f, tmp);
    av_frame_free(&tmp);
    *copied = bytes > 0 ? bytes : 0;
    return 0;
}

/* ---------- demuxing ---------- */

SS_API int ss_input_open(const char *path, AVFormatContext **out)
{
    AVFormatContext *fc = NULL;
    int ret = avformat_open_input(&fc, path, NULL, NULL);
    if (ret < 0) return ret;
    ret = avformat_find_stream_info(fc, NULL);
    if (ret < 0) {
        avformat_close_input(&fc);
        return ret;
    }
    *out = fc;
    return 0;
}

/* Like ss_input_open, but skips avformat_find_stream_info when the container itself describes every stream: the
 * MP4/MOV family (sample descriptions carry codec, size, time base, extradata). Probing decodes frames to learn what
 * the decoder will say anyway (pixel format, aspect from the SPS): 65-135 ms of 1080p H.264 per open, more than a
 * third of an on-demand thumbnail's decode. What it leaves unknown: the stream's pixel format (-1) and an aspect
 * that is only in the bitstream; readers take both from the decoded frame (ss_frame_sar). */
SS_API int ss_input_open_lazy(const char *path, AVFormatContext **out)
{
    AVFormatContext *fc = NULL;
    int ret = avformat_open_input(&fc, path, NULL, NULL);
    if (ret < 0) return ret;
    int described = fc->iformat && strncmp(fc->iformat->name, "mov,", 4) == 0 && fc->nb_streams > 0;
    for (unsigned i = 0; described && i < fc->nb_streams; i++) {
        const AVCodecParameters *p = fc->streams[i]->codecpar;
        if (p->codec_type == AVMEDIA_TYPE_VIDEO && (p->codec_id == AV_CODEC_ID_NONE || p->width <= 0 || p->height <= 0))
            described = 0;
    }
    if (!described && (ret = avformat_find_stream_info(fc, NULL)) < 0) {
        avformat_close_input(&fc);
        return ret;
    }
    *out = fc;
    return 0;
}

SS_API void ss_input_close(AVFormatContext *fc) { avformat_close_input(&fc); }
SS_API int ss_input_stream_count(const AVFormatContext *fc) { return (int)fc->nb_streams; }
SS_API int64_t ss_input_duration_us(const AVFormatContext *fc) { return fc->duration; }
SS_API int64_t ss_input_start_us(const AVFormatContext *fc) { return fc->start_time; }
/* 1 when the container declares its duration (index, headers, timestamps), 0 when FFmpeg guessed it from the bitrate. */
SS_API int ss_input_duration_declared(const AVFormatContext *fc) { return fc->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE; }
SS_API const char *ss_input_format_name(const AVFormatContext *fc) { return fc->iformat ? fc->iformat->name : ""; }

SS_API int ss_input_best_stream(AVFormatContext *fc, int audio)
{
    return av_find_best_stream(fc, audio ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
}

SS_API int ss_input_stream_info(const AVFormatContext *fc, int index, ss_stream_info *i)
{
    if (index < 0 || (unsigned)index >= fc->nb_streams) return AVERROR(EINVAL);
    const AVStream *st = fc->streams[index];
    const AVCodecParameters *p = st->codecpar;
    memset(i, 0, sizeof(*i));
    i->index = index;
    i->codec_type = p->codec_type == AVMEDIA_TYPE_VIDEO ? 0 : p->codec_type == AVMEDIA_TYPE_AUDIO ? 1 : 2;
    i->codec_id = p->codec_id;
    i->width = p->width;
    i->height = p->height;
    i->format = p->format;
    i->sample_rate = p->sample_rate;
    i->channels = p->ch_layout.nb_channels;
    i->tb_num = st->time_base.num;
    i->tb_den = st->time_base.den;
    i->avg_fr_num = st->avg_frame_rate.num;
    i->avg_fr_den = st->avg_frame_rate.den;
    i->r_fr_num = st->r_frame_rate.num;
    i->r_fr_den = st->r_frame_rate.den;
    i->sar_num = p->sample_aspect_ratio.num;
    i->sar_den = p->sample_aspect_ratio.den;
    i->bits_per_raw_sample = p->bits_per_raw_sample;
    i->attached_pic = (st->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0;
    i->duration = st->duration == AV_NOPTS_VALUE ? INT64_MIN : st->duration;
    i->start_time = st->start_time == AV_NOPTS_VALUE ? INT64_MIN : st->start_time;
    i->nb_frames = st->nb_frames;
    const char *name = avcodec_get_name(p->codec_id);
    strncpy(i->codec_name, name ? name : "", sizeof(i->codec_name) - 1);
    return 0;
}

SS_API int ss_input_read(AVFormatContext *fc, AVPacket *pkt) { return av_read_frame(fc, pkt); }
/* The stream's codec configuration (avcC for H.264 in MP4: tells how NAL units are framed in packets). */
SS_API const uint8_t *ss_input_stream_extradata(const AVFormatContext *fc, int index, int *size)
{
    *size = 0;
    if (index < 0 || (unsigned)index >= fc->nb_streams) return NULL;
    const AVCodecParameters *p = fc->streams[index]->codecpar;
    *size = p->extradata_size;
    return p->extradata;
}

/* Seeks to the keyframe at or before ts (stream time base). */
SS_API int ss_input_seek(AVFormatContext *fc, int stream, int64_t ts)
{
    return avformat_seek_file(fc, stream, INT64_MIN, ts, ts, AVSEEK_FLAG_BACKWARD);
}

/* ---------- decoding ---------- */

/* Opens c (codec parameters already set) with frames from alloc, and owns c: freed on failure. */
static int ss_decoder_open_context(AVCodecContext *c, const AVCodec *codec, int threads, ss_allocator *alloc, AVCodecContext **out)
{
    int ret;
    c->thread_count = threads;
    if (alloc && codec->type == AVMEDIA_TYPE_VIDEO && (codec->capabilities & AV_CODEC_CAP_DR1)) {
        c->opaque = alloc;
        c->get_buffer2 = ss_get_buffer2;
#if LIBAVCODEC_VERSION_MAJOR < 60
        /* IFrameMemory is thread safe (its contract), so frame threads may call ss_get_buffer2 themselves. Without
         * this flag libavcodec 59 routes every buffer request of a frame thread through the thread that sends
         * packets, and the frame threads wait for it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        c->thread_safe_callbacks = 1;
#pragma GCC diagnostic pop
#endif
    }
    ret = avcodec_open2(c, codec, NULL);
    if (ret < 0) {
        avcodec_free_context(&c);
        return ret;
    }
    *out = c;
    return 0;
}

SS_API int ss_decoder_open(AVFormatContext *fc, int stream, int threads, ss_allocator *alloc, AVCodecContext **out)
{
    if (stream < 0 || (unsigned)stream >= fc->nb_streams) return AVERROR(EINVAL);
    AVStream *st = fc->streams[stream];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec) return AVERROR_DECODER_NOT_FOUND;
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c) return AVERROR(ENOMEM);
    int ret = avcodec_parameters_to_context(c, st->codecpar);
    if (ret < 0) {
        avcodec_free_context(&c);
        return ret;
    }
    c->pkt_timebase = st->time_base;
    return ss_decoder_open_context(c, codec, threads, alloc, out);
}

/* An H.264 decoder for a stream that arrives as packets with its configuration (avcC from RTMP), not from a demuxer;
 * packet times in tb_num/tb_den. */
SS_API int ss_decoder_open_h264(const uint8_t *extradata, int size, int tb_num, int tb_den, int threads, ss_allocator *alloc,
                                AVCodecContext **out)
{
    if (size <= 0 || size > (1 << 20)) return AVERROR(EINVAL);
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    if (!codec) return AVERROR_DECODER_NOT_FOUND;
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c) return AVERROR(ENOMEM);
    c->extradata = av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!c->extradata) {
        avcodec_free_context(&c);
        return AVERROR(ENOMEM);
    }
    memcpy(c->extradata, extradata, size);
    c->extradata_size = size;
    c->pkt_timebase = (AVRational){tb_num, tb_den};
    return ss_decoder_open_context(c, codec, threads, alloc, out);
}

SS_API void ss_codec_free(AVCodecContext *c) { avcodec_free_context(&c); }
SS_API int ss_decoder_send(AVCodecContext *c, const AVPacket *pkt) { return avcodec_send_packet(c, pkt); }
SS_API int ss_decoder_receive(AVCodecContext *c, AVFrame *f) { return avcodec_receive_frame(c, f); }
SS_API void ss_decoder_flush(AVCodecContext *c) { avcodec_flush_buffers(c); }
/* Seeking forward to a frame: frames nothing refers to and that show before the target need no decoding.
 * Frame threads pick skip_frame up from the user context per packet. */
SS_API void ss_decoder_skip_nonref(AVCodecContext *c, int on) { c->skip_frame = on ? AVDISCARD_NONREF : AVDISCARD_DEFAULT; }
SS_API const char *ss_codec_name(const AVCodecContext *c) { return c->codec ? c->codec->name : ""; }

/* ---------- scaling ---------- */

SS_API SwsContext *ss_scaler_create(int sw, int sh, int sfmt, int dw, int dh, int dfmt, int flags)
{
    return sws_getContext(sw, sh, sfmt, dw, dh, dfmt, flags, NULL, NULL, NULL);
}

SS_API int ss_scaler_flag(int which)
{
    return which == 0 ? SWS_BILINEAR : which == 1 ? SWS_BICUBIC : which == 3 ? SWS_LANCZOS : SWS_FAST_BILINEAR;
}
SS_API void ss_scaler_free(SwsContext *s) { sws_freeContext(s); }

SS_API int ss_scaler_scale(SwsContext *s, const AVFrame *src, AVFrame *dst)
{
    int ret = sws_scale(s, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst->data, dst->linesize);
    if (ret < 0) return ret;
    dst->pts = src->pts;
    dst->pict_type = src->pict_type;
    dst->sample_aspect_ratio = (AVRational){1, 1};
    return 0;
}

/* Scales src into planes the caller owns (e.g. one tile inside a sprite sheet: plane pointers at the tile's
 * corner, the sheet's linesizes as strides), so the picture lands where it is used instead of in a frame that
 * would then be copied. The caller guarantees dw x dh (the context's output size) fits at those pointers. */
SS_API int ss_scaler_scale_into(SwsContext *s, const AVFrame *src, uint8_t *dst_y, int stride_y, uint8_t *dst_u,
                                int stride_u, uint8_t *dst_v, int stride_v)
{
    uint8_t *const dst[4] = {dst_y, dst_u, dst_v, NULL};
    const int strides[4] = {stride_y, stride_u, stride_v, 0};
    int ret = sws_scale(s, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst, strides);
    return ret < 0 ? ret : 0;
}

/* Like ss_scaler_create, with the sample range of input and output (1 full/JPEG, 0 limited/video) set
 * before initialisation: sws_setColorspaceDetails after sws_getContext leaves the unscaled (same size)
 * fast path a plain copy, so limited-range video would land in a JPEG unexpanded. */
SS_API SwsContext *ss_scaler_create_ranged(int sw, int sh, int sfmt, int dw, int dh, int dfmt, int flags,
                                           int src_full, int dst_full)
{
    SwsContext *s = sws_alloc_context();
    if (!s) return NULL;
    if (av_opt_set_int(s, "srcw", sw, 0) < 0 || av_opt_set_int(s, "srch", sh, 0) < 0 ||
        av_opt_set_int(s, "src_format", sfmt, 0) < 0 || av_opt_set_int(s, "dstw", dw, 0) < 0 ||
        av_opt_set_int(s, "dsth", dh, 0) < 0 || av_opt_set_int(s, "dst_format", dfmt, 0) < 0 ||
        av_opt_set_int(s, "sws_flags", flags, 0) < 0 || av_opt_set_int(s, "src_range", src_full ? 1 : 0, 0) < 0 ||
        av_opt_set_int(s, "dst_range", dst_full ? 1 : 0, 0) < 0 || sws_init_context(s, NULL, NULL) < 0) {
        sws_freeContext(s);
        return NULL;
    }
    return s;
}

/* 1 when the frame's samples are full range (color_range JPEG, or a deprecated yuvj* format). */
/* Pixel aspect of a decoded frame (num 0 when unknown): from the bitstream, so right even when the container does
 * not say and nothing probed the stream. */
SS_API void ss_frame_sar(const AVFrame *f, int32_t *num, int32_t *den)
{
    *num = f->sample_aspect_ratio.num;
    *den = f->sample_aspect_ratio.den;
}

SS_API int ss_frame_full_range(const AVFrame *f)
{
    if (f->color_range == AVCOL_RANGE_JPEG) return 1;
    return f->format == AV_PIX_FMT_YUVJ420P || f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
}

/* ---------- encoding ---------- */

SS_API int ss_video_encoder_open(const ss_video_encoder_params *p, AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) return AVERROR_ENCODER_NOT_FOUND;
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c) return AVERROR(ENOMEM);
    c->width = p->width;
    c->height = p->height;
    c->pix_fmt = p->pix_fmt;
    c->time_base = (AVRational){p->tb_num, p->tb_den};
    c->framerate = (AVRational){p->fr_num, p->fr_den};
    c->sample_aspect_ratio = (AVRational){p->sar_num, p->sar_den};
    c->gop_size = p->gop;
    c->keyint_min = p->gop;
    c->bit_rate = p->bitrate;
    c->rc_max_rate = p->maxrate;
    c->rc_buffer_size = (int)p->bufsize;
    c->thread_count = p->threads;
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER | AV_CODEC_FLAG_CLOSED_GOP;
    int ret = 0;
    if (p->preset && (ret = av_opt_set(c->priv_data, "preset", p->preset, 0)) < 0) goto fail;
    if (p->profile && (ret = av_opt_set(c->priv_data, "profile", p->profile, 0)) < 0) goto fail;
    if ((ret = av_opt_set_int(c->priv_data, "forced-idr", 1, 0)) < 0) goto fail;
    if (p->x264_params && (ret = av_opt_set(c->priv_data, "x264-params", p->x264_params, 0)) < 0) goto fail;
    ret = avcodec_open2(c, codec, NULL);
    if (ret < 0) goto fail;
    *out = c;
    return 0;
fail:
    avcodec_free_context(&c);
    return ret;
}

SS_API int ss_audio_encoder_open(int sample_rate, int channels, int64_t bitrate, AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec) return AVERROR_ENCODER_NOT_FOUND;
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c) return AVERROR(ENOMEM);
    c->sample_rate = sample_rate;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&c->ch_layout, channels);
    c->bit_rate = bitrate;
    c->time_base = (AVRational){1, sample_rate};
    c->profile = FF_PROFILE_AAC_LOW;
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int ret = avcodec_open2(c, codec, NULL);
    if (ret < 0) {
        avcodec_free_context(&c);
        return ret;
    }
    *out = c;
    return 0;
}

SS_API int ss_encoder_send(AVCodecContext *c, const AVFrame *f) { return avcodec_send_frame(c, f); }
SS_API int ss_encoder_receive(AVCodecContext *c, AVPacket *p) { return avcodec_receive_packet(c, p); }
SS_API int ss_encoder_frame_size(const AVCodecContext *c) { return c->frame_size; }

SS_API int ss_codec_extradata(const AVCodecContext *c, const uint8_t **data, int *size)
{
    *data = c->extradata;
    *size = c->extradata_size;
    return 0;
}

/* ---------- audio conversion (swresample + FIFO of encoder-sized frames) ---------- */

struct ss_audio_conv {
    SwrContext *swr;
    AVAudioFifo *fifo;
    int out_rate, out_channels, frame_size;
    int in_rate;
    int64_t next_pts; /* in samples at out_rate */
    uint8_t **tmp;
    int tmp_samples;
};

SS_API int ss_audio_conv_create(int out_rate, int out_channels, int frame_size, ss_audio_conv **out)
{
    ss_audio_conv *a = av_mallocz(sizeof(*a));
    if (!a) return AVERROR(ENOMEM);
    a->out_rate = out_rate;
    a->out_channels = out_channels;
    a->frame_size = frame_size;
    a->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, out_channels, frame_size * 4);
    if (!a->fifo) {
        av_free(a);
        return AVERROR(ENOMEM);
    }
    *out = a;
    return 0;
}

SS_API void ss_audio_conv_free(ss_audio_conv *a)
{
    if (!a) return;
    swr_free(&a->swr);
    av_audio_fifo_free(a->fifo);
    if (a->tmp) av_freep(&a->tmp[0]);
    av_freep(&a->tmp);
    av_free(a);
}

static int ss_audio_conv_grow(ss_audio_conv *a, int samples)
{
    if (samples <= a->tmp_samples) return 0;
    if (a->tmp) av_freep(&a->tmp[0]);
    av_freep(&a->tmp);
    int ret = av_samples_alloc_array_and_samples(&a->tmp, NULL, a->out_channels, samples, AV_SAMPLE_FMT_FLTP, 0);
    if (ret < 0) return ret;
    a->tmp_samples = samples;
    return 0;
}

/* Pushes a decoded frame (or NULL to drain the resampler) into the FIFO. at_us: where the frame starts on the
 * output timeline (microseconds from its zero, the first video frame), or INT64_MIN when unknown. With times,
 * swresample pads silence or drops samples at the start (first_pts = 0) and across gaps over 0.1 s
 * (min_hard_comp), as `aresample=first_pts=0` does, so audio stays where the source put it next to the video;
 * output pts count samples from there. */
SS_API int ss_audio_conv_push(ss_audio_conv *a, const AVFrame *in, int64_t at_us)
{
    int ret;
    if (!a->swr) {
        if (!in) return 0;
        AVChannelLayout out_layout;
        av_channel_layout_default(&out_layout, a->out_channels);
        AVChannelLayout in_layout;
        if (in->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
            av_channel_layout_default(&in_layout, in->ch_layout.nb_channels);
        else if ((ret = av_channel_layout_copy(&in_layout, &in->ch_layout)) < 0)
            return ret;
        ret = swr_alloc_set_opts2(&a->swr, &out_layout, AV_SAMPLE_FMT_FLTP, a->out_rate, &in_layout,
                                  in->format, in->sample_rate, 0, NULL);
        av_channel_layout_uninit(&in_layout);
        if (ret < 0) return ret;
        if (at_us != INT64_MIN && (ret = av_opt_set_int(a->swr, "first_pts", 0, 0)) < 0) return ret;
        if ((ret = swr_init(a->swr)) < 0) return ret;
        a->in_rate = in->sample_rate;
    }
    if (in && at_us != INT64_MIN) {
        /* swr_next_pts counts in 1 / (in_rate * out_rate) s. */
        swr_next_pts(a->swr, av_rescale(at_us, (int64_t)a->in_rate * a->out_rate, 1000000));
    }
    int in_samples = in ? in->nb_samples : 0;
    int max_out = swr_get_out_samples(a->swr, in_samples);
    if (max_out < 0) return max_out;
    if ((ret = ss_audio_conv_grow(a, max_out + 32)) < 0) return ret;
    int got = swr_convert(a->swr, a->tmp, a->tmp_samples, in ? (const uint8_t **)in->extended_data : NULL, in_samples);
    if (got < 0) return got;
    if (got > 0 && (ret = av_audio_fifo_write(a->fifo, (void **)a->tmp, got)) < 0) return ret;
    return 0;
}

/* Pops one encoder frame into out: 1 when produced, 0 when not enough samples (unless flush pads the tail). */
SS_API int ss_audio_conv_pop(ss_audio_conv *a, AVFrame *out, int flush)
{
    int avail = av_audio_fifo_size(a->fifo);
    if (avail <= 0 || (avail < a->frame_size && !flush)) return 0;
    int n = avail < a->frame_size ? avail : a->frame_size;
    av_frame_unref(out);
    out->nb_samples = n;
    out->format = AV_SAMPLE_FMT_FLTP;
    out->sample_rate = a->out_rate;
    av_channel_layout_default(&out->ch_layout, a->out_channels);
    int ret = av_frame_get_buffer(out, 0);
    if (ret < 0) return ret;
    ret = av_audio_fifo_read(a->fifo, (void **)out->data, n);
    if (ret < 0) return ret;
    out->pts = a->next_pts;
    a->next_pts += n;
    return 1;
}

/* ---------- fragmented MP4 muxing through a caller-provided sink ---------- */

struct ss_muxer {
    AVFormatContext *oc;
    AVIOContext *pb;
    AVRational enc_tb;
};

SS_API void ss_muxer_free(ss_muxer *m)
{
    if (!m) return;
    if (m->oc) avformat_free_context(m->oc);
    if (m->pb) {
        av_freep(&m->pb->buffer);
        avio_context_free(&m->pb);
    }
    av_free(m);
}

/* One mp4 muxer per track; movflags like "+frag_custom+delay_moov+cmaf+skip_trailer". Every byte the muxer
 * produces goes to write(opaque, buf, size) (the managed segment buffer in pool memory), which returns size
 * or a negative AVERROR. Not direct mode: movenc patches box sizes by seeking back inside the AVIO buffer,
 * which only works while those bytes have not been handed to write() yet. */
SS_API int ss_muxer_open(const AVCodecContext *enc, const char *movflags, ss_write_fn write, void *opaque, ss_muxer **out)
{
    ss_muxer *m = av_mallocz(sizeof(*m));
    if (!m) return AVERROR(ENOMEM);
    int ret = avformat_alloc_output_context2(&m->oc, NULL, "mp4", NULL);
    if (ret < 0) goto fail;
    AVStream *st = avformat_new_stream(m->oc, NULL);
    if (!st) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = avcodec_parameters_from_context(st->codecpar, enc)) < 0) goto fail;
    st->time_base = enc->time_base;
    m->enc_tb = enc->time_base;
    if (enc->codec_type == AVMEDIA_TYPE_VIDEO) st->avg_frame_rate = enc->framerate;
    const int iosize = 1 << 16;
    uint8_t *iobuf = av_malloc(iosize);
    if (!iobuf) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    m->pb = avio_alloc_context(iobuf, iosize, 1, opaque, NULL, write, NULL);
    if (!m->pb) {
        av_free(iobuf);
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    m->oc->pb = m->pb;
    m->oc->flags |= AVFMT_FLAG_CUSTOM_IO;
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "movflags", movflags, 0);
    ret = avformat_write_header(m->oc, &opts);
    av_dict_free(&opts);
    if (ret < 0) goto fail;
    *out = m;
    return 0;
fail:
    ss_muxer_free(m);
    return ret;
}

SS_API void ss_muxer_timebase(const ss_muxer *m, int *num, int *den)
{
    *num = m->oc->streams[0]->time_base.num;
    *den = m->oc->streams[0]->time_base.den;
}

/* Writes an encoder packet (timestamps in the encoder time base). */
SS_API int ss_muxer_write(ss_muxer *m, AVPacket *pkt)
{
    av_packet_rescale_ts(pkt, m->enc_tb, m->oc->streams[0]->time_base);
    pkt->stream_index = 0;
    return av_write_frame(m->oc, pkt);
}

/* Ends the current fragment (frag_custom) so the next bytes start a new segment. */
SS_API int ss_muxer_flush(ss_muxer *m)
{
    int ret = av_write_frame(m->oc, NULL);
    if (ret < 0) return ret;
    avio_flush(m->pb);
    return m->pb->error;
}

SS_API int ss_muxer_finish(ss_muxer *m)
{
    int ret = av_write_trailer(m->oc);
    if (ret < 0) return ret;
    avio_flush(m->pb);
    return m->pb->error;
}


/* ---------- streams that arrive encoded (live pass-through) ---------- */

/* A codec context that only describes an already encoded H.264 or AAC stream, so the fMP4 muxer can be opened for
 * packets that are remuxed, never decoded. extradata: avcC (AVCDecoderConfigurationRecord) or AudioSpecificConfig. */
SS_API AVCodecContext *ss_stream_describe(int audio, const uint8_t *extradata, int size, int width, int height,
                                          int sample_rate, int channels, int tb_num, int tb_den)
{
    if (size < 0 || size > (1 << 20)) return NULL;
    AVCodecContext *c = avcodec_alloc_context3(NULL);
    if (!c) return NULL;
    c->codec_type = audio ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO;
    c->codec_id = audio ? AV_CODEC_ID_AAC : AV_CODEC_ID_H264;
    c->time_base = (AVRational){tb_num, tb_den};
    if (audio) {
        c->sample_rate = sample_rate;
        av_channel_layout_default(&c->ch_layout, channels);
        c->frame_size = 1024;
    } else {
        c->width = width;
        c->height = height;
        c->pix_fmt = AV_PIX_FMT_YUV420P;
    }
    c->extradata = av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!c->extradata) {
        avcodec_free_context(&c);
        return NULL;
    }
    memcpy(c->extradata, extradata, size);
    c->extradata_size = size;
    return c;
}

SS_API void ss_stream_describe_free(AVCodecContext *c) { avcodec_free_context(&c); }

SS_API void ss_packet_set_duration(AVPacket *pkt, int64_t duration) { pkt->duration = duration; }

/* Fills a packet with a copy of data (the caller's buffer is reused as soon as this returns). */
SS_API int ss_packet_set(AVPacket *pkt, const uint8_t *data, int size, int64_t pts, int64_t dts, int64_t duration, int key)
{
    if (size < 0) return AVERROR(EINVAL);
    /* The packet's own buffer is reused when nothing else holds it and it is large enough: a live track sets one packet
     * per frame, and the muxer copies what it writes (fragmented mp4), so a malloc + free per frame buys nothing. */
    if (pkt->buf && av_buffer_is_writable(pkt->buf) && pkt->buf->size >= (size_t)size + AV_INPUT_BUFFER_PADDING_SIZE) {
        AVBufferRef *buf = pkt->buf;
        pkt->buf = NULL;
        av_packet_unref(pkt);
        pkt->buf = buf;
        pkt->data = buf->data;
        pkt->size = size;
        memset(pkt->data + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    } else {
        av_packet_unref(pkt);
        int ret = av_new_packet(pkt, size);
        if (ret < 0) return ret;
    }
    memcpy(pkt->data, data, size);
    pkt->pts = pts;
    pkt->dts = dts;
    pkt->duration = duration;
    if (key) pkt->flags |= AV_PKT_FLAG_KEY;
    return 0;
}

/* ---------- generated sources (libavfilter) ---------- */

/* A filter graph with no inputs and two outputs labelled [v] and [a] (e.g. testsrc2 + drawtext and sine): the live test
 * channel's picture and tone. Frames come out in the graph's own buffers; the caller encodes them and unrefs. */
typedef struct ss_generator {
    AVFilterGraph *graph;
    AVFilterContext *video;
    AVFilterContext *audio;
} ss_generator;

SS_API void ss_generator_close(ss_generator *g)
{
    if (!g) return;
    avfilter_graph_free(&g->graph);
    av_free(g);
}

SS_API int ss_generator_open(const char *description, ss_generator **out)
{
    ss_generator *g = av_mallocz(sizeof(*g));
    AVFilterInOut *inputs = NULL, *outputs = NULL;
    int ret = AVERROR(ENOMEM);
    if (!g || !(g->graph = avfilter_graph_alloc())) goto fail;
    g->graph->nb_threads = 1;
    if ((ret = avfilter_graph_parse2(g->graph, description, &inputs, &outputs)) < 0) goto fail;
    ret = AVERROR(EINVAL);
    if (inputs) goto fail; /* a generator has no inputs */
    for (AVFilterInOut *o = outputs; o; o = o->next) {
        int video = o->name && strcmp(o->name, "v") == 0;
        int audio = o->name && strcmp(o->name, "a") == 0;
        if (!video && !audio) goto fail;
        AVFilterContext **sink = video ? &g->video : &g->audio;
        if (*sink) goto fail;
        if ((ret = avfilter_graph_create_filter(sink, avfilter_get_by_name(video ? "buffersink" : "abuffersink"),
                                                video ? "vsink" : "asink", NULL, NULL, g->graph)) < 0) goto fail;
        if ((ret = avfilter_link(o->filter_ctx, o->pad_idx, *sink, 0)) < 0) goto fail;
        ret = AVERROR(EINVAL);
    }
    if (!g->video) goto fail;
    if ((ret = avfilter_graph_config(g->graph, NULL)) < 0) goto fail;
    avfilter_inout_free(&outputs);
    *out = g;
    return 0;
fail:
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    ss_generator_close(g);
    return ret;
}

/* The next frame of [v] (kind 0) or [a] (kind 1); pts in the returned time base (num/den). */
SS_API int ss_generator_pull(ss_generator *g, int kind, AVFrame *f, int *tb_num, int *tb_den)
{
    AVFilterContext *sink = kind == 0 ? g->video : g->audio;
    if (!sink) return AVERROR(EINVAL);
    int ret = av_buffersink_get_frame(sink, f);
    if (ret < 0) return ret;
    AVRational tb = av_buffersink_get_time_base(sink);
    *tb_num = tb.num;
    *tb_den = tb.den;
    return 0;
}

SS_API int ss_generator_has_audio(const ss_generator *g) { return g->audio != NULL; }
