/* ssjpeg: see ssjpeg.h. Why not TurboJPEG's tjCompressFromYUVPlanes: it offers neither quantization tables nor
 * a quantizer, and both decide size at equal quality (src/Transcode/README.md, "JPEG"). */
#include "ssjpeg.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

struct ss_error_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

struct ss_dest_mgr {
    struct jpeg_destination_mgr pub;
    struct ss_jpeg_encoder *owner;
};

struct ss_jpeg_encoder {
    struct jpeg_compress_struct cinfo;
    struct ss_error_mgr err;
    struct ss_dest_mgr dest;
    uint8_t *buf; /* output, grown by doubling, kept between encodes */
    size_t cap;
    float dct[8][8];           /* D[u][x], see fdct_block() */
    uint8_t std_ac_len[2][256]; /* code lengths of the standard AC Huffman tables (luma, chroma): the trellis' rates */
    char error[JMSG_LENGTH_MAX + 64];
};

/* Base tables in natural (row-major) order, scaled by libjpeg's quality curve (jpeg_quality_scaling).
 * Annex K: ITU-T T.81 K.1, luma and chroma. */
static const unsigned int annex_k_luma[64] = {
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
};
static const unsigned int annex_k_chroma[64] = {
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
};
/* SS_JPEG_TABLES_SSIM: the MPEG-1 default intra matrix (ISO/IEC 11172-2), for luma and chroma alike, which is what
 * FFmpeg's mjpeg encoder scales by -q:v. Measured on bench/thumbs.sh's frames, it beats Annex K
 * and N. Robidoux's table (mozjpeg's default) on bytes at equal SSIM: Annex K's chroma steps (99 for most of the
 * block) cost a third of ffmpeg's SSIM score (U and V planes), and its mid frequencies are coarser than SSIM likes.
 * Its DC entry is replaced after scaling, see dc_step(). */
static const unsigned int mpeg1_intra[64] = {
    8, 16, 19, 22, 26, 27, 29, 34, 16, 16, 22, 24, 27, 29, 34, 37, 19, 22, 26, 27, 29, 34, 34, 38,
    22, 22, 26, 27, 29, 34, 37, 40, 22, 26, 27, 29, 32, 35, 40, 48, 26, 27, 29, 32, 35, 40, 48, 58,
    26, 27, 29, 34, 38, 46, 56, 69, 27, 29, 35, 38, 46, 56, 69, 83,
};

#define SS_TABLE_SETS 2 /* enum ss_jpeg_tables */
static const unsigned int *const table_luma[SS_TABLE_SETS] = {annex_k_luma, mpeg1_intra};
static const unsigned int *const table_chroma[SS_TABLE_SETS] = {annex_k_chroma, mpeg1_intra};

/* DC step of the SSIM tables: 4 + Q(0,1)/2 instead of the table's DC entry scaled like the AC ones. Measured on
 * bench/thumbs.sh, a DC step that grows more slowly than the AC steps wins 2-4 % at equal SSIM (FFmpeg keeps its DC
 * step at 8 whatever -q:v does to the AC steps). */
static UINT16 dc_step(const JQUANT_TBL *q)
{
    return (UINT16)(4 + (q->quantval[1] + 1) / 2);
}

static void ss_error_exit(j_common_ptr cinfo)
{
    struct ss_error_mgr *err = (struct ss_error_mgr *)cinfo->err;
    longjmp(err->jump, 1);
}

static void ss_output_message(j_common_ptr cinfo)
{
    (void)cinfo; /* warnings are not printed to stderr by a server */
}

/* libjpeg's error manager with our exits; the caller still calls setjmp on err->jump in its own frame. */
static struct jpeg_error_mgr *ss_errors(struct ss_error_mgr *err)
{
    struct jpeg_error_mgr *pub = jpeg_std_error(&err->pub);
    pub->error_exit = ss_error_exit;
    pub->output_message = ss_output_message;
    return pub;
}

/* The message of the error that made libjpeg jump back, as "libjpeg: ...". */
static void ss_format_error(j_common_ptr cinfo, char *err, size_t err_size)
{
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    snprintf(err, err_size, "libjpeg: %s", msg);
}

static void ss_init_destination(j_compress_ptr cinfo)
{
    struct ss_dest_mgr *d = (struct ss_dest_mgr *)cinfo->dest;
    d->pub.next_output_byte = d->owner->buf;
    d->pub.free_in_buffer = d->owner->cap;
}

