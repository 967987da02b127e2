/* ssjpeg: JPEG encoder (and the decoder that reads it back) for posters, sprite sheets and on-demand thumbnails, over the libjpeg API
 * (Debian libjpeg62-turbo). Our own forward DCT and quantizer (quantization tables + rounding dead zone), then
 * libjpeg's coefficient path (jpeg_write_coefficients) for optimized Huffman tables / progressive scans.
 * jpeg_compress_struct stays in C: managed code sees only an opaque handle and the structs below. */
#ifndef SSJPEG_H
#define SSJPEG_H
#include <stddef.h>
#include <stdint.h>

typedef struct ss_jpeg_encoder ss_jpeg_encoder;

/* A planar 8-bit full-range YCbCr picture, read in place. chroma_log2_w/h: 1/1 = 4:2:0, 1/0 = 4:2:2, 0/0 = 4:4:4;
 * u == NULL: grayscale (only y is read). */
typedef struct ss_jpeg_picture {
    const uint8_t *y, *u, *v;
    int32_t y_stride, u_stride, v_stride;
    int32_t width, height;
    int32_t chroma_log2_w, chroma_log2_h;
} ss_jpeg_picture;

enum ss_jpeg_tables {
    SS_JPEG_TABLES_ANNEX_K = 0, /* ITU-T T.81 Annex K, scaled like jpeg_set_quality (what TurboJPEG / cjpeg write) */
    SS_JPEG_TABLES_SSIM = 1,    /* MPEG-1 intra matrix for luma and chroma, slower-growing DC step (see ssjpeg.c) */
};

typedef struct ss_jpeg_params {
    int32_t quality;     /* 1..100: libjpeg's quality -> table scaling curve (jpeg_quality_scaling) */
    int32_t progressive; /* 0 baseline, 1 progressive (libjpeg's default scan script); Huffman tables always optimized */
    int32_t tables;      /* enum ss_jpeg_tables */
    int32_t trellis;     /* 1 rate-distortion optimized AC levels, 0 round to nearest (libjpeg's quantizer) */
    int32_t threads;     /* forward DCT + quantization in this many row bands at once (<= 1: the calling thread only;
                          * pictures under ~640x360 always use one); the output is the same for any value */
} ss_jpeg_params;

ss_jpeg_encoder *ss_jpeg_encoder_new(void);
void ss_jpeg_encoder_free(ss_jpeg_encoder *e);
/* 0 on success: *out / *out_size point into the encoder's buffer, valid until the next encode or free.
 * -1 on error: ss_jpeg_encoder_error() says why. */
int ss_jpeg_encode(ss_jpeg_encoder *e, const ss_jpeg_picture *pic, const ss_jpeg_params *params,
                   const uint8_t **out, size_t *out_size);
const char *ss_jpeg_encoder_error(const ss_jpeg_encoder *e);

/* Reading JPEGs back (tests and checks, not the serving path). */
typedef struct ss_jpeg_info {
    int32_t width, height;
    int32_t components;                   /* 1 gray, 3 YCbCr */
    int32_t chroma_log2_w, chroma_log2_h; /* as in ss_jpeg_picture */
    int32_t progressive;
} ss_jpeg_info;

/* 0, or -1 with a message in err (also for layouts other than gray or YCbCr with 1x1 chroma). */
int ss_jpeg_read_info(const uint8_t *data, size_t size, ss_jpeg_info *info, char *err, size_t err_size);
/* Decodes the raw planes (no upsampling, no colour conversion) into planes[0..components-1], each holding at least
 * its component's visible size (chroma: ceil(width / 2^log2_w) x ceil(height / 2^log2_h)) at strides[i]. */
int ss_jpeg_decode(const uint8_t *data, size_t size, uint8_t *const planes[3], const int32_t strides[3], char *err,
                   size_t err_size);

#endif
