/* program/build.h — the templates' vocabulary (program/build.c): config keys read by name (each
 * read claims the key; a math-changing key no template claimed refuses the program), tensors
 * found by name (or, in ONNX sources, by role and layer) with their shapes checked, and ops
 * appended to the stage being built. Every call after the first failure does nothing, so a
 * template reads straight through and wg_pb_done says the first reason. */
#ifndef WG_PROGRAM_BUILD_H
#define WG_PROGRAM_BUILD_H
#include "program.h"

struct wg_pbuild {
    wg_prog *p;
    const wg_model *m;
    json_t *cfg;             /* config.json's root object */
    char *why;
    size_t nwhy;
    bool failed;
    bool rope_by_type;       /* the template reads rope_parameters.sliding_attention itself */
    const char *claimed[96]; /* the keys the template read */
    int nclaimed;
};

/* ---- failing ---- */
bool pb_fail(wg_pbuild *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define PB_OK(b) (!(b)->failed)

/* ---- config.json: the key (top level, then text_config), or def when absent or null ---- */
json_t *pb_cfg(wg_pbuild *b, const char *key);
int64_t pb_int(wg_pbuild *b, const char *key, int64_t def);
double pb_num(wg_pbuild *b, const char *key, double def);
bool pb_bool(wg_pbuild *b, const char *key, bool def);
const char *pb_str(wg_pbuild *b, const char *key, const char *def);
/* a positive integer fact (refused when absent, zero or negative) */
int64_t pb_need(wg_pbuild *b, const char *key);
/* the activation code of a hidden_act name (ops.c's codes), refusing names not implemented */
int pb_act_code(wg_pbuild *b, const char *key, const char *def);
/* rope_theta (> 0) and rope_scaling (none, linear, llama3; anything else refused) into the
 * program's table, for rot rotated dimensions */
void pb_rope(wg_pbuild *b, double theta_default, int64_t rot);
/* the fraction of each head that rotates: partial_rotary_factor or rotary_pct, at the top level
 * or (transformers 5) in rope_parameters; def when none is given */
double pb_partial_rotary(wg_pbuild *b, double def);
/* the math-changing keys nobody claimed: each must be absent or its neutral value */
void pb_check_unclaimed(wg_pbuild *b);

/* ---- values ---- */
int pb_act(wg_pbuild *b, const char *name, int64_t width);
int pb_cache(wg_pbuild *b, const char *name, int64_t width);
int pb_input(wg_pbuild *b, const char *name);
/* a weight: the tensor named by fmt (printf), rows x K (rows 0: any), -1 if optional and
 * absent; refused when absent and required or of another size */
int pb_w(wg_pbuild *b, bool optional, int64_t rows, int64_t K, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
bool pb_has(wg_pbuild *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pb_stage(wg_pbuild *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- ops (y and other outputs are values made by pb_act) ---- */
void pb_gather(wg_pbuild *b, int y, int table, int index);
void pb_matmul(wg_pbuild *b, int x, int w, int bias, int y);
/* x += residual (>= 0), y = rmsnorm(x) over rows of H (heads rows per token) times w + off */
void pb_rmsnorm(wg_pbuild *b, int x, int residual, int w, int y, double eps, double off, int64_t H);
void pb_layernorm(wg_pbuild *b, int x, int w, int bias, int y, double eps);
/* y = act((y + bias) * pre) * post (act: ops.c's codes, 7 sigmoid) */
void pb_bias_act(wg_pbuild *b, int y, int bias, int act, double pre, double post);
void pb_glu(wg_pbuild *b, int gate, int up, int act);
void pb_add(wg_pbuild *b, int a, int other);
/* weights [S][E] = the routing of logits [S][E]: softmax, the k largest kept (renormalised to
 * sum 1 when norm), the others 0 */
void pb_moe_router(wg_pbuild *b, int logits, int weights, int64_t k, bool norm);
/* y (+)= w[:, e] * x per token (accumulate false: y starts from zeros) */
void pb_moe_add(wg_pbuild *b, int y, int w, int64_t e, int x, bool accumulate);
void pb_slice(wg_pbuild *b, int x, int y, int64_t col0);
/* y's width in groups of `group` columns, group g from x's column col0 + g * gstride */
void pb_slice_groups(wg_pbuild *b, int x, int y, int64_t col0, int64_t group, int64_t gstride);

/* image encoders: y = the image's patches (rows before `first` zero); y[row] = v; y += w (an
 * add of the position embeddings, a weight of the program's img_tokens rows) */
void pb_patches(wg_pbuild *b, int pixels, int y, int first);
void pb_set_row(wg_pbuild *b, int y, int v, int row);
void pb_add_flat(wg_pbuild *b, int y, int w);

/* one attention block's shape and variants */
typedef struct pb_attn {
    int64_t heads, kv_heads, head_dim, rot;
    bool causal, interleaved, rope;
    double scale, softcap;
    int64_t window;           /* causal: keys of the last `window` positions; encoders: keys
                                 at most `window` tokens away on either side (0: every key) */
    double alibi;             /* ALiBi's largest bias (8 in BLOOM and MPT), 0: none */
    int mask;                 /* attention_mask input (encoders), -1 */
    bool rope_local;          /* rotate by the program's second table ("rope_local") */
    /* encoders: add rel_bias, the relative position bias weight [buckets][heads], by the
     * program's rel_buckets (pb_rel_buckets) */
    bool has_rel_bias;
    int rel_bias;
} pb_attn;
/* q, k, v ([S][heads*hd], [S][kv*hd] x2) -> out [S][heads*hd]: rotary + key/value caches of
 * layer li (decoders) or attention over the pass (encoders: "attention", or "encoder_attention"
 * when a window or a relative bias is set) */
void pb_attention(wg_pbuild *b, const pb_attn *a, int li, int q, int k, int v, int out);
/* what the program is: a causal LM returning `output` as "logits", or an encoder returning it as
 * "last_hidden_state"; vocabulary, hidden size, positions (max and the position_ids rule) */
void pb_describe(wg_pbuild *b, bool causal, const char *output, int64_t V, int64_t H, int64_t NP,
                 const char *positions);
/* the second rotary table (theta; the first's rot, which pb_rope set, and no scaling) */
void pb_rope_local(wg_pbuild *b, double theta);
/* MPNet's (T5's bidirectional) relative position buckets, as HF computes them in f32: distance
 * d = key - query, n = -d; half the buckets for n < 0; |n| < max_exact (buckets/4) exact, else
 * max_exact + log(|n|/max_exact)/log(max_distance/max_exact)*(buckets/2 - max_exact), at most
 * buckets/2 - 1 */
void pb_rel_buckets(wg_pbuild *b, int64_t buckets, int64_t max_distance);
/* the ONNX exporter's renamed matrices: the one tensor of the role that HF name has, in its
 * layer (NULL: none or ambiguous) */
const wg_tensor *pb_find_by_role(const wg_model *m, const char *name);

/* ---- the registry (program/registry.c) ---- */
typedef void (*wg_template_fn)(wg_pbuild *b);
#endif
