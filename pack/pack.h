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
    const char *text_dir;    /* take the text files from here (NULL: beside the model) */
} wg_pack_opts;

typedef struct wg_bundle_result {
    uint64_t input_bytes, bundle_bytes, compressed_bytes;
    int shards, tensors, components;
    double seconds;
    json_t *manifest;        /* owned by the caller after success (json_decref) */
} wg_bundle_result;

int wg_bundle_build(const wg_model *m, const wg_plan_entry *plan, const wg_pack_opts *o,
                    wg_bundle_result *res, wg_error *err);

/* wg_bundle_build() in two steps, for a caller with more artefacts to write (archive, ONNX,
 * a database row): wg_bundle_stage_build() writes the complete bundle into a temporary
 * directory beside the target and touches nothing else; the caller writes the rest, then
 * wg_bundle_commit() flushes the staged bundle and swaps it into place, or
 * wg_bundle_discard() removes it — so a failure anywhere leaves the previous bundle as it was.
 * The target: `-o out/` is `out`; it must not exist, be empty, or be a wgpack bundle and
 * nothing else (manifest read by wg_manifest_read, every entry one it names) unless force;
 * it must never hold a file of the input model.
 * From stage_build to discard the build holds an exclusive flock on ".<DIR>.lock" beside the
 * target (the file holds the holder's pid): a second build into the same DIR fails at once
 * (WG_EIO, naming that pid), and the holder removes what killed builds left beside DIR
 * (".DIR.tmp.*" and ".DIR.{tar,tar.zst,zip}.tmp.*"), which only a holder can have made. */
typedef struct wg_bundle_stage {
    char tmp[4096];          /* the staged bundle ("" once committed or discarded) */
    char out_dir[4096];      /* the target, normalised */
    bool exists;             /* the target exists: swapped by exchange */
    int lock_fd;             /* the held lock (-1: none) */
} wg_bundle_stage;
int wg_bundle_stage_build(const wg_model *m, const wg_plan_entry *plan, const wg_pack_opts *o,
                          wg_bundle_result *res, wg_bundle_stage *st, wg_error *err);
int wg_bundle_commit(wg_bundle_stage *st, wg_error *err);
/* The first half of wg_bundle_commit (everything staged on disk): a caller that renames other
 * artefacts into place flushes, renames them, then commits, so that only the final
 * renameat2() comes after its own renames. */
int wg_bundle_flush(wg_bundle_stage *st, wg_error *err);
void wg_bundle_discard(wg_bundle_stage *st);

/* Re-read every shard of the bundle in dir: sizes, xxh3, SHA-256 against the manifest, every
 * tensor part inside its shard, transport copies decompress to the shard. Returns 0, or
 * WG_EVERIFY with the first problem in err (and the count of problems in *problems). */
int wg_bundle_verify(const char *dir, int *problems, json_t **report, wg_error *err);

/* ---- the text side (pack/textfiles.c) ----
 * wg_text_bundle() copies the files a page needs to turn text into ids and back from src (the
 * model's directory, or `--tokenizer DIR`) into dir/text/, byte for byte, each under a
 * content-hashed name "text/<stem>-<xxh3>.json": tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, generation_config.json, and sentence-transformers' modules.json and
 * 1_Pooling/config.json, those present. *section receives the manifest's "text" object:
 *   {"files": {"tokenizer.json": {file, bytes, xxh3, integrity}, ...},   (in the order above)
 *    "tokenizer": {"model": "BPE", "tokens": N}}   (N: the tokenizer's largest id + 1)
 * or NULL when src has none of them. Checked before anything is written: every file JSON of
 * the right shape (tokenizer.json a BPE, WordPiece, Unigram or WordLevel model with its vocab);
 * every id (vocab, added tokens, post-processor, added_tokens_decoder, generation_config's
 * bos/eos/pad) below vocab (the model's vocabulary; 0: unknown, then the tokenizer's); every
 * named special token one of tokenizer.json's; pooling's word_embedding_dimension = hidden
 * (0: unknown) with a pooling mode on. A tokenizer_config.json, special_tokens_map.json or a
 * SentencePiece tokenizer.model without tokenizer.json is refused (it would need the slow
 * tokenizer's conversion, which transformers does). Errors: WG_EINPUT naming the file and the
 * first problem, WG_EIO writing; on error dir/text may hold part of the copies (the caller's
 * staged directory is discarded). */
int wg_text_bundle(const char *src, int64_t vocab, int64_t hidden, const char *dir,
                   json_t **section, wg_error *err);