static boolean ss_empty_output_buffer(j_compress_ptr cinfo)
{
    /* libjpeg calls this only when the whole buffer is full (free_in_buffer == 0). */
    struct ss_dest_mgr *d = (struct ss_dest_mgr *)cinfo->dest;
    struct ss_jpeg_encoder *e = d->owner;
    size_t used = e->cap;
    size_t cap = e->cap * 2;
    uint8_t *p = realloc(e->buf, cap);
    if (!p)
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10);
    e->buf = p;
    e->cap = cap;
    d->pub.next_output_byte = p + used;
    d->pub.free_in_buffer = cap - used;
    return TRUE;
}

static void ss_term_destination(j_compress_ptr cinfo)
{
    (void)cinfo;
}

static void huffman_code_lengths(const JHUFF_TBL *t, uint8_t len[256]);

ss_jpeg_encoder *ss_jpeg_encoder_new(void)
{
    ss_jpeg_encoder *volatile e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->cinfo.err = ss_errors(&e->err);
    if (setjmp(e->err.jump)) {
        jpeg_destroy_compress(&e->cinfo); /* safe on a half-created object (checks cinfo->mem) */
        free(e->buf);
        free(e);
        return NULL;
    }
    jpeg_create_compress(&e->cinfo);
    e->dest.pub.init_destination = ss_init_destination;
    e->dest.pub.empty_output_buffer = ss_empty_output_buffer;
    e->dest.pub.term_destination = ss_term_destination;
    e->dest.owner = e;
    e->cinfo.dest = &e->dest.pub;
    /* The rate model uses the standard tables, read once here: libjpeg-turbo's jpeg_set_defaults keeps whatever
     * tables the previous image's optimization left in the object, and pricing with those would make the output
     * depend on what this encoder encoded before. */
    e->cinfo.in_color_space = JCS_YCbCr;
    e->cinfo.input_components = 3;
    jpeg_set_defaults(&e->cinfo);
    huffman_code_lengths(e->cinfo.ac_huff_tbl_ptrs[0], e->std_ac_len[0]);
    huffman_code_lengths(e->cinfo.ac_huff_tbl_ptrs[1], e->std_ac_len[1]);
    for (int u = 0; u < 8; u++)
        for (int x = 0; x < 8; x++)
            e->dct[u][x] = (float)((u == 0 ? sqrt(0.125) : 0.5) * cos((2 * x + 1) * u * M_PI / 16.0));
    e->cap = 64 * 1024;
    e->buf = malloc(e->cap);
    if (!e->buf) {
        jpeg_destroy_compress(&e->cinfo);
        free(e);
        return NULL;
    }
    return e;
}

void ss_jpeg_encoder_free(ss_jpeg_encoder *e)
{
    if (!e)
        return;
    jpeg_destroy_compress(&e->cinfo);
    free(e->buf);
    free(e);
}

const char *ss_jpeg_encoder_error(const ss_jpeg_encoder *e)
{
    return e ? e->error : "no encoder";
}

/* D[u][x] = C(u)/2 * cos((2x+1) u pi / 16): the orthonormal 8-point DCT-II, so F = D B D^T is the JPEG FDCT
 * (T.81 A.3.3) and F / Q is what a decoder multiplies back. Float: accurate, and fast enough next to decoding the
 * video frame (libjpeg's SIMD DCTs are only reachable through its own quantizer). */
static void fdct_block(const float (*d)[8], const uint8_t *plane, int stride, int w, int h, int x0, int y0,
                       float out[64])
{
    float tmp[64];
    float in[64];
    /* Rows and columns past the edge repeat the last ones (libjpeg's edge expansion): no padded copy needed. */
    for (int y = 0; y < 8; y++) {
        int sy = y0 + y < h ? y0 + y : h - 1;
        const uint8_t *row = plane + (ptrdiff_t)sy * stride;
        if (x0 + 8 <= w) {
            for (int x = 0; x < 8; x++)
                in[y * 8 + x] = (float)row[x0 + x] - 128.0f;
        } else {
            for (int x = 0; x < 8; x++)
                in[y * 8 + x] = (float)row[x0 + x < w ? x0 + x : w - 1] - 128.0f;
        }
    }
    for (int y = 0; y < 8; y++) /* rows: tmp[y][u] = sum_x in[y][x] D[u][x] */
        for (int u = 0; u < 8; u++) {
            float s = 0.0f;
            for (int x = 0; x < 8; x++)
                s += in[y * 8 + x] * d[u][x];
            tmp[y * 8 + u] = s;
        }
    for (int v = 0; v < 8; v++) /* columns: out[v][u] = sum_y tmp[y][u] D[v][y] */
        for (int u = 0; u < 8; u++) {
            float s = 0.0f;
            for (int y = 0; y < 8; y++)
                s += tmp[y * 8 + u] * d[v][y];
            out[v * 8 + u] = s;
        }
}

