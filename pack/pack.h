/* pack/pack.h — browser bundles: components, layer-bounded size-capped shards, content-hashed
 * names, manifest.json, transport copies, CDN headers, one-file archives, and verification.
 *
 * Contract
 *  - wg_bundle_build() quantizes the model tensor by tensor in the plan's formats and writes a
 *    bundle directory. Everything is written into a temporary directory beside the target and
 *    swapped into place atomically at the end (renameat2 RENAME_EXCHANGE), so the target path
 *    holds either the previous bundle or the complete new one, never a partial one.
 *  - Output is byte-identical for identical input and options, whatever the thread count.
 *  - Shards never mix layers (nor components): changing one layer's formats changes only that
 *    layer's shard files and the manifest. Every plane (packed data, scales, zero points) starts
 *    at a multiple of 256 bytes inside its shard (WebGPU minStorageBufferOffsetAlignment).
 *  - Errors: WG_EUSAGE for an output path that is not ours to overwrite, WG_EINPUT for input
 *    problems, WG_EIO for write failures; err names the file.
 */
#ifndef WG_PACK_H
#define WG_PACK_H
#include "../quant/quant.h"
#include "../formats/wgsl.h"
#include <jansson.h>

#define WG_BUNDLE_FORMAT_VERSION 1
#define WG_ALIGN 256

typedef enum wg_archive_kind { WG_ARCHIVE_NONE = 0, WG_ARCHIVE_TAR, WG_ARCHIVE_TAR_ZST,
                               WG_ARCHIVE_ZIP } wg_archive_kind;

typedef struct wg_pack_opts {
    const char *out_dir;
    uint64_t shard_size;     /* cap per shard file (default 32 MiB) */
    bool compress;           /* write <shard>.zst transport copies */
    int zstd_level;          /* default 19 */
    wg_archive_kind archive; /* also write <out_dir>.tar / .tar.zst / .zip */
    int tabs;                /* multi-tab plan over N tabs (0: none unless tab_memory) */
    uint64_t tab_memory;     /* or: as many tabs as needed for this many bytes each */
    int threads;
    bool search;             /* scale search (else RTN) */
    bool force;              /* replace a non-empty directory that is not a bundle */
    bool progress;           /* progress lines on stderr */
    const char *version;     /* wgpack version for the manifest */
    json_t *options;         /* the options used, recorded in the manifest (borrowed) */
} wg_pack_opts;

typedef struct wg_bundle_result {
    uint64_t input_bytes, bundle_bytes, compressed_bytes;
    int shards, tensors, components;
    double seconds;
    json_t *manifest;        /* owned by the caller after success (json_decref) */
} wg_bundle_result;

int wg_bundle_build(const wg_model *m, const wg_plan_entry *plan, const wg_pack_opts *o,
                    wg_bundle_result *res, wg_error *err);

/* Re-read every shard of the bundle in dir: sizes, xxh3, SHA-256 against the manifest, every
 * tensor part inside its shard, transport copies decompress to the shard. Returns 0, or
 * WG_EVERIFY with the first problem in err (and the count of problems in *problems). */
int wg_bundle_verify(const char *dir, int *problems, json_t **report, wg_error *err);

/* Write <dir>.tar / .tar.zst / .zip atomically; out_path receives its name. */
int wg_bundle_archive(const char *dir, wg_archive_kind kind, char *out_path, size_t out_n,
                      wg_error *err);
void wg_rm_rf(const char *dir);

/* ---- ONNX Runtime interop (pack/onnx_export.c) ----
 * Write the ONNX input model quantized by plan: 2/4/8-bit grouped MatMul weights as
 * com.microsoft::MatMulNBits (B = the bundle's packed data plane), other integer-planned float
 * initializers as DequantizeLinear chains that recreate the original tensor, everything else
 * unchanged. out_path (+ "<out_path>.data" when external) appear atomically. WG_EUSAGE when the
 * input is not ONNX. */
typedef struct wg_onnx_export_opts {
    const char *out_path;
    bool external;           /* weights >= 1 kB in "<out_path>.data" (forced past 1.8 GB) */
    bool search;
    int threads;
    const char *version;     /* producer_version */
    const float *const *importance; /* per tensor: column weights for the scale search, or NULL */
    const char *const *extra_outputs; /* main-graph values to add as graph outputs (calibration) */
    size_t n_extra_outputs;
} wg_onnx_export_opts;
typedef struct wg_onnx_export_result {
    int matmulnbits, dequantize; /* tensors written each way */
    int kept_int;                /* integer-planned tensors the graph could not express */
    double ssx, sse;             /* weight error over the quantized tensors */
    uint64_t onnx_bytes, data_bytes;
    bool external;
    json_t *tensors;             /* name -> {"onnx": "MatMulNBits" | "DequantizeLinear" |
                                    "kept: why", "sqnr_db", "rel_rmse" (quantized ones)} */
} wg_onnx_export_result;
int wg_onnx_export(const wg_model *m, const wg_plan_entry *plan, const wg_onnx_export_opts *o,
                   wg_onnx_export_result *res, wg_error *err);

/* The kernel-side description of a planned format (what wg_wgsl_emit() takes). */
void wg_kformat_of(const wg_plan_entry *e, wg_kformat *k);

#endif
