/* program/program.h — the forward program: what a model computes, as data.
 *
 * A program is a flat list of typed ops over named values, grouped into loading stages ("embed",
 * "layer 0" ... "layer L-1", "head"). It is written into a bundle's manifest (section "program",
 * schema docs/program.schema.json) and run by two interpreters: the C one here (wgpack verify,
 * wgpack run's reference) and the JS one in the runtime. Both follow the same op table, so a
 * runtime and the reference compute the same function by construction; a family is one template
 * (program/models/NAME.c) that reads config.json and names tensors.
 *
 * Values are activations [S][width] f32 (S: the tokens of one pass, symbolic), key/value caches
 * [positions][width], or the model's inputs (input_ids, position_ids, token_type_ids,
 * attention_mask: S int32 each). Weight operands name tensors of the model (matrices in their
 * matrix view rows x K; vectors 1 x K).
 *
 * An op's uniform parameters are its kernel's fields, in order (wg_pop_def.fields): each a number
 * or a symbol expression "S", "S*k", "P" (the position of the pass's first token) or "M" (the
 * attention scratch stride: keys the runtime allows), evaluated per pass. The C interpreter runs
 * one pass over the whole sequence (P = 0, M = S).
 *
 * Contract: deterministic (same model and config, same program bytes); everything a template
 * does not implement is refused with a one-line reason (wg_prog_build's `why`), never run as
 * something else; the interpreter's arithmetic is f32 with dot products and norm statistics in
 * double, independent of the thread count. */
#ifndef WG_PROGRAM_H
#define WG_PROGRAM_H
#include "../formats/model.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define WG_PROG_VERSION 1
/* the most experts a moe_router op takes (its kernel keeps a bit per expert) */
#define WG_MOE_MAX_EXPERTS 256

typedef enum wg_pkind {
    WG_PV_ACT,    /* activation [S][width] */
    WG_PV_CACHE,  /* key or value cache [positions][width] */
    WG_PV_INPUT,  /* int32 [S]: input_ids, position_ids, token_type_ids, attention_mask; or
                     pixel_values, f32 [channels][height][width] (image encoders) */
    WG_PV_WEIGHT, /* a tensor: matrix (matmul, gather) or vector (norm weights, biases) */
    WG_PV_TABLE,  /* made by the interpreter from the program's header: "rope" and "rope_local",
                     rotary tables [positions][rot/2] of (cos, sin); "rel_buckets", the relative
                     position bucket of each distance (int32 [2 * rel_max + 1]) */
} wg_pkind;

/* one operand slot of an op: its binding name, what it may hold (a mask of 1 << wg_pkind),
 * whether it may be absent, whether the op writes it */
typedef struct wg_pslot {
    const char *name;
    unsigned kinds;
    bool optional;
    bool written;
} wg_pslot;

struct wg_pexec;
struct wg_pop;
#define WG_POP_SLOTS 8
#define WG_POP_FIELDS 12
typedef struct wg_pop_def {
    const char *name;     /* the op, and its kernel: "matmul"/"gather" by the weight's format,
                             any other an op kernel (formats/wgsl_ops.h) of the same name */
    wg_pslot slots[WG_POP_SLOTS];
    int nslots;
    const char *fields[WG_POP_FIELDS]; /* the uniform block, in order; "name:f32" for floats */
    int nfields;
    /* the C reference of the op (program/ops.c) */
    int (*run)(const struct wg_pexec *x, const struct wg_pop *op);
} wg_pop_def;

/* The op table (program/ops.c). */
const wg_pop_def *wg_pop_defs(int *n);
int wg_pop_find(const char *name);

typedef struct wg_pval {
    char *name;
    wg_pkind kind;
    int64_t width;    /* ACT, CACHE: values per row; WEIGHT: rows x K of the tensor */
    int64_t rows;     /* WEIGHT: rows */
} wg_pval;

/* a field's value: a constant, or coef x a symbol (S, P, M) */
typedef struct wg_pexpr {
    double c;
    char sym;         /* 0: the constant c; 'S', 'P', 'M': c x that symbol */
} wg_pexpr;

typedef struct wg_pop {
    int def;                          /* index into wg_pop_defs */
    int arg[WG_POP_SLOTS];            /* value index per slot, -1: absent */
    wg_pexpr f[WG_POP_FIELDS];
} wg_pop;

typedef struct wg_pstage {
    char *name;
    int op0, nops;                    /* ops[op0 .. op0 + nops) */
} wg_pstage;

/* An encoder checkpoint's task head (what its config's `architectures` names: BertForMaskedLM,
 * ...ForSequenceClassification, ...ForTokenClassification): a second output of the program,
 * computed by the stage "task head" after the primary one. task "" when there is none. */
#define WG_HEAD_LABELS 256
typedef struct wg_phead {
    char task[24];                    /* "fill-mask", "text-classification", "token-classification",
                                         "image-classification" */
    char name[32];                    /* its Hugging Face name ("logits") */
    char value[32];                   /* the value holding it, [S][width] */
    bool first_row;                   /* only row 0 is the output (classification of the sequence) */
    char problem[32];                 /* classification: config.json's problem_type, "" if absent */
    int nlabels;                      /* classification: config.json's id2label, in id order */
    char *labels[WG_HEAD_LABELS];
} wg_phead;

