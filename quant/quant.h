/* quant/quant.h — quantization formats, bit-packing, error metrics, presets and the planner.
 *
 * Contract
 *  - Pure C over memory: no file I/O. Inputs are float32 matrices; outputs are caller-visible
 *    buffers whose sizes are given exactly by wg_qformat_layout().
 *  - A weight is viewed as a matrix [rows][K] with K the *input* dimension (the one a matmul
 *    reduces over). Quantization groups run along K. See README "Quantized layout".
 *  - Deterministic: results never depend on the thread count (work is split into fixed row
 *    blocks, each written at a fixed offset, reductions done in row order).
 *
 * Layout of an integer format (b bits, group G, per row K padded with zeros to Kp, a multiple
 * of G; per-channel uses G = Kp = K rounded up to 32):
 *   qdata : rows * Kp * b / 8 bytes. Row r, group g occupies G*b/8 bytes (a whole number of
 *           u32 words, since G is a multiple of 32). Inside a group, element i occupies bits
 *           [i*b, i*b+b) of the group's little-endian bit stream: bit k of the stream is bit
 *           (k % 8) of byte (k / 8). So 4-bit element i sits in byte i/2, low nibble when i is
 *           even (exactly ONNX Runtime MatMulNBits' layout); 3-bit element 5 sits in bits 15..17,
 *           i.e. bit 7 of byte 1 and bits 0..1 of byte 2.
 *   scales: rows * ngroups scales, fp16 (default) or f32, row-major.
 *   zeros : asymmetric only: rows * ngroups bytes, one unsigned zero point per group.
 *   Stored codes u are unsigned in [0, 2^b - 1]. Dequantization:
 *     symmetric   x = s * (u - 2^(b-1))
 *     asymmetric  x = s * (u - z)
 */
#ifndef WG_QUANT_H
#define WG_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* WG_Q_RAW keeps a tensor's original bytes (non-float tensors: indices, masks, shapes). */
typedef enum wg_qkind { WG_Q_RAW = 0, WG_Q_F32, WG_Q_F16, WG_Q_BF16, WG_Q_INT } wg_qkind;

typedef struct wg_qformat {
    wg_qkind kind;
    int bits;        /* 2..8 for WG_Q_INT */
    int group;       /* 32, 64, 128, 256, or 0 = per-channel (one group per row) */
    bool sym;        /* symmetric (scale only) or asymmetric (scale + zero point) */
    bool scale_f32;  /* scales stored as f32 instead of fp16 */
} wg_qformat;

/* Per bit width: everything the code needs to know about packing (one row per width). */
typedef struct wg_qbits {
    int bits;
    int qmax;                /* 2^bits - 1 */
    int words_per_32;        /* u32 words holding 32 elements (= bits) */
} wg_qbits;
const wg_qbits *wg_qbits_row(int bits); /* NULL if unsupported */

/* Parse "fp16", "bf16", "f32", "q4" (= q4g32s), "q4g128a", "q8cs" (per-channel), with an
 * optional ".s32" suffix for f32 scales. Returns false on an unknown name. */
bool wg_qformat_parse(const char *s, wg_qformat *f);
/* Canonical name, e.g. "q4g32s", "q8cs", "fp16"; buf >= 32 bytes. */
const char *wg_qformat_name(const wg_qformat *f, char *buf, size_t n);
/* Average storage bits per weight for a row of length K (data + scales + zeros). */
double wg_qformat_bpw(const wg_qformat *f, int64_t K);

typedef struct wg_qlayout {
    int64_t rows, K, Kp, group, ngroups;
    uint64_t data_bytes, scale_bytes, zero_bytes, total_bytes;
} wg_qlayout;
/* Exact byte sizes for a rows x K matrix; false on overflow. For fp formats only data_bytes
 * is non-zero. */
bool wg_qformat_layout(const wg_qformat *f, int64_t rows, int64_t K, wg_qlayout *out);


