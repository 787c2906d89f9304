/* program/build.c — the templates' vocabulary (see build.h) and the program's storage. */
#include "build.h"
#include "../quant/quant.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wg_prog_free(wg_prog *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nvals; i++)
        free(p->vals[i].name);
    for (int i = 0; i < p->nstages; i++)
        free(p->stages[i].name);
    free(p->vals);
    free(p->ops);
    free(p->stages);
    free(p->rel_bucket);
    for (int i = 0; i < p->head.nlabels; i++)
        free(p->head.labels[i]);
    free(p);
}

int wg_prog_value(const wg_prog *p, const char *name)
{
    for (int i = 0; i < p->nvals; i++)
        if (!strcmp(p->vals[i].name, name))
            return i;
    return -1;
}

bool pb_fail(wg_pbuild *b, const char *fmt, ...)
{
    if (b->failed)
        return false;
    b->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->why, b->nwhy, fmt, ap);
    va_end(ap);
    return false;
}

/* ---- config.json ---- */

static void claim(wg_pbuild *b, const char *key)
{
    for (int i = 0; i < b->nclaimed; i++)
        if (!strcmp(b->claimed[i], key))
            return;
    if (b->nclaimed < (int)(sizeof b->claimed / sizeof *b->claimed))
        b->claimed[b->nclaimed++] = key;
}

json_t *pb_cfg(wg_pbuild *b, const char *key)
{
    claim(b, key);
    if (!b->cfg)
        return NULL;
    json_t *v = json_object_get(b->cfg, key);
    if (!v || json_is_null(v)) {
        json_t *t = json_object_get(b->cfg, "text_config");
        v = json_is_object(t) ? json_object_get(t, key) : NULL;
    }
    return v && !json_is_null(v) ? v : NULL;
}

int64_t pb_int(wg_pbuild *b, const char *key, int64_t def)
{
    json_t *v = pb_cfg(b, key);
    if (!v)
        return def;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1ll << 40)) {
        pb_fail(b, "config.json: %s is not an integer in range", key);
        return def;
    }
    return json_integer_value(v);
}

double pb_num(wg_pbuild *b, const char *key, double def)
{
    json_t *v = pb_cfg(b, key);
    if (!v)
        return def;
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        pb_fail(b, "config.json: %s is not a number", key);
        return def;
    }
    return json_number_value(v);
}

bool pb_bool(wg_pbuild *b, const char *key, bool def)
{
    json_t *v = pb_cfg(b, key);
    if (!v)
        return def;
    if (!json_is_boolean(v))
        pb_fail(b, "config.json: %s is not true or false", key);
    return json_is_true(v);
}

const char *pb_str(wg_pbuild *b, const char *key, const char *def)
{
    json_t *v = pb_cfg(b, key);
    if (!v)
        return def;
    if (!json_is_string(v)) {
        pb_fail(b, "config.json: %s is not a string", key);
        return def;
    }
    return json_string_value(v);
}

int64_t pb_need(wg_pbuild *b, const char *key)
{
    int64_t v = pb_int(b, key, 0);
    if (v <= 0)
        pb_fail(b, "config.json: %s missing or not positive", key);
    return v;
}

int pb_act_code(wg_pbuild *b, const char *key, const char *def)
{
    static const struct { const char *name; int code; } acts[] = {
        {"gelu", 1}, {"gelu_python", 1}, {"gelu_new", 2}, {"gelu_pytorch_tanh", 2},
        {"gelu_fast", 2}, {"relu", 3}, {"silu", 4}, {"swish", 4}, {"quick_gelu", 5},
        {"tanh", 6}};
    const char *s = pb_str(b, key, def);
    for (size_t i = 0; s && i < sizeof acts / sizeof *acts; i++)
        if (!strcmp(s, acts[i].name))
            return acts[i].code;
    pb_fail(b, "config.json: %s \"%s\" is not implemented (gelu, gelu_new, gelu_pytorch_tanh, "
            "relu, silu, quick_gelu are)", key, s ? s : "");
    return 0;
}

