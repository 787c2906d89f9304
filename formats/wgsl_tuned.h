/* formats/wgsl_tuned.h — kernel shapes per browser profile. Written by tools/webgpu/tune.mjs;
 * rows for hardware that cannot be measured here stay conservative and say so.
 * Fields: gemv_threads, gemv_rows, gemm_bm, gemm_bn, gemm_tm, gemm_tn. */
#define WG_SHAPE_CHROME {128, 8, 64, 32, 4, 4}
#define WG_SHAPE_CHROME_SOURCE "not measured yet: starting point"
#define WG_SHAPE_FIREFOX {128, 8, 64, 32, 4, 4}
#define WG_SHAPE_FIREFOX_SOURCE "not measured yet: starting point"
#define WG_SHAPE_SAFARI {128, 2, 32, 32, 4, 4}
#define WG_SHAPE_SAFARI_SOURCE "not measured: Apple GPUs are not available here; conservative"
#define WG_SHAPE_MOBILE {64, 2, 32, 32, 4, 4}
#define WG_SHAPE_MOBILE_SOURCE "not measured: mobile GPUs are not available here; conservative"