/* ---- float conversions (round-to-nearest-even; NaN stays NaN, Inf stays Inf) ---- */
float wg_f16_to_f32(uint16_t h);
uint16_t wg_f32_to_f16(float f);
float wg_bf16_to_f32(uint16_t h);
uint16_t wg_f32_to_bf16(float f);

/* ---- error metrics (accumulated in fixed order, so thread-count independent) ---- */
#define WG_QHIST_BINS 18 /* error / step in 16 bins over [-1,1), plus an underflow and overflow bin */
typedef struct wg_qmetrics {
    uint64_t n, clipped, nonfinite;
    double ssx, sse, ssq, dot, wsse, max_abs; /* sum x^2, sum err^2, sum xhat^2, sum x*xhat,
                                                importance-weighted sse, max |err| */
    uint64_t hist[WG_QHIST_BINS];
} wg_qmetrics;
void wg_qmetrics_add(wg_qmetrics *a, const wg_qmetrics *b);
double wg_qm_sqnr_db(const wg_qmetrics *m);   /* +inf when exact */
double wg_qm_rel_rmse(const wg_qmetrics *m);
double wg_qm_cosine(const wg_qmetrics *m);
double wg_qm_clipped_frac(const wg_qmetrics *m);

typedef struct wg_qopts {
    bool search;              /* error-minimising scale search instead of plain RTN */
    bool reference;           /* use the scalar reference kernels and packer (tests) */
    const char *kernels;      /* fast kernels: NULL = the best this CPU runs, or "generic",
                                 "avx2" (tests; -1 if this CPU cannot run them) */
    const float *importance;  /* per-column weights (length K) for the search, or NULL */
    int threads;              /* 0 or 1: single-threaded */
    const struct wg_model *model; /* when set, wg_quantize_tensor drops the input pages of a mapped
                                 tensor as it consumes them (resident memory near one wave) */
} wg_qopts;

/* Quantize float rows x[n][K] (rows r0..r0+n of the matrix) into `planes`, the tensor's
 * data|scales|zeros buffer of l->total_bytes. Returns 0, 1 if x holds NaN/Inf (nothing
 * written), -1 on a bad format. Adds to *m when m is not NULL. */
int wg_quantize_rows(const wg_qformat *f, const wg_qlayout *l, const float *x, int64_t r0,
                     int64_t n, const wg_qopts *o, uint8_t *planes, wg_qmetrics *m);
void wg_dequantize_rows(const wg_qformat *f, const wg_qlayout *l, const uint8_t *planes,
                        int64_t r0, int64_t n, bool ref, float *out);
/* The bit stream alone: n codes of `bits` bits, element i at bits [i*b, i*b+b). Packing takes
 * any n and writes ceil(n*b/8) bytes; unpacking needs n a multiple of 8 (whole groups are). */
void wg_pack_codes(const uint8_t *codes, uint64_t n, int bits, uint8_t *out);
void wg_unpack_codes(const uint8_t *in, uint64_t n, int bits, uint8_t *codes);
/* fp16/bf16/f32 targets: count values into out (2 or 4 bytes each). */
int wg_cast_rows(const wg_qformat *f, const float *x, uint64_t count, uint8_t *out,
                 wg_qmetrics *m);

/* ---- plans: tensor -> format ---- */
#include "../formats/model.h"

/* The matrix view of a tensor: rows x K with K the input (reduction) dimension.
 * [out, in, ...] -> rows = shape[0], K = the rest; in_dim_first 2-D [in, out] -> rows = shape[1],
 * K = shape[0]; 0-D/1-D -> rows = 1. */
void wg_tensor_matrix(const wg_tensor *t, int64_t *rows, int64_t *K);

typedef struct wg_plan_entry {
    wg_qformat fmt;
    int64_t rows, K;
    uint64_t bytes;       /* exact stored bytes in this format */
    const char *why;      /* "preset", "role", "override", "small", "planner", "webnn", ... */
    double cost;          /* planner: estimated prior x relative error (0 when not planned) */
} wg_plan_entry;

