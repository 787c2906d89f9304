/* quant/quant.c — integer group quantization: scale choice (round-to-nearest or an
 * error-minimising search), bit-packing, dequantization and error metrics.
 *
 * Every group goes through the same steps:
 *   1. choose (scale d, zero z): RTN, or the candidate with least (weighted) squared error;
 *   2. d is rounded to its storage type (fp16 or f32) *before* the codes are computed, so the
 *      codes are the best ones for the scale the GPU will actually read;
 *   3. codes u = clamp(floor(x / d + 0.5) + z, 0, qmax), with z = 2^(b-1) when symmetric;
 *   4. pack u into the group's bit stream, accumulate metrics from x and d * (u - z).
 * The functions here are the specification (one element at a time, generic bit stream), the
 * row "reference" of the kernel table (quant_internal.h); the vectorised rows in simd.c and the
 * fast packers below must produce identical bytes and metrics (tests check it). */
#include "quant_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ------------------------------------------------------------------ metrics */

#define LANES 8 /* explicit accumulation lanes: vectorised sums with a fixed order */

void wg_qmetrics_add(wg_qmetrics *a, const wg_qmetrics *b)
{
    a->n += b->n;
    a->clipped += b->clipped;
    a->nonfinite += b->nonfinite;
    a->ssx += b->ssx;
    a->sse += b->sse;
    a->ssq += b->ssq;
    a->dot += b->dot;
    a->wsse += b->wsse;
    if (b->max_abs > a->max_abs)
        a->max_abs = b->max_abs;
    for (int i = 0; i < WG_QHIST_BINS; i++)
        a->hist[i] += b->hist[i];
}

double wg_qm_sqnr_db(const wg_qmetrics *m)
{
    if (m->sse <= 0)
        return INFINITY;
    return 10.0 * log10(m->ssx / m->sse);
}
double wg_qm_rel_rmse(const wg_qmetrics *m) { return m->ssx > 0 ? sqrt(m->sse / m->ssx) : 0; }
double wg_qm_cosine(const wg_qmetrics *m)
{
    return m->ssx > 0 && m->ssq > 0 ? m->dot / sqrt(m->ssx * m->ssq) : 1.0;
}
double wg_qm_clipped_frac(const wg_qmetrics *m) { return m->n ? (double)m->clipped / (double)m->n : 0; }

/* error in units of the group's step, binned over [-1, 1); outer bins catch the rest */
static inline int hist_bin(float err, float d)
{
    if (d == 0.0f)
        return WG_QHIST_BINS / 2;
    float r = err / fabsf(d);
    int b = (int)floorf((r + 1.0f) * (WG_QHIST_BINS - 2) / 2.0f) + 1;
    return b < 0 ? 0 : b >= WG_QHIST_BINS ? WG_QHIST_BINS - 1 : b;
}

static inline void metric_elem(wg_qmetrics *m, float x, float y, float d, float w, int clipped)
{
    double e = (double)x - (double)y;
    m->ssx += (double)x * x;
    m->ssq += (double)y * y;
    m->dot += (double)x * y;
    m->sse += e * e;
    m->wsse += w * e * e;
    if (fabs(e) > m->max_abs)
        m->max_abs = fabs(e);
    m->clipped += (uint64_t)clipped;
    m->hist[hist_bin((float)e, d)]++;
}

/* Metrics of one group. The sums run in 8 explicit float lanes combined in a fixed order: the
 * compiler vectorises that without reassociating anything, so the result is the same in every
 * build. Histogram bins are counted into hist4 (four interleaved tables, no store-to-load chain
 * on one counter); the caller folds them into m->hist. */