double pb_partial_rotary(wg_pbuild *b, double def)
{
    json_t *rp = pb_cfg(b, "rope_parameters"), *v = json_is_object(rp) ? json_object_get(rp, "partial_rotary_factor") : NULL;
    double f = pb_num(b, "partial_rotary_factor", pb_num(b, "rotary_pct", json_is_number(v) ? json_number_value(v) : def));
    if (!(f > 0 && f <= 1))
        pb_fail(b, "config.json: partial rotary factor %g is outside (0, 1]", f);
    return f;
}

void pb_rope(wg_pbuild *b, double theta_default, int64_t rot)
{
    wg_prog *p = b->p;
    json_t *rp = pb_cfg(b, "rope_parameters");
    /* transformers 5 keys Gemma 3's by layer type: the global table is full_attention's */
    if (json_is_object(rp) && json_object_get(rp, "full_attention")) {
        if (json_object_get(rp, "sliding_attention") && !b->rope_by_type)
            pb_fail(b, "config.json: rope_parameters per layer type are not implemented by the %s program",
                    p->model_type);
        rp = json_object_get(rp, "full_attention");
        if (!json_is_object(rp))
            pb_fail(b, "config.json: rope_parameters.full_attention is not an object");
    }
    double theta = pb_num(b, "rope_theta", json_is_object(rp) && json_is_number(json_object_get(rp, "rope_theta"))
                                               ? json_number_value(json_object_get(rp, "rope_theta"))
                                               : theta_default);
    if (!(theta > 1 && theta <= 1e12))
        pb_fail(b, "config.json: rope_theta %g is out of range (1, 1e12]", theta);
    if (rot <= 0 || rot % 2)
        pb_fail(b, "rotary dimensions %lld: not a positive even number", (long long)rot);
    p->has_rope = 1;
    p->rope_theta = theta;
    p->rope_rot = rot;
    json_t *rs = pb_cfg(b, "rope_scaling");
    if (!rs && json_is_object(rp))
        rs = rp;
    if (!rs)
        return;
    if (!json_is_object(rs)) {
        pb_fail(b, "config.json: rope_scaling is not an object");
        return;
    }
    json_t *t = json_object_get(rs, "rope_type");
    if (!json_is_string(t))
        t = json_object_get(rs, "type");
    const char *type = json_is_string(t) ? json_string_value(t) : "default";
    if (!strcmp(type, "default"))
        return;
    if (strcmp(type, "linear") && strcmp(type, "llama3")) {
        pb_fail(b, "config.json: rope_scaling type '%s' is not implemented (linear and llama3 are)",
                type);
        return;
    }
    snprintf(p->rope_type, sizeof p->rope_type, "%s", type);
    json_t *f = json_object_get(rs, "factor"), *lo = json_object_get(rs, "low_freq_factor"),
           *hi = json_object_get(rs, "high_freq_factor"),
           *om = json_object_get(rs, "original_max_position_embeddings");
    p->rope_factor = json_is_number(f) ? json_number_value(f) : 0;
    if (!(p->rope_factor >= 1 && p->rope_factor <= 1e4))
        pb_fail(b, "config.json: rope_scaling factor missing or out of range [1, 1e4]");
    if (!strcmp(type, "llama3")) {
        p->rope_low = json_is_number(lo) ? json_number_value(lo) : 0;
        p->rope_high = json_is_number(hi) ? json_number_value(hi) : 0;
        p->rope_orig = json_is_integer(om) ? (double)json_integer_value(om) : 0;
        if (!(p->rope_low > 0 && p->rope_high > p->rope_low && p->rope_orig >= 1))
            pb_fail(b, "config.json: rope_scaling llama3: factors out of range");
    }
}