/* The same for model m: from `given` (--tokenizer DIR, which must hold at least one of the
 * files) or else the model's directory, checked against m's config (vocab_size, hidden_size). */
int wg_text_bundle_model(const wg_model *m, const char *given, const char *dir, json_t **section,
                         wg_error *err);
/* The same files, checked the same way, copied into dir under their Hugging Face names
 * (dir/tokenizer.json, dir/1_Pooling/config.json, ...): a transformers.js folder. */
int wg_text_copy_model(const wg_model *m, const char *given, const char *dir, wg_error *err);

/* ---- reading a bundle's manifest (pack/manifest_read.c) ----
 * manifest.json is untrusted input: a bundle may come from anywhere and may have been edited.
 * wg_manifest_read() loads DIR/manifest.json (a regular file, never through a symlink, at most
 * 256 MiB) and returns it only if it is a consistent wgpack bundle description:
 *  - generator.name is "wgpack" and format_version is WG_BUNDLE_FORMAT_VERSION (others refused);
 *  - every file name is a plain name inside the bundle (wg_plain_name): shards at the top level
 *    with their transport copy named exactly "<shard>.zst", kernels under kernels/, the wasm
 *    module under wasm/ (no scheme, '%', '..' segment, backslash or absolute path);
 *  - every number is an integer in range (sizes and offsets below 2^50), every format is one
 *    of the format table's, xxh3/integrity strings are well formed;
 *  - tensor names are unique; each tensor's shape product is rows x K (raw: its dtype's bytes),
 *    format facts (bits, group_size, padded_K, symmetric, scale_dtype) agree with its format,
 *    `bytes` is what the format gives, and its parts cover its rows exactly once in order,
 *    each in a shard of the tensor's own component and layer, each plane exactly the bytes
 *    its format needs for those rows, 256-byte aligned, inside the shard's declared bytes and
 *    sharing no byte with any other plane;
 *  - by tools/web/wgpack-manifest-rules.js (embedded at build time; the JS loader imports the
 *    same file, so both refuse the same manifests): the closed objects (shards, tensors, parts,
 *    planes, plans, progressive groups, kernels, kernel files, bindings) have no other keys;
 *    every kernel file's kind is known, its workgroup size and dispatch facts (gemv
 *    rows_per_workgroup, gemm tile) positive and bounded, its bindings exactly its kind's for
 *    its format's planes (ops: numbered 0..n-1, the uniform last);
 *  - every kernels.by_profile index names a kernels.files entry of that format, kind and
 *    variant (requires_shader_f16/requires_subgroups as the variant says), every
 *    kernels.ops_by_profile index the op kernel of that op;
 *  - the optional "text" section's files are {file, bytes, xxh3, integrity} entries under text/;
 *  - components and plans name only shards and tensors that exist, every tensor in exactly
 *    one component; plans.progressive lists every shard exactly once, a tab's partition each
 *    of its shards once.
 * No shard is read: wg_bundle_verify() checks the files against what this returns.
 * Returns 0; WG_EINPUT if manifest.json cannot be read or is not a JSON object; WG_EVERIFY if
 * it is not a consistent wgpack manifest (err: "DIR/manifest.json: the first problem").
 * Strings point into the JSON document and live until wg_manifest_free(). */
typedef struct wg_man_file {
    const char *file, *xxh3, *integrity;
    uint64_t bytes;
} wg_man_file;
typedef struct wg_man_shard {
    wg_man_file f;
    const char *component;
    int layer;
    bool has_zst;
    wg_man_file zst;          /* file and bytes only */
} wg_man_shard;
typedef struct wg_man_part {
    size_t shard;
    int64_t row0, rows;       /* raw tensors: bytes */
    uint64_t off[3], bytes[3];
} wg_man_part;
typedef struct wg_man_tensor {
    const char *name, *component;
    int layer;
    bool raw;                 /* kept bytes in `dtype`; else quantized or cast in `fmt` */
    wg_qformat fmt;
    wg_dtype dtype;
    int ndim;
    int64_t shape[WG_MAX_DIMS];
    uint64_t numel;
    int64_t rows, K;
    size_t part0, nparts;     /* into wg_manifest.parts */
} wg_man_tensor;
/* The manifest's "program" section (program/program.h, docs/program.schema.json): what the
 * bundle's model computes, read with wg_prog_from_json (every op checked, every weight a float
 * tensor of the manifest of exactly the size the program says). A bundle without it has
 * program NULL and program_missing its one-line reason (NULL when the manifest gives none). */
