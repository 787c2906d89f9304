/* pack/onnx_internal.h — what the ONNX export's files share: how a weight is used in its graph
 * (onnx_store.c decides, onnx_export.c writes) and the data-file commit (onnx_files.c). */
#ifndef WG_ONNX_INTERNAL_H
#define WG_ONNX_INTERNAL_H
#include "pack_internal.h"
#include "onnx.pb-c.h"

/* How a value name is used inside g and below. */
typedef struct wg_onnx_uses {
    int matmul_b;   /* as input 1 of a two-input ai.onnx MatMul in g */
    int gather;     /* as input 0 (the table) of an ai.onnx Gather on axis 0 in g */
    int other;      /* any other use in g */
    int nested;     /* any use inside a subgraph of g */
} wg_onnx_uses;
wg_onnx_uses wg_onnx_find_uses(const Onnx__GraphProto *g, const char *name);
/* The use kind of tensor t given its uses and the model's ai.onnx opset. */
wg_onnx_use wg_onnx_use_of(const wg_tensor *t, const wg_onnx_uses *u, int opset);
int wg_onnx_opset(const Onnx__ModelProto *mp);
/* Bits a code takes when stored: 2, 4 or 8. */
int wg_onnx_storage_bits(wg_onnx_form form, int bits);
bool wg_onnx_is_constant_weight(const Onnx__NodeProto *nd);

/* An .onnx file and its external data file, made visible together (see onnx_files.c). */
typedef struct wg_onnx_pair {
    const char *onnx_path;   /* final path of the .onnx */
    char data_path[4096];    /* final path of the data file: "<onnx_path>_data" */
    char data_name[1024];    /* its base name, the location the final .onnx names */
    wg_atomic_file data;     /* data written here first (a temporary name) */
    char tmp_name[1024];     /* base name of that temporary: the location while committing */
    wg_atomic_file first;    /* staged: the model naming tmp_name (step 2) */
    wg_atomic_file second;   /* staged: the model naming data_name (step 4) */
    bool open;
} wg_onnx_pair;
int wg_onnx_pair_open(wg_onnx_pair *p, const char *onnx_path, wg_error *err);
/* pack(ctx, location, f) writes the model naming `location` as its data file into f.
 * Commits so that at every moment onnx_path is either the old model with its old data or the
 * new one with the new data; on failure the old pair is restored. */
int wg_onnx_pair_commit(wg_onnx_pair *p, int (*pack)(void *ctx, wg_atomic_file *f, wg_error *err),
                        void *ctx, char *location, size_t location_n, wg_error *err);
/* The commit in two halves: stage writes and syncs both models (every write that can fail),
 * swap does the renames of steps 2-5. location is changed by stage. */
int wg_onnx_pair_stage(wg_onnx_pair *p, int (*pack)(void *ctx, wg_atomic_file *f, wg_error *err),
                       void *ctx, char *location, size_t location_n, wg_error *err);
int wg_onnx_pair_swap(wg_onnx_pair *p, wg_error *err);
void wg_onnx_pair_abort(wg_onnx_pair *p);

/* ---- the export's working state (onnx_export.c rewrites graphs, onnx_emit.c writes weights) */
typedef struct ox_arena {
    struct ox_arena *next;
    _Alignas(16) unsigned char d[];
} ox_arena;

typedef struct ox {
    const wg_model *m;
    const wg_plan_entry *plan;
    const wg_onnx_export_opts *o;
    wg_onnx_export_result *res;
    wg_error *err;
    ox_arena *arena;      /* every new message and inline byte array lives here */
    int opset;            /* ai.onnx version of the input */
    bool need_ms;         /* a com.microsoft op was emitted */
    bool external;
    wg_onnx_pair pair;    /* external data file */
    char location[1024];  /* what every external tensor names as its file (changed at commit) */
    uint64_t data_off;
    int rc;
} ox;

typedef struct ox_nodes {
    Onnx__NodeProto **v;
    size_t n, cap;
} ox_nodes;
typedef struct ox_tensors {
    Onnx__TensorProto **v;
    size_t n, cap;
} ox_tensors;
/* consumer nodes replaced: original pointer -> replacement */
typedef struct ox_repl {
    const Onnx__NodeProto **from;
    Onnx__NodeProto **to;
    size_t n;
} ox_repl;

void *ox_alloc(ox *x, size_t n);
char *ox_str(ox *x, const char *a, const char *b);
void *ox_copy(ox *x, const void *p, size_t n);
bool ox_push(ox *x, void ***v, size_t *n, size_t *cap, void *p);
#define OX_PUSH(x, list, p) ox_push((x), (void ***)&(list)->v, &(list)->n, &(list)->cap, (p))
Onnx__TensorProto *ox_tensor(ox *x, const char *name, int dtype, int ndim, const int64_t *dims,
                             const void *bytes, uint64_t n);
/* bytes of a malloc'd buffer about to be freed, fit for ox_tensor */
const void *ox_transient(ox *x, const void *p, uint64_t n);
Onnx__AttributeProto *ox_attr_int(ox *x, const char *name, int64_t v);
Onnx__NodeProto *ox_node(ox *x, const char *op, const char *domain, const char *name,
                         const char *const *in, size_t nin, const char *out,
                         Onnx__AttributeProto *const *attrs, size_t nattr);
/* Write weight tp (tensor t, plan e) in `form`: initializers into inits, nodes that recreate
 * it into pre, consumers replaced through r. Returns 0 or x->rc. */
int ox_emit(ox *x, const Onnx__GraphProto *g, const Onnx__TensorProto *tp, const wg_tensor *t,
            const wg_plan_entry *e, wg_onnx_form form, ox_tensors *inits, ox_nodes *pre,
            ox_repl *r);
#endif
