/* quant/quant_internal.h — the per-group steps of integer quantization as a table of kernels:
 * the scalar reference (quant.c, which is the specification) and vectorised fast paths
 * (simd.c) that must produce the same bits, metrics included. Not part of the public API.
 *
 * Contract of a row's `group` (one group of G values, G a multiple of 32; a last, partial group
 * is zero-padded by the caller to G, weights padded with 0):
 *  - d, z: the scale (already rounded to its storage type) and zero point, by round-to-nearest
 *    or, with search, by the error-minimising search; w is the group's column weights or NULL;
 *  - codes[0..G): u = clamp(floor(x / d + z + 0.5), 0, qmax), as code_of() computes it;
 *  - when m is not NULL, the metrics of the first `valid` values, chunk by chunk of
 *    WG_METRIC_CHUNK values: 8 float lanes per chunk folded into m in lane order, histogram bins
 *    counted into hist4 (the caller folds those into m->hist).
 *  A fast row may only differ from the reference in speed: tests/unit/test_simd.c compares
 *  every row against it, bit for bit, on inputs chosen to reach every branch. */
#ifndef WG_QUANT_INTERNAL_H
#define WG_QUANT_INTERNAL_H
#include "quant.h"

#define WG_METRIC_CHUNK 2048

typedef struct wg_qkernels {
    const char *name; /* "reference", "generic", "avx2" */
    void (*group)(const float *x, const float *w, int G, int valid, const wg_qformat *f,
                  bool search, float *d, int *z, uint8_t *codes, wg_qmetrics *m,
                  uint32_t (*hist4)[WG_QHIST_BINS]);
} wg_qkernels;

extern const wg_qkernels wg_qk_reference;
/* A fast row by name ("generic": portable vectors, "avx2"), or for NULL the best one this CPU
 * runs. NULL when the named row does not exist or this CPU cannot run it. */
const wg_qkernels *wg_qk_fast(const char *name);

/* n little-endian fp16 values to f32, bit for bit as wg_f16_to_f32, with the CPU's conversion
 * instruction; false (nothing done) when it has none (simd.c) */
bool wg_qk_f16_to_f32(const uint8_t *in, float *out, uint64_t n);
/* wg_f16_to_f32(wg_f32_to_f16(d)) for |d| <= 65504, without branches (simd.c) */
float wg_qk_round_f16(float d);

#endif