typedef enum wg_preset { WG_PRESET_MIXED = 0, WG_PRESET_FP16, WG_PRESET_Q8, WG_PRESET_Q6,
    WG_PRESET_Q5, WG_PRESET_Q4, WG_PRESET_Q3, WG_PRESET_Q2, WG_PRESET_COUNT } wg_preset;
bool wg_preset_parse(const char *s, wg_preset *p);
const char *wg_preset_name(wg_preset p);

/* What the planner may choose for a tensor, and what each choice costs in bytes where the plan
 * is going (sorted by the planner; at most WG_PLAN_MAX_CAND). */
#define WG_PLAN_MAX_CAND 16
typedef struct wg_plan_cands {
    int n;
    wg_qformat fmt[WG_PLAN_MAX_CAND];
    uint64_t bytes[WG_PLAN_MAX_CAND];
} wg_plan_cands;
struct wg_plan_opts;
/* A plan's target. NULL (or NULL functions) means the bundle: every integer width at the run's
 * group and symmetry plus fp16, sized by wg_plan_entry_size. Other targets (pack/: ONNX) list
 * only the formats they store compactly, with their stored sizes. */
typedef struct wg_plan_target {
    const char *name;
    void (*cands)(void *ctx, const wg_model *m, size_t i, const struct wg_plan_entry *e,
                  const struct wg_plan_opts *o, wg_plan_cands *out);
    uint64_t (*bytes)(void *ctx, const wg_model *m, size_t i, const struct wg_plan_entry *e);
    void *ctx;
} wg_plan_target;

typedef struct wg_plan_opts {
    wg_preset preset;
    int group;            /* 32/64/128/256 or 0 per-channel; default 32 */
    int sym;              /* 1 symmetric (default), 0 asymmetric */
    bool scale_f32;
    uint64_t small_numel; /* tensors with fewer elements stay fp16 (default 4096) */
    const wg_plan_target *target; /* NULL: the bundle */
} wg_plan_opts;
void wg_plan_opts_default(wg_plan_opts *o);

/* Role defaults for a preset: fills out[i] for every tensor of m. */
int wg_plan_preset(const wg_model *m, const wg_plan_opts *o, wg_plan_entry *out, wg_error *err);
/* Recompute rows/K/bytes of an entry after its fmt changed; false on overflow. */
bool wg_plan_entry_size(const wg_tensor *t, wg_plan_entry *e);

/* Apply one "PATTERN=FORMAT" override (README "Overrides"); marks matched tensors in pinned
 * (may be NULL). Returns WG_EUSAGE on a malformed rule. */
int wg_plan_override(const wg_model *m, const char *set, const wg_plan_opts *o,
                     wg_plan_entry *plan, bool *pinned, wg_error *err);
/* First and last n layers one step up the ladder q2 q3 q4 q5 q6 q8 fp16 (pinned skipped). */
void wg_plan_critical_layers(const wg_model *m, int n, wg_plan_entry *plan, const bool *pinned);
/* WebNN target: integer formats below 8 bits raised to 8; returns how many were raised. */
int wg_plan_webnn(const wg_model *m, wg_plan_entry *plan);

/* Sensitivity planner: choose formats for the integer, unpinned tensors so that the total
 * stays within `budget` bytes with least summed cost (see planner.c). importance[i] is an
 * optional per-column weight vector for tensor i (calibration), or NULL.
 * WG_EBUDGET if even the smallest formats do not fit. */
typedef struct wg_plan_stats {
    uint64_t budget, min_bytes, bytes;
    double cost;
} wg_plan_stats;
int wg_plan_budget(const wg_model *m, const wg_plan_opts *o, wg_plan_entry *plan,
                   const bool *pinned, uint64_t budget, const float *const *importance,
                   int threads, wg_plan_stats *st, wg_error *err);