#define METRIC_CHUNK WG_METRIC_CHUNK /* n <= METRIC_CHUNK */
static void metric_group(wg_qmetrics *m, const float *x, const uint8_t *codes, int n, float d,
                         int z, const float *w, int qmax, uint32_t (*hist4)[WG_QHIST_BINS])
{
    float ssx[LANES] = {0}, ssq[LANES] = {0}, dot[LANES] = {0}, sse[LANES] = {0},
          wsse[LANES] = {0}, mx[LANES] = {0};
    uint32_t clip[LANES] = {0};
    uint8_t bins[METRIC_CHUNK];
    const float zf = (float)z, inv = d != 0.0f ? 1.0f / fabsf(d) : 0.0f, half = 0.5f * fabsf(d) * 1.0001f;
    const float hb = (float)((WG_QHIST_BINS - 2) / 2), top = (float)(WG_QHIST_BINS - 1);
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float xi = x[i + l], y = d * ((float)codes[i + l] - zf), e = xi - y, ae = fabsf(e);
            ssx[l] += xi * xi;
            ssq[l] += y * y;
            dot[l] += xi * y;
            sse[l] += e * e;
            wsse[l] += (w ? w[i + l] : 1.0f) * e * e;
            mx[l] = ae > mx[l] ? ae : mx[l];
            clip[l] += (uint32_t)((codes[i + l] == 0 || codes[i + l] == qmax) & (ae > half));
            float r = (e * inv + 1.0f) * hb + 1.0f;
            r = !(r >= 0.0f) ? 0.0f : r > top ? top : r; /* NaN -> bin 0, never an int cast */
            bins[i + l] = (uint8_t)(int)r;
        }
    for (int l = 0; i < n; i++, l++) { /* tail (a last, partial group): same lanes */
        float xi = x[i], y = d * ((float)codes[i] - zf), e = xi - y, ae = fabsf(e);
        ssx[l] += xi * xi;
        ssq[l] += y * y;
        dot[l] += xi * y;
        sse[l] += e * e;
        wsse[l] += (w ? w[i] : 1.0f) * e * e;
        mx[l] = ae > mx[l] ? ae : mx[l];
        clip[l] += (uint32_t)((codes[i] == 0 || codes[i] == qmax) & (ae > half));
        float r = (e * inv + 1.0f) * hb + 1.0f;
        r = !(r >= 0.0f) ? 0.0f : r > top ? top : r;
        bins[i] = (uint8_t)(int)r;
    }
    for (int l = 0; l < LANES; l++) {
        m->ssx += ssx[l];
        m->ssq += ssq[l];
        m->dot += dot[l];
        m->sse += sse[l];
        m->wsse += wsse[l];
        m->max_abs = mx[l] > m->max_abs ? mx[l] : m->max_abs;
        m->clipped += clip[l];
    }
    for (i = 0; i + 4 <= n; i += 4) {
        hist4[0][bins[i]]++;
        hist4[1][bins[i + 1]]++;
        hist4[2][bins[i + 2]]++;
        hist4[3][bins[i + 3]]++;
    }
    for (; i < n; i++)
        hist4[0][bins[i]]++;
}

/* ------------------------------------------------------------------ scale choice */

/* The scale as stored. Weights beyond what the scale type can express (|x| > 65504 * 2^(b-1)
 * with fp16 scales) get the largest finite scale and are clipped — reported by the metrics,
 * never turned into Inf (found by fuzzing). */
static inline float store_scale(float d, bool f32)
{
    const float lim = f32 ? 3.4028234e38f : 65504.0f;
    d = d > lim ? lim : d < -lim ? -lim : d;
    return f32 ? d : wg_f16_to_f32(wg_f32_to_f16(d));
}

/* 1/d, finite: a subnormal d would give Inf, and 0 * Inf is NaN */
static inline float inv_scale(float d)
{
    if (d == 0.0f)
        return 0.0f;
    float id = 1.0f / d;
    return id > 3.4028234e38f ? 3.4028234e38f : id < -3.4028234e38f ? -3.4028234e38f : id;
}

/* u = clamp(floor(x/d + z + 0.5), 0, qmax), computed as t = x*(1/d) + (z + 0.5) in float,
 * clamped before the truncating conversion so that the loop vectorises without branches. */
static inline int code_of(float x, float id, int z, int qmax, int *clipped)
{
    float t = x * id + ((float)z + 0.5f);
    *clipped = t < 0.0f || t >= (float)qmax + 1.0f;
    t = t < 0.0f ? 0.0f : t;
    t = t > (float)qmax ? (float)qmax : t;
    return (int)t;
}