struct wg_prog;
typedef struct wg_manifest {
    char path[4200];
    json_t *root;
    wg_man_shard *shards;
    size_t nshards;
    wg_man_tensor *tensors;
    size_t ntensors;
    wg_man_part *parts;
    size_t nparts;
    wg_man_file *kernels;
    size_t nkernels;
    bool has_wasm;
    wg_man_file wasm;
    wg_man_file *text;        /* the text side's files (pack/textfiles.c), ntext of them */
    size_t ntext;
    wg_name_index by_name;
    struct wg_prog *program;  /* NULL: the bundle does not say how to run its model */
    const char *program_missing;
} wg_manifest;
int wg_manifest_read(const char *dir, wg_manifest *m, wg_error *err);
const wg_man_tensor *wg_manifest_tensor(const wg_manifest *m, const char *name);
void wg_manifest_free(wg_manifest *m);


/* ---- a bundle's tensors as numbers (pack/bundle_read.c) ----
 * The stored planes of tensor t (a part, or all its parts in order) read from their shards and
 * dequantized by the scalar reference dequantizer: the exact f32 values a runtime multiplies
 * by (kernel-ref's dequant.f32, `wgpack run`'s reference weights). Each shard must be a regular
 * file (not reached through a symlink) of the size the manifest gives, whose xxh3 matches the
 * manifest's: the whole shard is read once per part, hashed as it is read, and the part's
 * planes are taken from those same bytes. Returns a malloc'd rows x K matrix the caller frees,
 * or NULL with err: WG_EINPUT (a shard missing, of another size or another hash, a raw
 * tensor), WG_EIO (out of memory, read error). */
float *wg_bundle_part_f32(const char *dir, const wg_manifest *m, const wg_man_tensor *t,
                          const wg_man_part *p, wg_error *err);
float *wg_bundle_tensor_f32(const char *dir, const wg_manifest *m, const wg_man_tensor *t,
                            wg_error *err);

/* Write <dir>.tar / .tar.zst / .zip atomically; out_path receives its name. The tree is
 * walked by descriptors, none followed through a symlink (a planted kernels/ link included). */
int wg_bundle_archive(const char *dir, wg_archive_kind kind, char *out_path, size_t out_n,
                      wg_error *err);
/* The archive of a staged bundle, named for its target (<out_dir>.zip holding out_dir/...),
 * written and flushed into *af but not committed: wg_atomic_commit(af) after the bundle's
 * commit, wg_atomic_abort(af) on failure. */
int wg_bundle_archive_stage(const wg_bundle_stage *st, wg_archive_kind kind, wg_atomic_file *af,
                            char *out_path, size_t out_n, wg_error *err);
void wg_rm_rf(const char *dir);
/* A directory built beside its target (".DIR.tmp.XXXXXX") and swapped in whole: an existing
 * DIR is replaced when it holds must_have, is empty, or force; else WG_EUSAGE. */
int wg_dir_stage(const char *dir, char *tmp, size_t n, wg_error *err);
int wg_dir_commit(const char *tmp, const char *dir, bool force, const char *must_have,
                  wg_error *err);
/* A hard link, or a copy where links cannot be made. */
int wg_link_or_copy(const char *from, const char *to, wg_error *err);

/* ---- ONNX Runtime interop (pack/onnx_export.c) ----
 * Write the ONNX input model quantized by plan, each weight in the form wg_onnx_form_for gives
 * (MatMulNBits with B = the bundle's packed data plane, GatherBlockQuantized, DequantizeLinear
 * chains that recreate the original tensor, fp16 + Cast), everything else unchanged. With
 * external data, out_path and "<out_path>_data" appear together: at every moment out_path is
 * the previous model with its data or the new one with its data. WG_EUSAGE when the input is
 * not ONNX. */