static const uint8_t zigzag[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
    41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
    30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

/* Trellis weights, tuned on bench/thumbs.sh's 1080p frame (MU 16..48 with ACTIVITY 150..3000 are within 1-2 % of
 * each other): MU = bits that one squared quantizer step of error is worth in a flat block; a block whose AC energy per
 * coefficient is ACTIVITY (pixel units squared) gets half that weight. */
#define TRELLIS_MU 24.0f
#define TRELLIS_ACTIVITY 500.0f
/* A coefficient this many steps from zero is never zeroed (doing so costs far more distortion than the bits it saves;
 * on the bench frames the output is the same within 0.02 %), so the trellis forgets every path that would skip it:
 * a quarter to a third less CPU. */
#define TRELLIS_KEEP_ABOVE 2.5f

static int level_size(int l) /* JPEG's magnitude category: bits of l (l > 0), 0 for 0 */
{
    return l ? 32 - __builtin_clz((unsigned)l) : 0;
}

/* Rate-distortion optimized AC levels of one block (a trellis over the zig-zag scan, as mozjpeg does): minimizes
 * bits + mu * distortion, where bits are the Huffman code lengths of the run/size symbols (with ZRL and EOB) plus the
 * amplitude bits, and distortion is the squared error in quantizer steps (so the table's frequency weighting carries
 * over). Each coefficient keeps its nearest level, goes one level toward zero, or becomes zero and joins a run.
 * a: coefficients in quantizer steps, natural order. State i = the last nonzero coefficient is zig-zag i. */
static void trellis_block(const float a[64], JCOEF *c, const uint8_t code_len[256], float mu)
{
    /* States: "the last nonzero coefficient is zig-zag j" for the j that can be nonzero, plus j = 0 (none yet);
     * kept as a compact list with base[] = cost so far minus the zeroing cost up to j, so extending a state to i
     * costs base + zero_cost[i-1] + bits(run, size) + distortion of the level at i. */
    float zero_cost[64]; /* mu * distortion of zeroing zig-zag 1..i (prefix sums) */
    float base[64], mag[64];
    int pos[64], prev[64], level[64];
    int nstates = 1;
    float acc = 0.0f;
    zero_cost[0] = 0.0f;
    /* One pass over the block in zig-zag order: magnitudes, zeroing costs, and which coefficients round to a nonzero
     * level. Only those can end a run, so the trellis below visits just them (a bit mask, lowest first): no branch
     * per zero coefficient, none on signs. */
    uint64_t nonzero = 0;
    for (int i = 1; i < 64; i++) {
        float v = a[zigzag[i]];
        float av = fabsf(v);
        acc += v * v;
        zero_cost[i] = acc * mu;
        mag[i] = av;
        nonzero |= (uint64_t)((int)(av + 0.5f) != 0) << i;
    }
    float zrl_bits[4];
    for (int k = 0; k < 4; k++)
        zrl_bits[k] = (float)(k * code_len[0xF0]);
    const float eob = (float)code_len[0x00];
    const float prune_above = TRELLIS_KEEP_ABOVE;
    pos[0] = 0;
    base[0] = 0.0f;
    prev[0] = 0;
    level[0] = 0;
    float best_total = zero_cost[63] + eob;
    int best_last = 0;
    for (; nonzero; nonzero &= nonzero - 1) {
        int i = __builtin_ctzll(nonzero);
        float av = mag[i];
        int l0 = (int)(av + 0.5f);
        /* Candidates l0 and l0 - 1 (when >= 1), priced in one pass over the states. */
        int l1 = l0 - 1;
        int size0 = level_size(l0), size1 = level_size(l1);
        float d0 = (av - (float)l0) * (av - (float)l0) * mu + (float)size0;
        float d1 = (av - (float)l1) * (av - (float)l1) * mu + (float)size1;
        const uint8_t *len0 = code_len + size0, *len1 = code_len + size1;
        float best0 = 3.4e38f, best1 = 3.4e38f;
        int from0 = 0, from1 = 0;
        if (l1 > 0) {
            for (int s = 0; s < nstates; s++) {
                int run = i - pos[s] - 1;
                float common = base[s] + zrl_bits[run >> 4];
                int sym = (run & 15) << 4;
                float c0 = common + (float)len0[sym], c1 = common + (float)len1[sym];
                if (c0 < best0) {
                    best0 = c0;
                    from0 = pos[s];
                }
                if (c1 < best1) {
                    best1 = c1;
                    from1 = pos[s];
                }
            }
        } else {
            for (int s = 0; s < nstates; s++) {
                int run = i - pos[s] - 1;
                float c0 = base[s] + zrl_bits[run >> 4] + (float)len0[(run & 15) << 4];
                if (c0 < best0) {
                    best0 = c0;
                    from0 = pos[s];
                }
            }
        }
        best0 += d0;
        best1 += d1;
        float cost;
        if (l1 > 0 && best1 < best0) {
            cost = best1;
            prev[i] = from1;
            level[i] = l1;
        } else {
            cost = best0;
            prev[i] = from0;
            level[i] = l0;
        }
        cost += zero_cost[i - 1];
        if (av >= prune_above) {
            /* Too large to zero in practice: every later path goes through i, so earlier states and endings die. */
            nstates = 0;
            best_total = 3.4e38f;
        }
        pos[nstates] = i;
        base[nstates] = cost - zero_cost[i];
        nstates++;
        float total = cost + (zero_cost[63] - zero_cost[i]) + (i < 63 ? eob : 0.0f);
        if (total < best_total) {
            best_total = total;
            best_last = i;
        }
    }
    for (int k = 1; k < 64; k++)
        c[k] = 0;
    for (int i = best_last; i > 0; i = prev[i]) {
        int k = zigzag[i];
        c[k] = (JCOEF)(a[k] < 0 ? -level[i] : level[i]);
    }
}

/* One band of block rows of one component: everything quantize needs, read-only but for the band's own rows. */
struct quantize_band {
    const float (*dct)[8];
    JBLOCKARRAY rows; /* all of the component's rows (the whole array is in memory) */
    const uint8_t *plane;
    int stride, w, h, blocks_w, by0, by1;
    const JQUANT_TBL *q;
    const uint8_t *code_len;
};

/* Quantizes block rows [by0, by1) of one component into its coefficient array. DC rounds to nearest (a DC error shows
 * as a flat block offset); AC goes through the trellis, or rounds to nearest like libjpeg when code_len is NULL. Each
 * block depends on its own samples only, so bands can run on any thread in any order with the same result. */
static void quantize_band(const struct quantize_band *b)
{
    float recip[64], f[64], a[64];
    for (int k = 0; k < 64; k++)
        recip[k] = 1.0f / (float)b->q->quantval[k];
    for (int by = b->by0; by < b->by1; by++) {
        JBLOCKROW row = b->rows[by];
        for (int bx = 0; bx < b->blocks_w; bx++) {
            fdct_block(b->dct, b->plane, b->stride, b->w, b->h, bx * 8, by * 8, f);
            JCOEF *c = row[bx];
            for (int k = 0; k < 64; k++)
                a[k] = f[k] * recip[k];
            c[0] = (JCOEF)(int)(a[0] + copysignf(0.5f, a[0]));
            if (!b->code_len) {
                for (int k = 1; k < 64; k++)
                    c[k] = (JCOEF)(int)(a[k] + copysignf(0.5f, a[k]));
                continue;
            }
            float energy = 0.0f;
            for (int k = 1; k < 64; k++)
                energy += f[k] * f[k];
            energy *= 1.0f / 63.0f;
            /* SSIM judges an error relative to the local variance: busy blocks weigh their distortion less. */
            trellis_block(a, c, b->code_len, TRELLIS_MU * TRELLIS_ACTIVITY / (TRELLIS_ACTIVITY + energy));
        }
    }
}

#define SS_JPEG_MAX_THREADS 4
/* Below this many blocks (all components) a second thread costs more to start than it saves: ~640x360 4:2:0. */
#define SS_JPEG_PARALLEL_MIN_BLOCKS 5000

struct quantize_job {
    struct quantize_band bands[3];
    int nbands;
};

static void *quantize_job_run(void *arg)
{
    struct quantize_job *job = arg;
    for (int i = 0; i < job->nbands; i++)
        quantize_band(&job->bands[i]);
    return NULL;
}

/* Quantizes every component, the rows of each split into `threads` bands of equal height: the calling thread takes
 * the first band of each, one started thread each of the others. The forward DCT and the trellis are most of an
 * encode (libjpeg's entropy coding after them is a fifth); the output does not depend on the split. Falls back to the
 * calling thread alone when a thread cannot start. */
static void quantize_all(struct quantize_band comp[3], int ncomp, int threads)
{
    struct quantize_job jobs[SS_JPEG_MAX_THREADS];
    pthread_t tids[SS_JPEG_MAX_THREADS];
    int started[SS_JPEG_MAX_THREADS] = {0};
    for (int t = 0; t < threads; t++) {
        jobs[t].nbands = ncomp;
        for (int ci = 0; ci < ncomp; ci++) {
            int rows = comp[ci].by1 - comp[ci].by0;
            jobs[t].bands[ci] = comp[ci];
            jobs[t].bands[ci].by0 = comp[ci].by0 + rows * t / threads;
            jobs[t].bands[ci].by1 = comp[ci].by0 + rows * (t + 1) / threads;
        }
    }
    for (int t = 1; t < threads; t++)
        started[t] = pthread_create(&tids[t], NULL, quantize_job_run, &jobs[t]) == 0;
    quantize_job_run(&jobs[0]);
    for (int t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            quantize_job_run(&jobs[t]);
    }
}

static void huffman_code_lengths(const JHUFF_TBL *t, uint8_t len[256])
{
    memset(len, 16, 256); /* symbols the table lacks: priced like its longest codes */
    int idx = 0;
    for (int l = 1; l <= 16; l++)
        for (int n = 0; n < t->bits[l]; n++)
            len[t->huffval[idx++]] = (uint8_t)l;
}

int ss_jpeg_encode(ss_jpeg_encoder *e, const ss_jpeg_picture *pic, const ss_jpeg_params *params,
                   const uint8_t **out, size_t *out_size)
{
    j_compress_ptr cinfo = &e->cinfo;
    e->error[0] = '\0';
    if (!pic || !params || !out || !out_size || !pic->y || pic->width < 1 || pic->height < 1 ||
        pic->width > JPEG_MAX_DIMENSION || pic->height > JPEG_MAX_DIMENSION || params->quality < 1 ||
        params->quality > 100 || params->tables < 0 || params->tables >= SS_TABLE_SETS || pic->chroma_log2_w < 0 ||
        pic->chroma_log2_w > 1 || pic->chroma_log2_h < 0 || pic->chroma_log2_h > 1 || (pic->u && !pic->v)) {
        snprintf(e->error, sizeof(e->error), "invalid JPEG parameters (%dx%d, quality %d)", pic ? pic->width : 0,
                 pic ? pic->height : 0, params ? params->quality : 0);
        return -1;
    }
    if (setjmp(e->err.jump)) {
        ss_format_error((j_common_ptr)cinfo, e->error, sizeof(e->error));
        jpeg_abort_compress(cinfo); /* frees the image's arrays, keeps the object reusable */
        return -1;
    }

    int gray = pic->u == NULL;
    cinfo->image_width = (JDIMENSION)pic->width;
    cinfo->image_height = (JDIMENSION)pic->height;
    cinfo->input_components = gray ? 1 : 3;
    cinfo->in_color_space = gray ? JCS_GRAYSCALE : JCS_YCbCr;
    jpeg_set_defaults(cinfo); /* JFIF, YCbCr (or gray) out */
    cinfo->optimize_coding = TRUE; /* two-pass Huffman tables (progressive scans always have them) */
    int scale = jpeg_quality_scaling(params->quality);
    if (params->tables == SS_JPEG_TABLES_SSIM)
        scale = scale * 5 / 4; /* so that a quality number gives about the SSIM Annex K gives at that number */
    jpeg_add_quant_table(cinfo, 0, table_luma[params->tables], scale, TRUE);
    jpeg_add_quant_table(cinfo, 1, table_chroma[params->tables], scale, TRUE);
    if (params->tables == SS_JPEG_TABLES_SSIM)
        for (int t = 0; t < 2; t++)
            cinfo->quant_tbl_ptrs[t]->quantval[0] = dc_step(cinfo->quant_tbl_ptrs[t]);
    int hs = 1 << pic->chroma_log2_w, vs = 1 << pic->chroma_log2_h;
    if (!gray) {
        cinfo->comp_info[0].h_samp_factor = hs;
        cinfo->comp_info[0].v_samp_factor = vs;
        for (int ci = 1; ci < 3; ci++) {
            cinfo->comp_info[ci].h_samp_factor = 1;
            cinfo->comp_info[ci].v_samp_factor = 1;
        }
    }
    if (params->progressive)
        jpeg_simple_progression(cinfo);

    const uint8_t *planes[3] = {pic->y, pic->u, pic->v};
    int strides[3] = {pic->y_stride, pic->u_stride, pic->v_stride};
    jvirt_barray_ptr arrays[3];
    int arrays_h[3];
    int bw[3], bh[3], pw[3], ph[3];
    int ncomp = gray ? 1 : 3;
    for (int ci = 0; ci < ncomp; ci++) {
        jpeg_component_info *comp = &cinfo->comp_info[ci];
        int maxh = gray ? 1 : hs, maxv = gray ? 1 : vs;
        /* Sizes as libjpeg's initial_setup computes them; arrays padded to whole MCUs like jpegtran's; libjpeg
         * makes the dummy blocks of a partial MCU itself. */
        pw[ci] = (pic->width * comp->h_samp_factor + maxh - 1) / maxh;
        ph[ci] = (pic->height * comp->v_samp_factor + maxv - 1) / maxv;
        bw[ci] = (pw[ci] + 7) / 8;
        bh[ci] = (ph[ci] + 7) / 8;
        int aw = (bw[ci] + comp->h_samp_factor - 1) / comp->h_samp_factor * comp->h_samp_factor;
        int ah = (bh[ci] + comp->v_samp_factor - 1) / comp->v_samp_factor * comp->v_samp_factor;
        /* maxaccess = every row: one access below hands out all row pointers, so bands can be filled in parallel
         * (libjpeg's memory manager is not thread safe, the rows are). */
        arrays[ci] = (*cinfo->mem->request_virt_barray)((j_common_ptr)cinfo, JPOOL_IMAGE, TRUE, (JDIMENSION)aw,
                                                         (JDIMENSION)ah, (JDIMENSION)ah);
        arrays_h[ci] = ah;
    }
    (*cinfo->mem->realize_virt_arrays)((j_common_ptr)cinfo);
    struct quantize_band bands[3];
    int blocks = 0;
    for (int ci = 0; ci < ncomp; ci++) {
        int tbl = cinfo->comp_info[ci].quant_tbl_no;
        bands[ci] = (struct quantize_band){
            .dct = (const float (*)[8])e->dct,
            .rows = (*cinfo->mem->access_virt_barray)((j_common_ptr)cinfo, arrays[ci], 0, (JDIMENSION)arrays_h[ci], TRUE),
            .plane = planes[ci],
            .stride = strides[ci],
            .w = pw[ci],
            .h = ph[ci],
            .blocks_w = bw[ci],
            .by0 = 0,
            .by1 = bh[ci],
            .q = cinfo->quant_tbl_ptrs[tbl],
            .code_len = params->trellis ? e->std_ac_len[ci == 0 ? 0 : 1] : NULL,
        };
        blocks += bw[ci] * bh[ci];
    }
    int threads = params->threads < 1 ? 1 : params->threads > SS_JPEG_MAX_THREADS ? SS_JPEG_MAX_THREADS : params->threads;
    if (blocks < SS_JPEG_PARALLEL_MIN_BLOCKS)
        threads = 1;
    quantize_all(bands, ncomp, threads);
    jpeg_write_coefficients(cinfo, arrays);
    jpeg_finish_compress(cinfo);
    *out = e->buf;
    *out_size = e->cap - e->dest.pub.free_in_buffer;
    return 0;
}

/* ---- Decoding (reading back what we wrote: tests, checks; not on the serving path) ---- */

static int read_header(struct jpeg_decompress_struct *d, const uint8_t *data, size_t size, ss_jpeg_info *info)
{
    jpeg_mem_src(d, data, (unsigned long)size);
    jpeg_read_header(d, TRUE);
    info->width = (int32_t)d->image_width;
    info->height = (int32_t)d->image_height;
    info->components = d->num_components;
    info->progressive = d->progressive_mode ? 1 : 0;
    info->chroma_log2_w = info->chroma_log2_h = 0;
    if (d->num_components == 1)
        return 0;
    if (d->num_components != 3 || d->jpeg_color_space != JCS_YCbCr)
        return -1;
    int hs = d->comp_info[0].h_samp_factor, vs = d->comp_info[0].v_samp_factor;
    for (int ci = 1; ci < 3; ci++)
        if (d->comp_info[ci].h_samp_factor != 1 || d->comp_info[ci].v_samp_factor != 1)
            return -1;
    if ((hs != 1 && hs != 2) || (vs != 1 && vs != 2))
        return -1;
    info->chroma_log2_w = hs - 1;
    info->chroma_log2_h = vs - 1;
    return 0;
}

int ss_jpeg_read_info(const uint8_t *data, size_t size, ss_jpeg_info *info, char *err, size_t err_size)
{
    struct jpeg_decompress_struct d;
    struct ss_error_mgr jerr;
    d.err = ss_errors(&jerr);
    if (setjmp(jerr.jump)) {
        ss_format_error((j_common_ptr)&d, err, err_size);
        jpeg_destroy_decompress(&d);
        return -1;
    }
    jpeg_create_decompress(&d);
    int r = read_header(&d, data, size, info);
    if (r != 0)
        snprintf(err, err_size, "unsupported JPEG layout (%d components, not YCbCr 4:4:4/4:2:2/4:2:0 or gray)",
                 d.num_components);
    jpeg_destroy_decompress(&d);
    return r;
}

int ss_jpeg_decode(const uint8_t *data, size_t size, uint8_t *const planes[3], const int32_t strides[3], char *err,
                   size_t err_size)
{
    struct jpeg_decompress_struct d;
    struct ss_error_mgr jerr;
    uint8_t *volatile scratch = NULL;
    d.err = ss_errors(&jerr);
    if (setjmp(jerr.jump)) {
        ss_format_error((j_common_ptr)&d, err, err_size);
        jpeg_destroy_decompress(&d);
        free(scratch);
        return -1;
    }
    jpeg_create_decompress(&d);
    ss_jpeg_info info;
    if (read_header(&d, data, size, &info) != 0) {
        snprintf(err, err_size, "unsupported JPEG layout");
        jpeg_destroy_decompress(&d);
        return -1;
    }
    /* Raw planes: no upsampling, no colour conversion. libjpeg writes whole blocks and iMCU rows, so each
     * component decodes into a scratch band first and only its visible samples are copied out. */
    d.raw_data_out = TRUE;
    d.out_color_space = info.components == 1 ? JCS_GRAYSCALE : JCS_YCbCr;
    jpeg_start_decompress(&d);
    int nc = d.num_components;
    int band_rows[3], band_width[3], comp_w[3], comp_h[3];
    size_t offset[3], total = 0;
    for (int ci = 0; ci < nc; ci++) {
        jpeg_component_info *c = &d.comp_info[ci];
        band_rows[ci] = c->v_samp_factor * DCTSIZE;
        band_width[ci] = (int)c->width_in_blocks * DCTSIZE;
        comp_w[ci] = (int)c->downsampled_width;
        comp_h[ci] = (int)c->downsampled_height;
        offset[ci] = total;
        total += (size_t)band_rows[ci] * (size_t)band_width[ci];
    }
    scratch = malloc(total);
    if (!scratch)
        ERREXIT1(&d, JERR_OUT_OF_MEMORY, 11);
    JSAMPROW rows[3][2 * DCTSIZE];
    JSAMPARRAY bands[3];
    for (int ci = 0; ci < nc; ci++) {
        for (int r = 0; r < band_rows[ci]; r++)
            rows[ci][r] = scratch + offset[ci] + (size_t)r * (size_t)band_width[ci];
        bands[ci] = rows[ci];
    }
    int imcu_rows = d.max_v_samp_factor * DCTSIZE;
    for (int band = 0; d.output_scanline < d.output_height; band++) {
        jpeg_read_raw_data(&d, bands, (JDIMENSION)imcu_rows);
        for (int ci = 0; ci < nc; ci++)
            for (int r = 0; r < band_rows[ci]; r++) {
                int y = band * band_rows[ci] + r;
                if (y < comp_h[ci])
                    memcpy(planes[ci] + (ptrdiff_t)y * strides[ci], rows[ci][r], (size_t)comp_w[ci]);
            }
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(scratch);
    return 0;
}