/* Weighted squared error of one candidate (d, z) on a group. */
static double cand_err(const float *x, const float *w, int G, float d, int z, int qmax)
{
    const float id = inv_scale(d), zh = (float)z + 0.5f, fq = (float)qmax,
                zf = (float)z;
    float acc[LANES] = {0}; /* G is a multiple of 32; lanes keep the sum order fixed */
    for (int i = 0; i < G; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float t = x[i + l] * id + zh;
            t = t < 0.0f ? 0.0f : t;
            t = t > fq ? fq : t;
            float e = x[i + l] - d * ((float)(int)t - zf);
            acc[l] += (w ? w[i + l] : 1.0f) * e * e;
        }
    double err = 0;
    for (int l = 0; l < LANES; l++)
        err += acc[l];
    return err;
}

/* RTN parameters for a group. Symmetric: d = m / -2^(b-1) with m the value of largest
 * magnitude, so m maps exactly onto the most negative code (the extra negative level of two's
 * complement is used, not wasted). Asymmetric: min/max range, integer zero point. */
static void rtn_params(const float *x, int G, const wg_qformat *f, float clip, float *d_out,
                       int *z_out)
{
    int qmax = (1 << f->bits) - 1, half = 1 << (f->bits - 1);
    if (f->sym) {
        float mx = 0, mn = 0; /* branch-free (vectorises); the larger magnitude wins, max on a tie */
        for (int i = 0; i < G; i++) {
            mx = x[i] > mx ? x[i] : mx;
            mn = x[i] < mn ? x[i] : mn;
        }
        float m = mx >= -mn ? mx : mn;
        *d_out = store_scale(clip * m / (float)-half, f->scale_f32);
        *z_out = half;
    } else {
        float mn = 0, mx = 0; /* the range always contains 0, so zero is exact */
        for (int i = 0; i < G; i++) {
            mn = x[i] < mn ? x[i] : mn;
            mx = x[i] > mx ? x[i] : mx;
        }
        mn *= clip;
        mx *= clip;
        float d = store_scale((mx - mn) / (float)qmax, f->scale_f32);
        float zf = d != 0.0f ? floorf(-mn * inv_scale(d) + 0.5f) : 0.0f;
        int z = zf < 0.0f ? 0 : zf > (float)qmax ? qmax : (int)zf;
        *d_out = d;
        *z_out = z;
    }
}

#define N_CLIP 12
/* Error-minimising search: clip ratios 1.00 .. 0.56 (and, when symmetric, the scale that puts
 * the extreme on the positive side), then a weighted least-squares refit of d for the winner's
 * codes. Keeps whichever candidate has the least weighted squared error; RTN is candidate 0,
 * so the search can never be worse than RTN on the weighted error it minimises. */
static void search_params(const float *x, const float *w, int G, const wg_qformat *f,
                          float *d_out, int *z_out)
{
    int qmax = (1 << f->bits) - 1, half = 1 << (f->bits - 1);
    float bd;
    int bz;
    rtn_params(x, G, f, 1.0f, &bd, &bz);
    double best = cand_err(x, w, G, bd, bz, qmax);
    for (int c = 1; c < 2 * N_CLIP; c++) {
        float clip = 1.0f - 0.04f * (float)(c % N_CLIP);
        float d;
        int z;
        rtn_params(x, G, f, clip, &d, &z);
        if (c >= N_CLIP) {
            if (!f->sym)
                break;
            d = store_scale(-d * (float)half / (float)(half - 1), f->scale_f32); /* +side */
        }
        double e = cand_err(x, w, G, d, z, qmax);
        if (e < best) {
            best = e;
            bd = d;
            bz = z;
        }
    }
    /* least-squares refit of d with the codes fixed: d* = sum w x q / sum w q^2 */
    float id = inv_scale(bd);
    double num = 0, den = 0;
    for (int i = 0; i < G; i++) {
        int cl;
        int q = code_of(x[i], id, bz, qmax, &cl) - bz;
        double wi = w ? w[i] : 1.0;
        num += wi * x[i] * q;
        den += wi * (double)q * q;
    }
    if (den > 0) {
        float d = store_scale((float)(num / den), f->scale_f32);
        double e = cand_err(x, w, G, d, bz, qmax);
        if (e < best) {
            bd = d;
            best = e;
        }
    }
    *d_out = bd;
    *z_out = bz;
}

