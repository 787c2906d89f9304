/* formats/wgsl.h — WGSL kernels generated per quantized format, kernel shape and variant.
 *
 * Contract
 *  - wg_wgsl_emit() writes the text of one kernel (dequantize, gather, GEMV or GEMM) for one
 *    weight format (bits, group, symmetry, scale type; or fp16 / bf16 / f32 weights), one kernel
 *    shape (from a browser profile, or any shape the tuner tries) and one variant (f32 or f16
 *    arithmetic; subgroup reductions or workgroup-memory ones), into a caller buffer.
 *    Deterministic: same inputs, same bytes.
 *  - The kernels read the bundle's planes directly (no dequantized copy in GPU memory):
 *      @binding(0) q  packed data plane of one tensor part (array<u32> / vec2 / vec4 views)
 *      @binding(1) s  scales (fp16 pairs, or f32 bits)                       [integer formats]
 *      @binding(2) z  zero points, 4 per word                                 [asymmetric]
 *      @binding(3) x  f32 input: GEMV [Kp] (zero beyond K), GEMM [n][K] row-major;
 *                     gather: u32 row indices [n]
 *      @binding(4) y  f32 output: dequantize [rows][K], gather [n][K], GEMV [rows], GEMM [n][rows]
 *      @binding(5) p  Params { rows, K, Kp, n, G, pad, pad, pad } (uniform, 32 bytes)
 *    Dispatch (x, y, 1):
 *      dequantize  one row per workgroup: (min(rows,65535), ceil(rows/65535))
 *      gather      one index per workgroup: (min(n,65535), ceil(n/65535))
 *      GEMV        gemv_rows rows per workgroup: W = ceil(rows/gemv_rows): (min(W,65535), ceil(W/65535))
 *      GEMM        (ceil(rows/gemm_bm), ceil(n/gemm_bn))
 *  - Dequantize and gather compute exactly what the C reference computes (scale * f32(code -
 *    zero)), so they are bit-exact; GEMV/GEMM accumulate in f32 (f16 in the f16 variants) in a
 *    fixed order, so one adapter gives the same bits on every run.
 *  - Integer codes become floats without an int->float conversion: OR-ing a code c < 2^23 into
 *    the mantissa of 2^23 (0x4b000000) gives the float 2^23 + c exactly, and subtracting
 *    2^23 + zero is exact too. Conversions run at a quarter of the FMA rate or less on GPUs;
 *    this keeps a 4-bit GEMV at ~4 simple instructions per weight, under the memory time.
 */
#ifndef WG_WGSL_H
#define WG_WGSL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The shape of the kernels: what the tuner chooses per profile. */
typedef struct wg_kshape {
    int gemv_threads;  /* GEMV / dequantize / gather workgroup size */
    int gemv_rows;     /* rows per GEMV workgroup (weights of x reused across them) */
    int gemm_bm, gemm_bn; /* GEMM output tile per workgroup: rows x inputs (multiples of 4) */
    int gemm_tm, gemm_tn; /* per-thread register tile (multiples of 4; bm/tm * bn/tn threads) */
    int gemv_unroll;   /* integer GEMV: 0 = x staged per tile in workgroup memory; U >= 1 = x read
                        * straight from the buffer, U chunks of each row loaded per step, no barrier
                        * in the K loop */
    int gemv_fp_threads, gemv_fp_rows; /* GEMV of f32/fp16/bf16 weights, if not 0 (they stream
                        * 2-4x the bytes per weight of the integer formats and want another shape) */
} wg_kshape;

/* A browser profile: the WebGPU limits a bundle may assume, a per-tab memory budget, and the
 * kernel shape measured (or, where no such hardware can be measured here, assumed) for it. */
typedef struct wg_profile {
    const char *name;
    uint64_t max_binding;    /* maxStorageBufferBindingSize assumed */
    uint64_t max_buffer;     /* maxBufferSize assumed */
    uint64_t memory_budget;  /* bytes one tab may reasonably hold */
    bool shader_f16, subgroups;
    wg_kshape shape;
    const char *source;      /* where the shape comes from: a tuner run, or "not measured: ..." */
} wg_profile;
const wg_profile *wg_profiles(int *n);

typedef enum wg_kernel_kind { WG_K_DEQUANT = 0, WG_K_GEMV, WG_K_GEMM, WG_K_GATHER, WG_K_COUNT } wg_kernel_kind;
const char *wg_kernel_kind_name(wg_kernel_kind k);
bool wg_kernel_kind_parse(const char *s, wg_kernel_kind *k);

/* The weight format a kernel reads (mirrors quant/quant.h's wg_qformat without depending on
 * it: formats/ is below quant/). kind: 0 f32, 1 fp16, 2 bf16, 3 integer. */
typedef struct wg_kformat {
    int kind, bits, group; /* group: 32..256, or 0 = per-channel (G = Kp from the parameters) */
    bool sym, scale_f32;
} wg_kformat;
/* The shape kernel kind k of format f is emitted with: s, with the fp GEMV shape where s sets one. */
wg_kshape wg_kshape_of(const wg_kshape *s, wg_kernel_kind k, const wg_kformat *f);

/* Variant: f16 arithmetic (needs shader-f16) and subgroup reductions (needs subgroups). */
typedef struct wg_kvariant {
    bool f16, subgroups;
} wg_kvariant;
/* Does this kernel kind have a subgroup variant? (only GEMV reduces across threads) */
bool wg_kernel_has_subgroups(wg_kernel_kind k);
/* Is the shape valid (divisibility, at most 256 invocations, 16 KiB of workgroup memory)? */
bool wg_kshape_valid(wg_kernel_kind k, const wg_kshape *s);

/* Emit one kernel. Returns the text length, or -1 if buf is too small or the shape invalid. */
int wg_wgsl_emit(wg_kernel_kind kind, const wg_kformat *f, const wg_kshape *s,
                 const wg_kvariant *v, char *buf, size_t n);

/* The int8-activation GEMV (approximate; formats/wgsl.c says how): for 4- and 8-bit codes.
 * Extra bindings: @binding(3) xq = the pre-pass's int8 activations [Kp/4] u32 (instead of x),
 * @binding(6) xd = per block of 32 (d, d * sum(q)) as vec2<f32> [Kp/32]. Same dispatch as GEMV.
 * The pre-pass (xq8) reads x at binding 3 and writes xq (4) and xd (6); dispatch
 * ceil(Kp/32/64) workgroups; nibble order for 4-bit codes, linear for 8-bit. */
bool wg_gemv_dot8_supported(const wg_kformat *f);
int wg_wgsl_emit_gemv_dot8(const wg_kformat *f, const wg_kshape *s, bool subgroups, char *buf, size_t n);
int wg_wgsl_emit_xq8(bool nibble_order, char *buf, size_t n);

#endif
