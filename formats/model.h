/* formats/model.h — the tensor table every reader produces and every later stage consumes.
 *
 * Contract
 *  - wg_model_open(path) detects the input kind (ONNX file, safetensors file, sharded
 *    `*.index.json`, or a directory holding one of those), reads it, classifies every tensor
 *    (family, component, role, layer) and returns a table. Nothing after this point knows which
 *    file format a tensor came from.
 *  - Tensor bytes are NOT copied: `data` points into a read-only mmap of the source file (or,
 *    for ONNX tensors stored in typed fields / embedded raw_data, into memory the model owns).
 *    Everything is released by wg_model_free().
 *  - Every size read from a file is validated against the file before use; every product of
 *    sizes is overflow-checked. A reader that fails returns a WG_E* code and fills `err` with a
 *    one-line message of the form "PATH: problem". No partial table is returned.
 *  - Threads: a model is immutable after open; any number of threads may read it.
 */
#ifndef WG_MODEL_H
#define WG_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Exit / error codes shared by the whole program (documented in README). */
enum {
    WG_OK = 0,
    WG_EUSAGE = 1,   /* bad command line */
    WG_EINPUT = 2,   /* bad or unsupported input file */
    WG_EBUDGET = 3,  /* size/bit budget cannot be met */
    WG_EIO = 4,      /* I/O or resource failure (disk full, out of memory) */
    WG_EVERIFY = 5,  /* verification found a mismatch */
};

#define WG_ERRLEN 1024
typedef struct wg_error {
    int code;
    char msg[WG_ERRLEN];
} wg_error;