/* One group, step by step (quant_internal.h states the contract) */
static void ref_group(const float *x, const float *w, int G, int valid, const wg_qformat *f,
                      bool search, float *d, int *z, uint8_t *codes, wg_qmetrics *m,
                      uint32_t (*hist4)[WG_QHIST_BINS])
{
    const int qmax = (1 << f->bits) - 1;
    if (search)
        search_params(x, w, G, f, d, z);
    else
        rtn_params(x, G, f, 1.0f, d, z);
    float id = inv_scale(*d);
    for (int i = 0; i < G; i++) {
        int c;
        codes[i] = (uint8_t)code_of(x[i], id, *z, qmax, &c);
    }
    for (int c = 0; m && c < valid; c += METRIC_CHUNK) /* per-channel: long */
        metric_group(m, x + c, codes + c, valid - c < METRIC_CHUNK ? valid - c : METRIC_CHUNK, *d,
                     *z, w ? w + c : NULL, qmax, hist4);
}

const wg_qkernels wg_qk_reference = {"reference", ref_group};

/* ------------------------------------------------------------------ packing */

/* Reference: element i -> bits [i*b, i*b+b) of the little-endian bit stream. Any n; writes
 * ceil(n*b/8) bytes. */
void wg_pack_codes(const uint8_t *u, uint64_t n, int bits, uint8_t *out)
{
    memset(out, 0, (size_t)((n * (uint64_t)bits + 7) / 8));
    for (uint64_t i = 0; i < n; i++)
        for (int k = 0; k < bits; k++)
            if (u[i] >> k & 1) {
                uint64_t bit = i * (uint64_t)bits + (uint64_t)k;
                out[bit / 8] |= (uint8_t)(1u << (bit % 8));
            }
}

static void pack_ref(const uint8_t *u, int G, int bits, uint8_t *out)
{
    wg_pack_codes(u, (uint64_t)G, bits, out);
}

static int unpack_ref(const uint8_t *in, int i, int bits)
{
    int v = 0;
    for (int k = 0; k < bits; k++) {
        int bit = i * bits + k;
        v |= (in[bit / 8] >> (bit % 8) & 1) << k;
    }
    return v;
}

/* Fast: 32 codes at a time through a 64-bit accumulator (any width), byte stores for 4/8. */
static void pack_fast(const uint8_t *restrict u, int G, int bits, uint8_t *restrict out)
{
    if (bits == 8) {
        memcpy(out, u, (size_t)G);
        return;
    }
    if (bits == 4) { /* codes < 16: the low byte of w | w >> 4 packs a little-endian pair w */
#ifdef __SSE2__
        const __m128i lo = _mm_set1_epi16(0xff);
        for (int i = 0; i < G; i += 16) {
            __m128i w = _mm_loadu_si128((const __m128i *)(u + i));
            w = _mm_and_si128(_mm_or_si128(w, _mm_srli_epi16(w, 4)), lo);
            _mm_storel_epi64((__m128i *)(out + i / 2), _mm_packus_epi16(w, w));
        }
#else
        for (int i = 0; i < G; i += 2)
            out[i / 2] = (uint8_t)(u[i] | u[i + 1] << 4);
#endif
        return;
    }
    if (bits == 2) {
        for (int i = 0; i < G; i += 4)
            out[i / 4] = (uint8_t)(u[i] | u[i + 1] << 2 | u[i + 2] << 4 | u[i + 3] << 6);
        return;
    }
    uint64_t acc = 0;
    int nb = 0, o = 0;
    for (int i = 0; i < G; i++) {
        acc |= (uint64_t)u[i] << nb;
        nb += bits;
        while (nb >= 8) {
            out[o++] = (uint8_t)acc;
            acc >>= 8;
            nb -= 8;
        }
    }
}

