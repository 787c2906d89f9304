/* formats/wgsl.h — WGSL kernels generated per quantized format and browser profile.
 *
 * Contract
 *  - wg_wgsl_emit() writes the text of one kernel (dequantize, GEMV or GEMM) for one format
 *    (bits, group, symmetry, scale type; or fp16 / bf16 / f32 weights) and one profile, into a
 *    caller buffer. Deterministic: same inputs, same bytes.
 *  - The kernels read the bundle's planes directly (no dequantized copy in GPU memory):
 *      @group(0) @binding(0) q  : array<u32>  packed data plane of one tensor part
 *      @group(0) @binding(1) s  : array<u32>  scales (fp16 pairs, or f32 bits)   [integer formats]
 *      @group(0) @binding(2) z  : array<u32>  zero points, 4 per word            [asymmetric]
 *      @group(0) @binding(3) x  : array<f32>  input: vector [K] (GEMV) or matrix [N][K] (GEMM)
 *      @group(0) @binding(4) y  : array<f32>  output: dequantize [rows][K], GEMV [rows], GEMM [N][rows]
 *      @group(0) @binding(5) p  : Params { rows, K, Kp, n }   (uniform)
 *    Dispatch: dequantize and GEMV use (min(rows,65535), ceil(rows/65535), 1) workgroups, one
 *    row per workgroup; GEMM uses (ceil(rows/tile_rows), ceil(n/tile_n), 1).
 *  - Dequantize computes exactly what the C reference computes (scale * f32(code - zero)), so its
 *    output is bit-exact; GEMV/GEMM accumulate in f32 (or f16 in the f16 variants).
 */
#ifndef WG_WGSL_H
#define WG_WGSL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A browser profile: the WebGPU limits a bundle may assume, a per-tab memory budget, and the
 * kernel shape that suits that browser (starting points to be tuned by measurement). */
typedef struct wg_profile {
    const char *name;
    uint64_t max_binding;    /* maxStorageBufferBindingSize assumed */
    uint64_t max_buffer;     /* maxBufferSize assumed */
    uint64_t memory_budget;  /* bytes one tab may reasonably hold */
    bool shader_f16, subgroups;
    int gemv_threads;        /* GEMV/dequantize workgroup size (threads per row) */
    int unroll;              /* 32-element chunks per GEMV loop iteration */
    int tile_n, tile_rows;   /* GEMM workgroup = tile_n x tile_rows threads, one output each */
} wg_profile;
const wg_profile *wg_profiles(int *n);

typedef enum wg_kernel_kind { WG_K_DEQUANT = 0, WG_K_GEMV, WG_K_GEMM, WG_K_COUNT } wg_kernel_kind;
const char *wg_kernel_kind_name(wg_kernel_kind k);

/* The weight format a kernel reads (mirrors quant/quant.h's wg_qformat without depending on
 * it: formats/ is below quant/). kind: 0 f32, 1 fp16, 2 bf16, 3 integer. */
typedef struct wg_kformat {
    int kind, bits, group; /* group: the stored group length (per-channel: the padded row) */
    bool sym, scale_f32;
} wg_kformat;

/* Emit one kernel; f16: use shader-f16 (enable f16) for the arithmetic. Returns the text length,
 * or -1 if buf is too small. */
int wg_wgsl_emit(wg_kernel_kind kind, const wg_kformat *f, const wg_profile *p, bool f16,
                 char *buf, size_t n);

#endif