void pb_rope_local(wg_pbuild *b, double theta)
{
    if (!PB_OK(b))
        return;
    if (!b->p->has_rope)
        pb_fail(b, "program: internal: a second rotary table before the first");
    else if (!(theta > 1 && theta <= 1e12))
        pb_fail(b, "config.json: local rope_theta %g is out of range (1, 1e12]", theta);
    b->p->has_rope_local = 1;
    b->p->rope_local_theta = theta;
}

/* HF's relative_position_bucket in f32 (torch: float n / max_exact, log, / the double
 * log(max_distance / max_exact) as f32, * the half's large buckets, truncated) */
static int32_t rel_bucket(int64_t d, int64_t buckets, int64_t max_distance)
{
    int64_t n = -d, half = buckets / 2, exact = half / 2, ret = n < 0 ? half : 0;
    n = n < 0 ? -n : n;
    if (n < exact)
        return (int32_t)(ret + n);
    float r = logf((float)n / (float)exact);
    r = r / (float)log((double)max_distance / (double)exact);
    r = r * (float)(half - exact);
    int64_t large = exact + (int64_t)r;
    return (int32_t)(ret + (large < half - 1 ? large : half - 1));
}

void pb_rel_buckets(wg_pbuild *b, int64_t buckets, int64_t max_distance)
{
    wg_prog *p = b->p;
    if (!PB_OK(b))
        return;
    if (buckets < 8 || buckets % 4 || max_distance <= buckets / 4 || max_distance > 1 << 16) {
        pb_fail(b, "program: relative buckets %lld over %lld positions: not implemented",
                (long long)buckets, (long long)max_distance);
        return;
    }
    /* past max_distance every bucket is the last of its half: the table stops there */
    free(p->rel_bucket);
    if (!(p->rel_bucket = malloc(sizeof *p->rel_bucket * (size_t)(2 * max_distance + 1)))) {
        pb_fail(b, "out of memory");
        return;
    }
    p->rel_max = max_distance;
    for (int64_t d = -max_distance; d <= max_distance; d++)
        p->rel_bucket[d + max_distance] = rel_bucket(d, buckets, max_distance);
}

/* keys that change what a model computes, with the value that changes nothing ("" = absent,
 * null or false; numbers compare by value) */
static const struct { const char *key, *neutral; } math_keys[] = {
    {"attention_bias", ""}, {"mlp_bias", ""}, {"rope_scaling", ""}, {"partial_rotary_factor", "1"},
    {"rotary_pct", "1"}, {"attn_logit_softcapping", ""}, {"final_logit_softcapping", ""},
    {"use_qk_norm", ""}, {"qk_layernorm", ""}, {"embedding_multiplier", "1"},
    {"residual_multiplier", "1"}, {"attention_multiplier", ""}, {"logits_scaling", "1"},
    {"use_parallel_residual", ""}, {"parallel_attn", ""}, {"alibi", ""}, {"num_local_experts", ""},
    {"num_experts", ""}, {"n_routed_experts", ""}, {"sliding_window", ""},
    {"use_sliding_window", ""}, {"layer_types", ""}, {"clip_qkv", ""},
    {"query_pre_attn_scalar", ""}, {"scale_attn_by_inverse_layer_idx", ""},
    {"reorder_and_upcast_attn", ""}, {"position_embedding_type", "absolute"},
    {"rope_interleaved", ""}, {"hidden_activation", ""}, {"embedding_scale", ""},
    {"multi_query", ""}, {"new_decoder_architecture", ""}, {"attn_softmax_bf16", ""},
    {"apply_residual_connection_post_layernorm", ""}, {"use_cache_quantization", ""},
    {"normalization", ""}, {"norm_type", ""}, {"qkv_bias", ""}, {"use_bias", ""},
};

static bool neutral(json_t *v, const char *n)
{
    if (!v || json_is_null(v) || json_is_false(v))
        return true;
    if (!*n)
        return false;
    if (json_is_number(v))
        return json_number_value(v) == atof(n);
    return json_is_string(v) && !strcmp(json_string_value(v), n);
}