double wg_role_prior(wg_role r);
/* The two halves of wg_plan_budget: scoring (expensive, once) and allocation (cheap, per
 * budget), so budgets can be swept (Pareto curves) without re-measuring. */
typedef struct wg_plan_scores wg_plan_scores;
int wg_plan_score(const wg_model *m, const wg_plan_opts *o, const wg_plan_entry *plan,
                  const bool *pinned, const float *const *importance, int threads,
                  wg_plan_scores **out, wg_error *err);
int wg_plan_allocate(const wg_plan_scores *s, const wg_model *m, const wg_plan_opts *o,
                     wg_plan_entry *plan, uint64_t budget, wg_plan_stats *st, wg_error *err);
void wg_plan_scores_free(wg_plan_scores *s);
/* The candidates of live tensor i (NULL if it is not the planner's) and their proxy costs. */
const wg_plan_cands *wg_plan_candidates(const wg_plan_scores *s, size_t i, const double **proxy);

/* End-to-end costs measured with only tensor `tensor` in format `fmt` (verify --measure). They
 * replace the proxy; a tensor's unmeasured candidates get its proxy scaled by its own mean
 * measured/proxy ratio (geometric), or by the median ratio over measured tensors when it has
 * none. A candidate whose cost exceeds max_damage (> 0) is never chosen, except the widest.
 * Returns -1 on allocation failure. */
typedef struct wg_plan_measure {
    size_t tensor;
    wg_qformat fmt;
    double cost;
} wg_plan_measure;
typedef struct wg_plan_measured_stats {
    int measured, interpolated, excluded;
    double spearman;      /* rank agreement of proxy and measured costs (NaN below 2 pairs) */
} wg_plan_measured_stats;
int wg_plan_use_measured(wg_plan_scores *s, const wg_plan_measure *mv, size_t n,
                         double max_damage, wg_plan_measured_stats *st);
/* 0 proxy, 1 measured, 2 interpolated, 3 excluded; -1: not a candidate of tensor i. */
int wg_plan_cost_source(const wg_plan_scores *s, size_t i, const wg_qformat *f);
double wg_spearman(const double *a, const double *b, size_t n);
bool wg_qformat_eq(const wg_qformat *a, const wg_qformat *b);

/* Rows [r0, r0+n) of a float tensor's matrix view as f32 (false: not a float tensor). */
bool wg_read_rows(const wg_tensor *t, int64_t r0, int64_t n, float *out);

/* Quantize (or cast, or copy) a whole tensor in its planned format into out[e->bytes],
 * threads over fixed row blocks. Returns 0, WG_EINPUT with a message if the tensor holds
 * NaN/Inf and the format is an integer one, WG_EIO on allocation failure. */
int wg_quantize_tensor(const wg_tensor *t, const wg_plan_entry *e, const wg_qopts *o,
                       uint8_t *out, wg_qmetrics *m, wg_error *err);
/* Every tensor of m in index order, quantized in its planned format as wg_quantize_tensor does,
 * handed to sink(ctx, i, data, bytes, metrics, err) on a second thread: writing tensor i
 * overlaps quantizing tensor i+1. Each tensor's input pages are dropped once consumed. data is
 * valid until sink returns. Returns 0 or the first error (of the quantizer or of the sink). */
typedef int (*wg_qsink)(void *ctx, size_t i, const uint8_t *data, uint64_t bytes,
                        const wg_qmetrics *qm, wg_error *err);
int wg_quantize_stream(const wg_model *m, const wg_plan_entry *plan, const wg_qopts *o,
                       wg_qsink sink, void *ctx, wg_error *err);
/* Dequantize a tensor stored in format e->fmt back to f32 rows (rows x K). */
int wg_dequantize_tensor(const wg_plan_entry *e, const uint8_t *in, float *out);

/* Run fn(ctx, block, thread) for block = 0..nblocks-1 on `threads` threads. */
void wg_parallel_for(int threads, int64_t nblocks, void (*fn)(void *, int64_t, int), void *ctx);

#endif