static void unpack_fast(const uint8_t *in, int G, int bits, uint8_t *u)
{
    if (bits == 8) {
        memcpy(u, in, (size_t)G);
        return;
    }
    if (bits == 4) {
        for (int i = 0; i < G; i += 2) {
            u[i] = in[i / 2] & 15;
            u[i + 1] = in[i / 2] >> 4;
        }
        return;
    }
    uint64_t acc = 0;
    int nb = 0, o = 0, mask = (1 << bits) - 1;
    for (int i = 0; i < G; i++) {
        while (nb < bits) {
            acc |= (uint64_t)in[o++] << nb;
            nb += 8;
        }
        u[i] = (uint8_t)(acc & (uint64_t)mask);
        acc >>= bits;
        nb -= bits;
    }
}

void wg_unpack_codes(const uint8_t *in, uint64_t n, int bits, uint8_t *out)
{
    for (uint64_t c = 0; c < n; c += 256) /* 256 codes are a whole number of bytes */
        unpack_fast(in + c / 8 * (uint64_t)bits, n - c < 256 ? (int)(n - c) : 256, bits, out + c);
}

/* ------------------------------------------------------------------ rows */

static inline void put_scale(uint8_t *scales, int64_t idx, float d, bool f32)
{
    if (f32)
        memcpy(scales + 4 * idx, &d, 4);
    else {
        uint16_t h = wg_f32_to_f16(d);
        memcpy(scales + 2 * idx, &h, 2);
    }
}

static inline float get_scale(const uint8_t *scales, int64_t idx, bool f32)
{
    if (f32) {
        float d;
        memcpy(&d, scales + 4 * idx, 4);
        return d;
    }
    uint16_t h;
    memcpy(&h, scales + 2 * idx, 2);
    return wg_f16_to_f32(h);
}

/* Quantize rows [r0, r0+n) given as float rows x[n][K]. `planes` = data|scales|zeros of the
 * whole tensor (layout l). k: the per-group kernels; ref also selects the reference packer. */
static void quant_rows(const wg_qformat *f, const wg_qlayout *l, const float *x, int64_t r0,
                       int64_t n, const float *importance, bool search, const wg_qkernels *k,
                       bool ref, uint8_t *planes, float *xg, float *wbuf, uint8_t *codes,
                       wg_qmetrics *m)
{
    const int G = (int)l->group, bits = f->bits;
    const size_t gbytes = (size_t)G * bits / 8;
    uint8_t *data = planes, *scales = planes + l->data_bytes,
            *zeros = planes + l->data_bytes + l->scale_bytes;
    uint32_t hist4[4][WG_QHIST_BINS] = {{0}};
    for (int64_t r = 0; r < n; r++) {
        const float *row = x + r * l->K;
        for (int64_t g = 0; g < l->ngroups; g++) {
            int64_t k0 = g * G, valid = l->K - k0 < G ? l->K - k0 : G;
            const float *xs = row + k0, *w = importance ? importance + k0 : NULL;
            if (valid < G) { /* padding columns are zeros, dequantize to exactly 0 */
                memcpy(xg, row + k0, (size_t)valid * sizeof(float));
                for (int64_t i = valid; i < G; i++)
                    xg[i] = 0.0f;
                xs = xg;
                for (int64_t i = 0; importance && i < G; i++)
                    wbuf[i] = i < valid ? importance[k0 + i] : 0.0f;
                w = importance ? wbuf : NULL;
            }
            float d;
            int z;
            k->group(xs, w, G, (int)valid, f, search, &d, &z, codes, m, hist4);
            int64_t gi = (r0 + r) * l->ngroups + g;
            (ref ? pack_ref : pack_fast)(codes, G, bits, data + (size_t)gi * gbytes);
            put_scale(scales, gi, d, f->scale_f32);
            if (!f->sym)
                zeros[gi] = (uint8_t)z;
        }
        if (m)
            m->n += (uint64_t)l->K;
    }
    for (int b = 0; m && b < WG_QHIST_BINS; b++)
        m->hist[b] += (uint64_t)hist4[0][b] + hist4[1][b] + hist4[2][b] + hist4[3][b];
}