/* Record the first error (later ones are ignored); returns `code`. `file` may be NULL. */
int wg_fail(wg_error *e, int code, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Progress of long work, reported where the work happens and shown by whoever installed a sink
 * (the command line's bar, convert/progress.c); without a sink the calls do nothing. Any thread
 * may report. stage: what is being done now ("quantize", "write", "hash", ...); done: tensors
 * and input bytes finished since the last report. */
typedef struct wg_progress_sink {
    void (*stage)(const char *stage);
    void (*done)(size_t tensors, uint64_t bytes);
} wg_progress_sink;
void wg_progress_install(const wg_progress_sink *s); /* NULL: none */
void wg_progress_stage(const char *stage);
void wg_progress_done(size_t tensors, uint64_t bytes);

/* Element types. Values are the ONNX TensorProto.DataType numbers, so ONNX types newer than the
 * schema we compile against (UINT4=21, INT4=22, FLOAT4E2M1=23) are carried by number. */
typedef enum wg_dtype {
    WG_DT_UNDEFINED = 0,
    WG_DT_F32 = 1, WG_DT_U8 = 2, WG_DT_I8 = 3, WG_DT_U16 = 4, WG_DT_I16 = 5, WG_DT_I32 = 6,
    WG_DT_I64 = 7, WG_DT_STRING = 8, WG_DT_BOOL = 9, WG_DT_F16 = 10, WG_DT_F64 = 11,
    WG_DT_U32 = 12, WG_DT_U64 = 13, WG_DT_C64 = 14, WG_DT_C128 = 15, WG_DT_BF16 = 16,
    WG_DT_F8E4M3FN = 17, WG_DT_F8E4M3FNUZ = 18, WG_DT_F8E5M2 = 19, WG_DT_F8E5M2FNUZ = 20,
    WG_DT_U4 = 21, WG_DT_I4 = 22, WG_DT_F4E2M1 = 23,
    WG_DT_COUNT
} wg_dtype;

/* Bits per element (0 for types with no fixed size, e.g. STRING) and a short name
 * ("f32", "f16", "bf16", "i8", ...). */
unsigned wg_dtype_bits(wg_dtype t);
const char *wg_dtype_name(wg_dtype t);
bool wg_dtype_is_float(wg_dtype t);
/* Bytes for `numel` elements (sub-byte types round up); false on overflow or sizeless type. */
bool wg_dtype_bytes(wg_dtype t, uint64_t numel, uint64_t *out);

/* What a tensor does. Used by the quantization presets and the planner. */
typedef enum wg_role {
    WG_ROLE_OTHER = 0,
    WG_ROLE_EMBEDDING, WG_ROLE_POS_EMBEDDING,
    WG_ROLE_ATTN_Q, WG_ROLE_ATTN_K, WG_ROLE_ATTN_V, WG_ROLE_ATTN_QKV, WG_ROLE_ATTN_OUT,
    WG_ROLE_FFN_UP, WG_ROLE_FFN_GATE, WG_ROLE_FFN_DOWN,
    WG_ROLE_NORM, WG_ROLE_BIAS, WG_ROLE_CONV, WG_ROLE_HEAD,
    WG_ROLE_LINEAR, /* a MatMul/Gemm weight whose function the names do not reveal */
    WG_ROLE_COUNT
} wg_role;
const char *wg_role_name(wg_role r);
int wg_role_parse(const char *s); /* -1 if unknown */

#define WG_MAX_DIMS 8
/* Largest layer index a model of n tensors can have: a number beyond it in a tensor's name is
 * not taken for a layer (layer -1). */
#define WG_MAX_LAYER(n) ((long)(n) + 1024)

typedef struct wg_tensor {
    char *name;          /* unique within the model; ONNX subgraph tensors are "scope/name" */
    wg_dtype dtype;
    int ndim;
    int64_t shape[WG_MAX_DIMS];
    uint64_t numel;
    uint64_t nbytes;
    const void *data;    /* nbytes of little-endian element data */
    int source;          /* index into wg_model.sources; -1 if inline (ONNX typed fields) */
    uint64_t offset;     /* byte offset in the source file (0 if inline) */
    /* Derived facts */
    wg_role role;
    char component[32];
    int layer;           /* -1 when the tensor belongs to no numbered layer; never more than
                            WG_MAX_LAYER(n_tensors), so work over layers follows the input */
    bool in_dim_first;   /* ONNX MatMul B: shape is [in, out] rather than HF's [out, in] */
    unsigned scope_len;  /* ONNX subgraph tensors: length of the "scope" prefix of name (no '/') */
    const char *module;  /* ONNX: "<module path>.weight|bias" recovered from the consuming
                            node's exporter metadata when the initializer name is generic */
    bool constant;       /* a graph constant, not a weight: integer/bool tensors (shapes, indices,
                            masks, counters), ONNX scalars, rotary tables; role stays OTHER and
                            it is not counted as a parameter */
} wg_tensor;

typedef struct wg_source {
    char *path;
    const uint8_t *map;  /* read-only mmap of the whole file (NULL for an empty file) */
    uint64_t size;
} wg_source;

typedef enum wg_input_kind { WG_IN_ONNX = 1, WG_IN_SAFETENSORS = 2 } wg_input_kind;

/* Facts from the HF config.json (0 / empty when not given). */
typedef struct wg_hfconfig {
    bool present;
    char path[4096];         /* the config.json read (templates read their own keys from it) */
    char model_type[64];
    char architecture[96];
    int64_t num_layers, hidden_size, intermediate_size, num_heads, num_kv_heads, head_dim,
        vocab_size, max_positions, sliding_window, encoder_layers, decoder_layers;
    int tie_word_embeddings; /* -1 unknown, 0, 1 */
    double rms_norm_eps, rope_theta; /* 0 when not given */
    /* rope_scaling (or rope_parameters): its type ("" when none or "default"), factor,
     * llama3's low/high frequency factors and original context; partial_rotary_factor (0: not
     * given) */
    char rope_type[24];
    double rope_factor, rope_low_freq, rope_high_freq, rope_partial;
    int64_t rope_orig_max;
    /* encoders (BERT family) */
    double layer_norm_eps;     /* layer_norm_eps / layer_norm_epsilon; 0 when not given */
    int64_t type_vocab_size;   /* token-type (segment) rows; 0 when not given */
    int64_t pad_token_id;      /* -1 when not given */
    char hidden_act[32];       /* "gelu", "gelu_new", "relu", ... ("activation" in DistilBERT) */
    int is_encoder_decoder;  /* -1 unknown, 0, 1 */
    unsigned parts;          /* WG_CFG_*: sub-configs present (text_config, vision_config, ...) */
    unsigned hints;          /* WG_HINT_*: keys that only vision or audio models carry */
} wg_hfconfig;
enum { WG_CFG_TEXT = 1, WG_CFG_VISION = 2, WG_CFG_AUDIO = 4, WG_CFG_ENCODER = 8, WG_CFG_DECODER = 16 };
/* top level, then the same facts of the "encoder" sub-config (encoder-decoder composites) */
enum { WG_HINT_VISION = 1, WG_HINT_AUDIO = 2, WG_HINT_ENC_VISION = 4, WG_HINT_ENC_AUDIO = 8 };

typedef struct wg_model {
    char *path;               /* what the user named */
    wg_input_kind kind;
    char family[32];          /* config.json's model_type ("llama", "bart", "wav2vec2", ...); without
                                 one, the naming family whose patterns cover the matrices, else
                                 "generic" */
    char arch[24];            /* architecture class: encoder, decoder, encoder-decoder, vision,
                                 audio, multimodal, unknown */
    char rule_set[32];        /* the built-in name rules used: llama, gpt2, bert, t5, vit, clip,
                                 whisper, or generic (structure and common names only) */
    wg_tensor *tensors;
    size_t n_tensors, cap_tensors;
    wg_source *sources;
    size_t n_sources;
    wg_hfconfig config;
    struct wg_model_internal *in; /* reader-private state (ONNX graph, owned buffers) */
} wg_model;

/* Optional user classification rules file (JSON, see README "Classification rules"). */
typedef struct wg_open_opts {
    const char *rules_path;
} wg_open_opts;

int wg_model_open(const char *path, const wg_open_opts *opts, wg_model **out, wg_error *err);
void wg_model_free(wg_model *m);
/* By name through a hash index: O(1) whatever the table size. */
const wg_tensor *wg_model_find(const wg_model *m, const char *name);
/* The model's name as a bundle records it, the same however the path was spelled: the resolved
 * directory's name for a directory or its default file (model.safetensors[.index.json],
 * model.onnx, onnx/model.onnx), else the resolved file's name. */
void wg_model_name(const wg_model *m, char *out, size_t n);
/* Drop a processed tensor's mmapped pages from this process (they stay in the page cache), so
 * that streaming through a model keeps resident memory near one tensor, not the whole file. */
void wg_tensor_release(const wg_model *m, const wg_tensor *t);
/* The same for the whole pages inside bytes [off, off+len) of the tensor's data. */
void wg_tensor_release_bytes(const wg_model *m, const wg_tensor *t, uint64_t off, uint64_t len);

/* Glob over names: `*` any run, `?` one char, `#` a run of digits (first `#` -> *layer,
 * -1 if none). Names longer than 4096 bytes never match. */
bool wg_glob_match(const char *pattern, const char *name, long *layer);

/* ONNX graph inputs that are not initializers: name, element type, shape (-1 for a dynamic
 * dimension, with its dim_param name when the model gives one; ndim -1 when the shape is
 * unknown) and, for an integer input used as Gather indices, the table's row count. */
typedef struct wg_io_desc {
    char name[256];
    wg_dtype dtype;
    int ndim;
    int64_t dims[WG_MAX_DIMS];
    char dim_param[WG_MAX_DIMS][64];
    int64_t index_rows;
} wg_io_desc;
int wg_onnx_inputs(const wg_model *m, wg_io_desc **out, size_t *n); /* caller frees *out */
/* Main-graph MatMuls whose B is a tensor of the table: the activation (A) value names and the
 * weight's tensor index, parallel arrays the caller frees (names point into the model). */
int wg_onnx_matmul_inputs(const wg_model *m, const char ***a_names, size_t **tensor, size_t *n);

/* ---- writing: a file appears at its path complete, or not at all ---- */
typedef struct wg_atomic_file {
    int fd;
    char tmp[4096], final[4096];
} wg_atomic_file;
/* The one mechanism for every single-file output. Creates "<dir>/.<name>.tmp.XXXXXX" beside
 * the target. On any write error the temp file is removed. commit = fsync + rename over the
 * target. The target may be absent or a regular file: a symbolic link, directory, device,
 * FIFO or socket there is refused (WG_EUSAGE, at open and again before the rename), as is
 * "-" (callers that can write to stdout handle "-" themselves). */
int wg_atomic_open(wg_atomic_file *f, const char *path, wg_error *err);
int wg_atomic_write(wg_atomic_file *f, const void *data, size_t n, wg_error *err);
/* fsync and close the temporary file without renaming it (the caller renames later, e.g.
 * several files in a chosen order); on failure the file is removed. */
int wg_atomic_finish(wg_atomic_file *f, wg_error *err);
int wg_atomic_commit(wg_atomic_file *f, wg_error *err);
/* After wg_atomic_finish: the rename alone (what commit does last); on failure the temporary
 * is removed. A caller making several files visible together finishes each, then renames. */
int wg_atomic_rename(wg_atomic_file *f, wg_error *err);
/* Removes the temporary (nothing once committed). */
void wg_atomic_abort(wg_atomic_file *f);

/* ---- reading a small input file (configs, rules, recipes, costs, reference outputs) ----
 * A regular file only: a FIFO, device, socket or directory is refused at once (opened
 * O_NONBLOCK, so a FIFO with no writer never blocks). Returns a blocking read-only fd, or -1
 * with err ("PATH: not a regular file (a FIFO)", WG_EINPUT). */
int wg_open_input(const char *path, wg_error *err);
/* json_load_file() through wg_open_input(): NULL with je->text saying why. */
struct json_t;
struct json_error_t;
struct json_t *wg_json_load(const char *path, size_t flags, struct json_error_t *je);

/* mkdir -p (mode 0755); false if path is not a directory afterwards. */
bool wg_mkdir_p(const char *path);

/* safetensors writer: header from the entry list, then each entry's bytes in order. */
typedef struct wg_st_entry {
    const char *name;
    wg_dtype dtype;
    int ndim;
    int64_t shape[WG_MAX_DIMS];
    uint64_t nbytes;
} wg_st_entry;
typedef struct wg_st_writer {
    wg_atomic_file file;
    uint64_t expect, written;
} wg_st_writer;
/* metadata_json (may be NULL) is stored as __metadata__["wgpack"]. */
int wg_st_writer_open(wg_st_writer *w, const char *path, const wg_st_entry *es, size_t n,
                      const char *metadata_json, wg_error *err);
int wg_st_writer_data(wg_st_writer *w, const void *data, size_t n, wg_error *err);
int wg_st_writer_close(wg_st_writer *w, bool commit, wg_error *err);

/* ---- names from files (formats/names.c) ---- */
/* name -> index, open addressing over XXH3; keys are borrowed and must outlive the index. */
typedef struct wg_name_index {
    const char **keys;
    size_t *vals;
    size_t cap, n;
} wg_name_index;
/* 1: inserted; 0: the key was present (its value is kept); -1: out of memory. */
int wg_name_index_put(wg_name_index *ix, const char *key, size_t val);
bool wg_name_index_get(const wg_name_index *ix, const char *key, size_t *val);
void wg_name_index_free(wg_name_index *ix);
/* The one policy for a file a model names (ONNX external data, a sharded index's shards):
 * relative, no `..` segment, no drive or backslash tricks, and once resolved (realpath, so
 * symlinks included) inside the model's directory `dir`. `what` describes the reference in
 * messages; out receives the resolved path. The caller opens it as a regular file only
 * (wg_source_map). */
int wg_model_file(const char *dir, const char *name, const char *what, const char *model,
                  char out[4096], wg_error *err);
/* Names wgpack writes are built from this only: [A-Za-z0-9_-] and inner '.', anything else
 * becomes '_' (never empty, never starting with '.'). */
void wg_safe_name(char *out, size_t n, const char *in);
/* A name a bundle may use: [A-Za-z0-9_.-], not starting with '.', and with allow_dir one
 * "dir/" level (kernels/x.wgsl). No scheme, no '%', no '..' segment, no backslash. */
bool wg_plain_name(const char *s, bool allow_dir);

/* ---- used by the readers in formats/, not by later stages ---- */
int wg_source_map(wg_model *m, const char *path, wg_error *err); /* returns index or <0 (-code) */
wg_tensor *wg_model_add(wg_model *m, const char *name, wg_error *err);
/* numel of a shape, false on negative dim or overflow */
bool wg_shape_numel(const int64_t *shape, int ndim, uint64_t *numel);
/* Owned scratch memory released with the model (for inline ONNX data). */
void *wg_model_alloc(wg_model *m, size_t n);
int wg_safetensors_read(wg_model *m, const char *path, wg_error *err);
int wg_safetensors_read_index(wg_model *m, const char *path, wg_error *err);
int wg_onnx_read(wg_model *m, const char *path, wg_error *err);
int wg_hfconfig_read(wg_hfconfig *c, const char *path, wg_error *err);
/* config.json facts against the tensors read (formats/hfconfig.c: the validation layer) */
int wg_hfconfig_check(wg_hfconfig *c, const wg_model *m, const char *path, wg_error *err);
int wg_classify(wg_model *m, const char *rules_path, wg_error *err);
/* ONNX structure hints for classification (implemented in onnx.c; no-op for other inputs):
 * fills role/in_dim_first from the op that consumes each initializer. */
void wg_onnx_structural_roles(wg_model *m);

#endif