typedef struct wg_prog {
    char model_type[64];
    char task[24];                    /* "causal-lm" or "encoder" */
    int64_t vocab, hidden, max_positions, sliding_window;
    /* position_ids: pos = P + t + offset ("arange"), or RoBERTa's count from pad_id + 1 over
     * tokens other than pad_id ("padding") */
    char positions[12];
    int64_t pos_offset, pad_id;
    /* the rotary table, when a rope_kv op uses one: theta^(-2i/rot) scaled as HF does */
    int has_rope;
    double rope_theta;
    int64_t rope_rot;
    char rope_type[16];               /* "" (none), "linear", "llama3" */
    double rope_factor, rope_low, rope_high, rope_orig;
    /* a second rotary table "rope_local" (ModernBERT's local layers): its own theta, the first
     * table's rot, no scaling */
    int has_rope_local;
    double rope_local_theta;
    /* relative position buckets (MPNet): rel_bucket[d + rel_max] is the bucket of key - query
     * distance d in [-rel_max, rel_max], farther distances clamped to the ends; rel_max 0: none */
    int64_t rel_max;
    int32_t *rel_bucket;
    /* an image encoder (ViT): the input pixel_values is f32 [channels][height][width], cut into
     * patch x patch squares that make `tokens` rows with the leading (CLS) ones; 0: text */
    int64_t img_channels, img_height, img_width, img_patch, img_tokens;
    wg_pval *vals;
    int nvals, capvals;
    wg_pop *ops;
    int nops, capops;
    wg_pstage *stages;
    int nstages, capstages;
    char output[32];                  /* the value the pass returns */
    char output_name[32];             /* its Hugging Face name: "logits", "last_hidden_state" */
    wg_phead head;                    /* the checkpoint's task head, when it has one */
} wg_prog;

void wg_prog_free(wg_prog *p);
int wg_prog_value(const wg_prog *p, const char *name);

/* ---- building (program/build.c): the templates' vocabulary ---- */
typedef struct wg_pbuild wg_pbuild;

/* The program of model m from its template (program/registry.c), or NULL with `why` set to one
 * line: no template for the model type, a config value the template does not implement, a
 * tensor missing or of the wrong shape. */
wg_prog *wg_prog_build(const wg_model *m, char *why, size_t nwhy);

/* Every op's operands and fields against its table row and each other (program/check.c): what
 * the interpreters rely on to stay inside their buffers. 0, or -1 with why set. */
int wg_prog_check(const wg_prog *p, char *why, size_t nwhy);

/* ---- JSON (program/json.c) ---- */
json_t *wg_prog_to_json(const wg_prog *p);
/* Parses and validates the section: every op of the table, every operand of its slot's kind,
 * fields complete, widths consistent; weights resolved through has_tensor (rows, K of a name, 0
 * if the bundle has no such tensor). NULL with why set. */
typedef bool (*wg_tensor_dims_fn)(void *ctx, const char *name, int64_t *rows, int64_t *K);
wg_prog *wg_prog_from_json(json_t *o, wg_tensor_dims_fn dims, void *ctx, char *why, size_t nwhy);

/* ---- the C interpreter (program/interp.c) ---- */
typedef float *(*wg_pweight_fn)(void *ctx, const char *name, int64_t *rows, int64_t *K);
typedef struct wg_pinputs {
    int n;
    const int32_t *input_ids, *token_type_ids, *attention_mask; /* NULL: 0s / 1s */
    bool head;        /* out gets the head's output instead of the primary one */
    const float *pixel_values; /* image encoders: [channels][height][width]; n = img_tokens */
} wg_pinputs;
/* Runs every stage over n tokens at positions 0..n-1; out gets [n][width of p->output] (or,
 * with in->head, [wg_prog_head_rows(p, n)][width of the head's value]).
 * Weights come from get (each once; the caller's getter owns nothing afterwards). Returns 0,
 * or fails with err: a weight missing or of another size, an id outside a table, out of
 * memory. */
int wg_prog_run(const wg_prog *p, wg_pweight_fn get, void *gctx, const wg_pinputs *in,
                float *out, int threads, wg_error *err);
/* The width of the program's output (vocab or hidden). */
int64_t wg_prog_out_width(const wg_prog *p);
/* The head's width (0: no head) and its rows for n tokens (1 for a sequence classifier). */
int64_t wg_prog_head_width(const wg_prog *p);
int wg_prog_head_rows(const wg_prog *p, int n);
/* The rotary frequency of pair i (as HF computes it, scaling included). */
double wg_prog_rope_freq(const wg_prog *p, int i);
/* ALiBi's slope of head h of nh heads for the largest bias bmax (program/ops.c) */
double wg_alibi_slope(int nh, int h, double bmax);
/* Layers (stages named "layer N") and the largest reduction length, for the f32 tolerance. */
int wg_prog_layers(const wg_prog *p);
int64_t wg_prog_kmax(const wg_prog *p);
#endif
