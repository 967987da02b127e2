/* ssav: flat C entry points over FFmpeg 5.1 for StreamServer.Transcode.
 * Every struct here is ours (stable layout mirrored in the Interop folder); FFmpeg structs stay opaque. */
#ifndef SSAV_H
#define SSAV_H
#include <stddef.h>
#include <stdint.h>

typedef struct AVFormatContext AVFormatContext;
typedef struct AVCodecContext AVCodecContext;
typedef struct AVPacket AVPacket;
typedef struct AVFrame AVFrame;
typedef struct SwsContext SwsContext;

/* Frame memory provided by managed code (IFrameMemory): one rent per frame buffer, one release. */
typedef struct ss_allocator {
    void *(*rent)(void *user, size_t size, size_t alignment);
    void (*release)(void *user, void *ptr);
    void *user;
} ss_allocator;

typedef struct ss_stream_info {
    int32_t index;
    int32_t codec_type; /* 0 video, 1 audio, other: ignore */
    int32_t codec_id;
    int32_t width, height, format;
    int32_t sample_rate, channels;
    int32_t tb_num, tb_den;
    int32_t avg_fr_num, avg_fr_den;
    int32_t r_fr_num, r_fr_den;
    int32_t sar_num, sar_den;
    int32_t bits_per_raw_sample;
    int32_t attached_pic;
    int64_t duration;   /* in stream time base, or INT64_MIN when unknown */
    int64_t start_time; /* in stream time base, or INT64_MIN when unknown */
    int64_t nb_frames;
    char codec_name[32];
} ss_stream_info;

typedef struct ss_frame_info {
    int32_t width, height, format;
    int32_t key_frame, pict_type;
    int32_t nb_samples, sample_rate, channels;
    int64_t pts, best_effort_timestamp, duration;
    uint8_t *data[4];
    int32_t linesize[4];
} ss_frame_info;

typedef struct ss_video_encoder_params {
    int32_t width, height, pix_fmt;
    int32_t tb_num, tb_den;
    int32_t fr_num, fr_den;
    int32_t sar_num, sar_den;
    int32_t gop;
    int32_t threads;
    int64_t bitrate, maxrate, bufsize;
    const char *preset;
    const char *profile;
    const char *x264_params;
} ss_video_encoder_params;

typedef struct ss_pix_fmt_info {
    int32_t depth;        /* bits of the first component */
    int32_t log2_chroma_w, log2_chroma_h;
    int32_t nb_components;
    int32_t is_rgb, has_palette, is_hwaccel, has_alpha;
} ss_pix_fmt_info;

typedef struct ss_muxer ss_muxer;
/* Muxer output sink (AVIOContext write_packet): returns size, or a negative AVERROR to fail the write. */
typedef int (*ss_write_fn)(void *opaque, uint8_t *buf, int size);
typedef struct ss_audio_conv ss_audio_conv;

#endif