int wg_quantize_rows(const wg_qformat *f, const wg_qlayout *l, const float *x, int64_t r0,
                     int64_t n, const wg_qopts *o, uint8_t *planes, wg_qmetrics *m)
{
    if (f->kind != WG_Q_INT || !wg_qbits_row(f->bits) || l->group <= 0 || l->group % 32)
        return -1;
    int finite = 1; /* a branch-free AND over the block: vectorises */
    for (int64_t i = 0; i < n * l->K; i++)
        finite &= fabsf(x[i]) <= 3.4028235e38f;
    if (!finite)
        return 1;
    float *xg = malloc(2 * sizeof(float) * (size_t)l->group); /* group values | weights */
    uint8_t *codes = malloc((size_t)l->group);
    if (!xg || !codes) {
        free(xg);
        free(codes);
        return -1;
    }
    bool ref = o && o->reference;
    const wg_qkernels *k = &wg_qk_reference;
#ifndef WG_QUANT_REFERENCE_ONLY /* the wasm build has the reference only */
    if (!ref && !(k = wg_qk_fast(o ? o->kernels : NULL))) {
        free(xg);
        free(codes);
        return -1;
    }
#endif
    quant_rows(f, l, x, r0, n, o ? o->importance : NULL, o && o->search, k, ref, planes, xg,
               xg + l->group, codes, m);
    free(xg);
    free(codes);
    return 0;
}

void wg_dequantize_rows(const wg_qformat *f, const wg_qlayout *l, const uint8_t *planes,
                        int64_t r0, int64_t n, bool ref, float *out)
{
    const int G = (int)l->group, bits = f->bits, half = 1 << (bits - 1);
    const size_t gbytes = (size_t)G * bits / 8;
    const uint8_t *data = planes, *scales = planes + l->data_bytes,
                  *zeros = planes + l->data_bytes + l->scale_bytes;
    uint8_t codes[256]; /* per-channel groups can be any length: unpack 256 at a time */
    for (int64_t r = 0; r < n; r++) {
        for (int64_t g = 0; g < l->ngroups; g++) {
            int64_t gi = (r0 + r) * l->ngroups + g;
            const uint8_t *gd = data + (size_t)gi * gbytes;
            float d = get_scale(scales, gi, f->scale_f32);
            int z = f->sym ? half : zeros[gi];
            for (int c = 0; c < G; c += 256) {
                int cn = G - c < 256 ? G - c : 256;
                if (ref)
                    for (int i = 0; i < cn; i++)
                        codes[i] = (uint8_t)unpack_ref(gd, c + i, bits);
                else
                    unpack_fast(gd + (size_t)c * bits / 8, cn, bits, codes);
                int64_t k0 = g * G + c;
                for (int i = 0; i < cn && k0 + i < l->K; i++)
                    out[r * l->K + k0 + i] = d * (float)(codes[i] - z);
            }
        }
    }
}

/* fp16 / bf16 / f32 targets: convert, and measure the (usually tiny) cast error. */
int wg_cast_rows(const wg_qformat *f, const float *x, uint64_t count, uint8_t *out,
                 wg_qmetrics *m)
{
    for (uint64_t i = 0; i < count; i++) {
        float y;
        if (f->kind == WG_Q_F16) {
            uint16_t h = wg_f32_to_f16(x[i]);
            memcpy(out + 2 * i, &h, 2);
            y = wg_f16_to_f32(h);
        } else if (f->kind == WG_Q_BF16) {
            uint16_t h = wg_f32_to_bf16(x[i]);
            memcpy(out + 2 * i, &h, 2);
            y = wg_bf16_to_f32(h);
        } else if (f->kind == WG_Q_F32) {
            memcpy(out + 4 * i, &x[i], 4);
            y = x[i];
        } else
            return -1;
        if (!m)
            continue;
        if (!isfinite(x[i])) {
            m->nonfinite++; /* kept as is (NaN stays NaN, Inf stays Inf); not in the sums */
            continue;
        }
        metric_elem(m, x[i], isfinite(y) ? y : 0.0f, 0.0f, 1.0f, !isfinite(y));
        m->n++;
    }
    return 0;
}
