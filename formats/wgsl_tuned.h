/* formats/wgsl_tuned.h — kernel shapes per browser profile. WRITTEN BY tools/webgpu/tune.mjs
 * (2026-11-24, adapter: nvidia nvidia-h100-80gb-hbm3 NVIDIA: 580.159.04 580.159.4.0, features: timestamp-query,subgroups); do not edit by hand.
 * Fields: gemv_threads, gemv_rows, gemm_bm, gemm_bn, gemm_tm, gemm_tn, gemv_unroll, gemv_fp_threads,
 * gemv_fp_rows. The GEMV shapes of chrome and firefox were set 2026-12-03 from
 * tools/webgpu/sweep_gemv.mjs on an NVIDIA H200, not by a run of this tuner (README, "GEMV layouts"):
 * integer 128 threads x 8 rows with x read directly (unroll 1; with subgroups score 1.008 over 24
 * cases against 1.105 for the x tile 64 x 8; without, 1.119 against 1.231 over 15), fp 128 x 2 (with
 * subgroups the best of every fp16/f32 case, 64 x 8 scored 1.352; without, 1.046 against 1.396).
 * The rest, from the tuner: Score = geometric mean
 * over 15 GEMV and 12 GEMM cases of time / best time (1.00 = best everywhere).
 * chrome/edge: best GEMV with subgroup reductions (score 1.167), GEMM score 1.152.
 * firefox: best GEMV without subgroups (score 1.222) on the same adapter through Dawn:
 * Firefox's own WebGPU (wgpu) cannot run on that GPU here; its compiler (naga) is tested in make check.
 * safari/mobile: no such hardware here; shapes stay conservative. */
#define WG_SHAPE_CHROME {128, 8, 64, 32, 4, 4, 1, 128, 2}
#define WG_SHAPE_CHROME_SOURCE "GEMV with subgroups measured 2026-12-03 on nvidia nvidia-h200 NVIDIA: 580.159.04 (Dawn): tools/webgpu/sweep_gemv.mjs; GEMM measured 2026-11-24 on nvidia nvidia-h100-80gb-hbm3 (Dawn): tools/webgpu/tune.mjs"
#define WG_SHAPE_FIREFOX {128, 8, 64, 32, 4, 4, 1, 128, 2}
#define WG_SHAPE_FIREFOX_SOURCE "GEMV without subgroups measured 2026-12-03 on nvidia nvidia-h200 NVIDIA: 580.159.04 (Dawn): tools/webgpu/sweep_gemv.mjs; GEMM measured 2026-11-24 on nvidia nvidia-h100-80gb-hbm3 (Dawn): tools/webgpu/tune.mjs"
#define WG_SHAPE_SAFARI {128, 2, 32, 32, 4, 4, 0, 0, 0}
#define WG_SHAPE_SAFARI_SOURCE "not measured: Apple GPUs are not available here; conservative"
#define WG_SHAPE_MOBILE {64, 2, 32, 32, 4, 4, 0, 0, 0}
#define WG_SHAPE_MOBILE_SOURCE "not measured: mobile GPUs are not available here; conservative"