typedef struct wg_onnx_export_opts {
    const char *out_path;
    bool external;           /* weights >= 1 kB in "<out_path>.data" (forced past 1.8 GB) */
    bool search;
    int threads;
    const char *version;     /* producer_version */
    const float *const *importance; /* per tensor: column weights for the scale search, or NULL */
    const char *const *extra_outputs; /* main-graph values to add as graph outputs (calibration) */
    size_t n_extra_outputs;
    bool strip_metadata;     /* drop exporter metadata: doc strings, node/value metadata_props */
    bool dry_run;            /* sizes only: nothing is quantized or written */
    const bool *as_inputs;   /* per tensor or NULL: main-graph weights that become graph inputs
                                (no initializer), so that each run feeds them (measuring) */
    struct wg_onnx_staged **stage; /* set: everything is written and synced, nothing renamed;
                                the pending commit is returned here (wg_onnx_staged_commit) */
} wg_onnx_export_opts;
typedef struct wg_onnx_export_result {
    int matmulnbits, dequantize, gather_quantized, cast_fp16; /* tensors written each way */
    int kept_int;                /* integer-planned tensors the graph could not express */
    double ssx, sse;             /* weight error over the quantized tensors */
    uint64_t onnx_bytes, data_bytes;
    uint64_t metadata_bytes;     /* exporter metadata in the output (0 once stripped) */
    uint64_t metadata_stripped;  /* bytes of it dropped by strip_metadata */
    bool external;
    char data_file[1024];        /* the external data file's name, when external */
    json_t *tensors;             /* name -> {"onnx": form or "kept: why", "sqnr_db", "rel_rmse"} */
} wg_onnx_export_result;
int wg_onnx_export(const wg_model *m, const wg_plan_entry *plan, const wg_onnx_export_opts *o,
                   wg_onnx_export_result *res, wg_error *err);
/* A staged export's renames (the only steps left, so a build can make its artefacts visible
 * together); discard removes whatever was not committed and frees it (NULL: nothing). */
typedef struct wg_onnx_staged wg_onnx_staged;
int wg_onnx_staged_commit(wg_onnx_staged *s, wg_error *err);
void wg_onnx_staged_discard(wg_onnx_staged *s);

/* The kernel-side description of a planned format (what wg_wgsl_emit() takes). */
void wg_kformat_of(const wg_plan_entry *e, wg_kformat *k);

/* ---- what ONNX stores compactly (pack/onnx_store.c) ----
 * A weight's use in its graph decides how a format is written:
 *   MATMUL  only ever input B of MatMul (2-D): grouped 2/4/8-bit -> MatMulNBits
 *   GATHER  only ever the table of Gather(axis 0) (2-D): symmetric grouped -> GatherBlockQuantized
 *           (2-bit packed, 3/4-bit as 4-bit, 5..8-bit as 8-bit)
 *   OTHER   anything else (Conv, Gemm, shared, subgraph uses): DequantizeLinear of 4-bit packed
 *           (2..4-bit formats) or 8-bit codes (5..8-bit) then one scale per group
 *   NONE    not a float weight the export can rewrite (kept as is)
 * and a float weight planned fp16 is stored fp16 with a Cast back to f32. */
typedef enum wg_onnx_use_kind { WG_ONNX_USE_NONE = 0, WG_ONNX_USE_MATMUL, WG_ONNX_USE_GATHER,
                           WG_ONNX_USE_OTHER } wg_onnx_use;
typedef enum wg_onnx_form { WG_ONNX_KEEP = 0, WG_ONNX_FP16, WG_ONNX_NBITS, WG_ONNX_GATHERQ,
                            WG_ONNX_DQ } wg_onnx_form;
/* use[i] for every tensor of m (an ONNX model). */
int wg_onnx_classify(const wg_model *m, uint8_t *use, wg_error *err);
wg_onnx_form wg_onnx_form_for(const wg_tensor *t, wg_onnx_use u, const wg_qformat *f);
const char *wg_onnx_form_name(wg_onnx_form f);
/* Bytes the export writes for t in e->fmt: its initializers, plus an estimate of the nodes. */
uint64_t wg_onnx_stored_bytes(const wg_tensor *t, wg_onnx_use u, const wg_plan_entry *e);
/* The `onnx` plan target: per tensor the formats above (MatMul: 2/4/8-bit at groups 32/64/128;
 * Gather: 2/4/8-bit; other: 4/8-bit at groups 32/64/128 and per channel; all: fp16), sized by
 * wg_onnx_stored_bytes. Free with wg_onnx_target_free. */
int wg_onnx_target_new(const wg_model *m, wg_plan_target **out, wg_error *err);
void wg_onnx_target_free(wg_plan_target *t);
/* Presets under the onnx target: each unpinned integer format that ONNX would store wider than
 * its bits (3 -> 4, 5/6 -> 8; 2 -> 4 where only DequantizeLinear applies) is raised to the
 * width it is stored at. Returns how many were raised. */
int wg_onnx_lift(const wg_plan_target *tg, const wg_model *m, wg_plan_entry *plan,
                 const bool *pinned);
/* main_graph[i]: tensor i is a weight of the main graph (not of an If/Loop body), so that
 * as_inputs can make it overridable. */
int wg_onnx_main_weights(const wg_model *m, bool *main_graph);

#endif