void pb_check_unclaimed(wg_pbuild *b)
{
    for (size_t i = 0; i < sizeof math_keys / sizeof *math_keys && PB_OK(b); i++) {
        bool mine = false;
        for (int k = 0; k < b->nclaimed && !mine; k++)
            mine = !strcmp(b->claimed[k], math_keys[i].key);
        if (mine || !b->cfg)
            continue;
        json_t *v = json_object_get(b->cfg, math_keys[i].key);
        if (!neutral(v, math_keys[i].neutral)) {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            pb_fail(b, "config.json: %s = %.60s is not implemented by the %s program", math_keys[i].key,
                    s ? s : "?", b->p->model_type);
            free(s);
        }
    }
}

/* ---- values ---- */

static int add_value(wg_pbuild *b, const char *name, wg_pkind kind, int64_t width, int64_t rows)
{
    wg_prog *p = b->p;
    int i = wg_prog_value(p, name);
    if (i >= 0) {
        if (p->vals[i].kind != kind || p->vals[i].width != width)
            return pb_fail(b, "program: value %s used with two shapes", name), -1;
        return i;
    }
    if (p->nvals == p->capvals) {
        int cap = p->capvals ? 2 * p->capvals : 64;
        wg_pval *v = realloc(p->vals, sizeof *v * (size_t)cap);
        if (!v)
            return pb_fail(b, "out of memory"), -1;
        p->vals = v;
        p->capvals = cap;
    }
    char *nm = strdup(name);
    if (!nm)
        return pb_fail(b, "out of memory"), -1;
    p->vals[p->nvals] = (wg_pval){nm, kind, width, rows};
    return p->nvals++;
}

int pb_act(wg_pbuild *b, const char *name, int64_t width)
{
    return PB_OK(b) ? add_value(b, name, WG_PV_ACT, width, 0) : -1;
}

int pb_cache(wg_pbuild *b, const char *name, int64_t width)
{
    return PB_OK(b) ? add_value(b, name, WG_PV_CACHE, width, 0) : -1;
}

int pb_input(wg_pbuild *b, const char *name)
{
    return PB_OK(b) ? add_value(b, name, WG_PV_INPUT, 1, 0) : -1;
}

static int layer_of(const char *name)
{
    const char *p = strstr(name, "layers.");
    p = p ? p + 7 : (p = strstr(name, "layer.")) ? p + 6 : (p = strstr(name, ".h.")) ? p + 3 : NULL;
    return p && *p >= '0' && *p <= '9' ? atoi(p) : -1;
}

const wg_tensor *pb_find_by_role(const wg_model *m, const char *name)
{
    static const struct { const char *suffix; wg_role role; } by_role[] = {
        {"q_proj.weight", WG_ROLE_ATTN_Q}, {"k_proj.weight", WG_ROLE_ATTN_K},
        {"v_proj.weight", WG_ROLE_ATTN_V}, {"o_proj.weight", WG_ROLE_ATTN_OUT},
        {"gate_proj.weight", WG_ROLE_FFN_GATE}, {"up_proj.weight", WG_ROLE_FFN_UP},
        {"down_proj.weight", WG_ROLE_FFN_DOWN}, {"lm_head.weight", WG_ROLE_HEAD},
        {"attention.self.query.weight", WG_ROLE_ATTN_Q}, {"attention.self.key.weight", WG_ROLE_ATTN_K},
        {"attention.self.value.weight", WG_ROLE_ATTN_V},
        {"attention.output.dense.weight", WG_ROLE_ATTN_OUT},
        {"intermediate.dense.weight", WG_ROLE_FFN_UP}, {".output.dense.weight", WG_ROLE_FFN_DOWN},
        {"attention.q_lin.weight", WG_ROLE_ATTN_Q}, {"attention.k_lin.weight", WG_ROLE_ATTN_K},
        {"attention.v_lin.weight", WG_ROLE_ATTN_V}, {"attention.out_lin.weight", WG_ROLE_ATTN_OUT},
        {"ffn.lin1.weight", WG_ROLE_FFN_UP}, {"ffn.lin2.weight", WG_ROLE_FFN_DOWN},
    };
    size_t n = strlen(name);
    for (size_t r = 0; r < sizeof by_role / sizeof *by_role; r++) {
        size_t k = strlen(by_role[r].suffix);
        if (n < k || strcmp(name + n - k, by_role[r].suffix))
            continue;
        if (by_role[r].role == WG_ROLE_FFN_DOWN && strstr(name, "attention.output"))
            continue; /* BERT's attention.output.dense is the attention's output projection */
        const wg_tensor *hit = NULL;
        int layer = layer_of(name);
        for (size_t i = 0; i < m->n_tensors; i++)
            if (m->tensors[i].role == by_role[r].role && m->tensors[i].layer == layer) {
                if (hit)
                    return NULL; /* ambiguous: not a guess */
                hit = &m->tensors[i];
            }
        return hit;
    }
    return NULL;
}

static const wg_tensor *lookup_tensor(const wg_model *m, const char *name)
{
    const wg_tensor *t = wg_model_find(m, name);
    if (!t && m->kind == WG_IN_ONNX)
        t = pb_find_by_role(m, name);
    return t && wg_dtype_is_float(t->dtype) ? t : NULL;
}

bool pb_has(wg_pbuild *b, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return lookup_tensor(b->m, name) != NULL;
}

int pb_w(wg_pbuild *b, bool optional, int64_t rows, int64_t K, const char *fmt, ...)
{
    if (!PB_OK(b))
        return -1;
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const wg_tensor *t = lookup_tensor(b->m, name);
    if (!t) {
        if (!optional)
            pb_fail(b, "%s program: tensor %s missing", b->p->model_type, name);
        return -1;
    }
    int64_t r, k;
    wg_tensor_matrix(t, &r, &k);
    if ((rows && r * k != rows * K) || (!rows && k != K) || (rows > 1 && r != rows)) {
        pb_fail(b, "%s program: tensor %s is %lldx%lld, expected %lldx%lld", b->p->model_type,
                t->name, (long long)r, (long long)k, (long long)(rows ? rows : r), (long long)K);
        return -1;
    }
    return add_value(b, t->name, WG_PV_WEIGHT, r * k, rows == 1 ? 1 : r);
}

void pb_stage(wg_pbuild *b, const char *fmt, ...)
{
    wg_prog *p = b->p;
    if (!PB_OK(b))
        return;
    if (p->nstages == p->capstages) {
        int cap = p->capstages ? 2 * p->capstages : 16;
        wg_pstage *s = realloc(p->stages, sizeof *s * (size_t)cap);
        if (!s) {
            pb_fail(b, "out of memory");
            return;
        }
        p->stages = s;
        p->capstages = cap;
    }
    char name[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    p->stages[p->nstages++] = (wg_pstage){strdup(name), p->nops, 0};
}

/* ---- ops ---- */

#define K(v) ((wg_pexpr){(double)(v), 0})
#define SX(v) ((wg_pexpr){(double)(v), 'S'})
#define PX ((wg_pexpr){1, 'P'})
#define MX ((wg_pexpr){1, 'M'})

static void emit(wg_pbuild *b, const char *name, const int *args, int nargs, const wg_pexpr *f, int nf)
{
    wg_prog *p = b->p;
    if (!PB_OK(b))
        return;
    for (int i = 0; i < nargs; i++)
        if (args[i] < -1) {
            pb_fail(b, "program: internal: bad operand");
            return;
        }
    if (!p->nstages) {
        pb_fail(b, "program: internal: an op outside a stage");
        return;
    }
    if (p->nops == p->capops) {
        int cap = p->capops ? 2 * p->capops : 256;
        wg_pop *o = realloc(p->ops, sizeof *o * (size_t)cap);
        if (!o) {
            pb_fail(b, "out of memory");
            return;
        }
        p->ops = o;
        p->capops = cap;
    }
    wg_pop *op = &p->ops[p->nops++];
    memset(op, 0, sizeof *op);
    op->def = wg_pop_find(name);
    for (int i = 0; i < WG_POP_SLOTS; i++)
        op->arg[i] = i < nargs ? args[i] : -1;
    for (int i = 0; i < nf; i++)
        op->f[i] = f[i];
    p->stages[p->nstages - 1].nops++;
}

#define W_(v) (b->p->vals[v].width)
#define ROWS(v) (b->p->vals[v].rows)

void pb_gather(wg_pbuild *b, int y, int table, int index)
{
    if (PB_OK(b) && (table < 0 || W_(table) / ROWS(table) != W_(y)))
        pb_fail(b, "program: gather into a value of another width");
    emit(b, "gather", (int[]){table, index, y}, 3, NULL, 0);
}

void pb_matmul(wg_pbuild *b, int x, int w, int bias, int y)
{
    if (PB_OK(b) && (w < 0 || W_(w) / ROWS(w) != W_(x) || ROWS(w) != W_(y) ||
                     (bias >= 0 && W_(bias) != W_(y))))
        pb_fail(b, "program: matmul %s: shapes do not chain", w < 0 ? "?" : b->p->vals[w].name);
    emit(b, "matmul", (int[]){x, w, bias, y}, 4, NULL, 0);
}

void pb_rmsnorm(wg_pbuild *b, int x, int residual, int w, int y, double eps, double off, int64_t H)
{
    if (!PB_OK(b))
        return;
    if (!(eps > 0 && eps < 1))
        pb_fail(b, "config.json: a norm epsilon %g is out of range (0, 1)", eps);
    int64_t per = W_(x) / H;
    if (W_(x) % H || W_(y) != W_(x) || (w >= 0 && W_(w) != H))
        pb_fail(b, "program: rmsnorm: shapes do not chain");
    emit(b, "rmsnorm", (int[]){x, residual, w, y}, 4,
         (wg_pexpr[]){SX(per), K(H), K(eps), K(residual >= 0), K(off), K(w >= 0)}, 6);
}

void pb_layernorm(wg_pbuild *b, int x, int w, int bias, int y, double eps)
{
    if (!PB_OK(b))
        return;
    if (!(eps > 0 && eps < 1))
        pb_fail(b, "config.json: a norm epsilon %g is out of range (0, 1)", eps);
    if (W_(y) != W_(x) || (w >= 0 && W_(w) != W_(x)) || (bias >= 0 && W_(bias) != W_(x)))
        pb_fail(b, "program: layernorm: shapes do not chain");
    emit(b, "layernorm", (int[]){x, w, bias, y}, 4,
         (wg_pexpr[]){SX(1), K(W_(x)), K(eps), K(w >= 0), K(bias >= 0)}, 5);
}

void pb_bias_act(wg_pbuild *b, int y, int bias, int act, double pre, double post)
{
    if (!PB_OK(b))
        return;
    if (bias >= 0 && W_(bias) != W_(y))
        pb_fail(b, "program: bias of another width");
    emit(b, "bias_act", (int[]){y, bias}, 2,
         (wg_pexpr[]){SX(W_(y)), K(W_(y)), K(act), K(bias >= 0), K(pre), K(post)}, 6);
}

void pb_glu(wg_pbuild *b, int gate, int up, int act)
{
    if (PB_OK(b) && W_(gate) != W_(up))
        pb_fail(b, "program: glu: gate and up differ");
    emit(b, "glu", (int[]){gate, up}, 2, (wg_pexpr[]){SX(PB_OK(b) ? W_(gate) : 0), K(act)}, 2);
}

void pb_add(wg_pbuild *b, int a, int other)
{
    if (PB_OK(b) && W_(a) != W_(other))
        pb_fail(b, "program: add: widths differ");
    emit(b, "add", (int[]){a, other}, 2, (wg_pexpr[]){SX(PB_OK(b) ? W_(a) : 0)}, 1);
}

void pb_patches(wg_pbuild *b, int pixels, int y, int first)
{
    const wg_prog *p = b->p;
    emit(b, "patches", (int[]){pixels, y}, 2,
         (wg_pexpr[]){SX(PB_OK(b) ? W_(y) : 0), K(p->img_channels), K(p->img_height), K(p->img_width),
                      K(p->img_patch), K(first)}, 6);
}

void pb_set_row(wg_pbuild *b, int y, int v, int row)
{
    if (PB_OK(b) && W_(y) != W_(v))
        pb_fail(b, "program: set_row: widths differ");
    emit(b, "set_row", (int[]){y, v}, 2, (wg_pexpr[]){K(PB_OK(b) ? W_(y) : 0), K(row)}, 2);
}

void pb_add_flat(wg_pbuild *b, int y, int w)
{
    emit(b, "add", (int[]){y, w}, 2, (wg_pexpr[]){SX(PB_OK(b) ? W_(y) : 0)}, 1);
}

void pb_moe_router(wg_pbuild *b, int logits, int weights, int64_t k, bool norm)
{
    if (!PB_OK(b))
        return;
    int64_t E = W_(logits);
    if (W_(weights) != E || E > WG_MOE_MAX_EXPERTS || k < 1 || k > E)
        pb_fail(b, "program: %lld experts, %lld a token: not implemented (1 <= k <= experts <= %d)",
                (long long)E, (long long)k, WG_MOE_MAX_EXPERTS);
    emit(b, "moe_router", (int[]){logits, weights}, 2, (wg_pexpr[]){SX(1), K(E), K(k), K(norm)}, 4);
}

void pb_moe_add(wg_pbuild *b, int y, int w, int64_t e, int x, bool accumulate)
{
    if (PB_OK(b) && (W_(x) != W_(y) || e < 0 || e >= W_(w)))
        pb_fail(b, "program: moe_add: widths differ or expert %lld outside the weights", (long long)e);
    emit(b, "moe_add", (int[]){y, w, x}, 3,
         (wg_pexpr[]){SX(PB_OK(b) ? W_(y) : 0), K(PB_OK(b) ? W_(y) : 0), K(PB_OK(b) ? W_(w) : 0), K(e),
                      K(accumulate)}, 5);
}

void pb_slice_groups(wg_pbuild *b, int x, int y, int64_t col0, int64_t group, int64_t gstride)
{
    if (!PB_OK(b))
        return;
    if (group <= 0 || W_(y) % group || col0 + (W_(y) / group - 1) * gstride + group > W_(x))
        pb_fail(b, "program: slice past its source");
    emit(b, "slice", (int[]){x, y}, 2,
         (wg_pexpr[]){SX(W_(y)), K(W_(x)), K(col0), K(W_(y)), K(group), K(gstride)}, 6);
}

void pb_slice(wg_pbuild *b, int x, int y, int64_t col0)
{
    if (PB_OK(b))
        pb_slice_groups(b, x, y, col0, W_(y), 0);
}

void pb_describe(wg_pbuild *b, bool causal, const char *output, int64_t V, int64_t H, int64_t NP,
                 const char *positions)
{
    wg_prog *p = b->p;
    snprintf(p->task, sizeof p->task, "%s", causal ? "causal-lm" : "encoder");
    snprintf(p->output, sizeof p->output, "%s", output);
    snprintf(p->output_name, sizeof p->output_name, "%s", causal ? "logits" : "last_hidden_state");
    snprintf(p->positions, sizeof p->positions, "%s", positions);
    p->vocab = V;
    p->hidden = H;
    p->max_positions = NP;
}

void pb_attention(wg_pbuild *b, const pb_attn *a, int li, int q, int k, int v, int out)
{
    if (!PB_OK(b))
        return;
    int64_t Q = a->heads * a->head_dim, KV = a->kv_heads * a->head_dim;
    if (a->head_dim % 4 || a->head_dim > 1024)
        pb_fail(b, "head_dim %lld: the attention kernel needs a multiple of 4, at most 1024",
                (long long)a->head_dim);
    if (a->kv_heads <= 0 || a->heads % a->kv_heads)
        pb_fail(b, "attention heads %lld are not a multiple of key/value heads %lld",
                (long long)a->heads, (long long)a->kv_heads);
    if (W_(q) != Q || W_(k) != KV || W_(v) != KV || W_(out) != Q)
        pb_fail(b, "program: attention: q/k/v widths do not match the heads");
    if (a->rope && (a->rot > a->head_dim || a->rot <= 0))
        pb_fail(b, "rotary dimensions %lld outside 1..head_dim", (long long)a->rot);
    if (a->rope_local && !b->p->has_rope_local)
        pb_fail(b, "program: internal: the second rotary table is not set");
    if (a->has_rel_bias && (a->causal || !b->p->rel_max || a->rel_bias < 0 ||
                            W_(a->rel_bias) != ROWS(a->rel_bias) * a->heads))
        pb_fail(b, "program: the relative position bias is not [buckets][heads] of an encoder");
    for (int64_t i = 0; PB_OK(b) && a->has_rel_bias && i <= 2 * b->p->rel_max; i++)
        if (b->p->rel_bucket[i] >= ROWS(a->rel_bias))
            pb_fail(b, "program: relative bucket %d past the bias table's %lld rows",
                    (int)b->p->rel_bucket[i], (long long)ROWS(a->rel_bias));
    if (!PB_OK(b))
        return;
    int kk = k, vv = v, qq = q;
    char nm[48];
    if (a->rope || a->causal) {
        snprintf(nm, sizeof nm, "k_cache.%d", li);
        kk = a->causal ? pb_cache(b, nm, KV) : pb_act(b, "k_rot", KV);
        snprintf(nm, sizeof nm, "v_cache.%d", li);
        vv = a->causal ? pb_cache(b, nm, KV) : pb_act(b, "v_rot", KV);
        qq = pb_act(b, "q_rot", Q);
        /* a decoder without rotary embeddings: rot 0 copies q, k, v into place */
        int tab = add_value(b, a->rope_local ? "rope_local" : "rope", WG_PV_TABLE, a->rope ? a->rot : 0, 0);
        int64_t hh = a->head_dim / 2;
        emit(b, "rope_kv", (int[]){q, k, v, tab, qq, kk, vv}, 7,
             (wg_pexpr[]){SX((a->heads + 2 * a->kv_heads) * hh), SX(1), K(a->heads), K(a->kv_heads),
                          K(a->head_dim), PX, K(a->rope ? a->rot : 0), K(a->interleaved)}, 8);
    }
    if (!a->causal && (a->window > 0 || a->has_rel_bias)) {
        int bias = a->has_rel_bias ? a->rel_bias : -1,
            tab = a->has_rel_bias ? add_value(b, "rel_buckets", WG_PV_TABLE, 2 * b->p->rel_max + 1, 0) : -1;
        emit(b, "encoder_attention", (int[]){qq, kk, vv, a->mask, bias, tab, out}, 7,
             (wg_pexpr[]){SX(1), K(a->heads), K(a->kv_heads), K(a->head_dim), SX(1), MX, K(a->scale),
                          K(a->window), K(a->has_rel_bias), K(a->has_rel_bias ? b->p->rel_max : 0)}, 10);
        return;
    }
    emit(b, "attention", (int[]){qq, kk, vv, a->causal ? -1 : a->mask, out}, 5,
         (wg_pexpr[]){SX(1), K(a->heads), K(a->kv_heads), K(a->head_dim), PX, K(a->causal),
                      a->causal ? K(0) : SX(1), MX, K(a->scale), K(a->softcap), K(a->window), K(a->alibi)}, 12);
}
