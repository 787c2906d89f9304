/* pack/forward.c — the manifest's "forward" section: how a runtime runs the bundle's model.
 *
 * The section is derived from the C reference forward passes themselves (verify/llama.c,
 * verify/bert.c): their loaders are run with a probing weight getter that hands out a distinct
 * one-byte allocation per tensor and records which tensor it stands for, so the descriptor names
 * exactly the tensors (and dims, epsilons, rope theta, ...) the reference would use. A runtime
 * that follows it and the reference compute the same function by construction.
 * Only the model types whose whole architecture the references implement are described:
 * Llama, Mistral and Qwen2 (decoders), BERT, RoBERTa, XLM-RoBERTa and DistilBERT (encoders);
 * for any other the section is absent and "forward_missing" says why in one line. */
#include "pack_internal.h"
#include "../quant/quant.h"
#include "../verify/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct probe {
    const wg_model *m;
    struct rec {
        const void *p;
        const char *name;
    } *r;
    size_t n, cap;
} probe;

/* Weight matrices an exporter renamed (ONNX: onnx::MatMul_123, stored transposed) are found by
 * what the classifier made of the graph: the one tensor of that role in that layer. */
static const struct {
    const char *suffix;
    wg_role role;
} by_role[] = {
    {"self_attn.q_proj.weight", WG_ROLE_ATTN_Q}, {"self_attn.k_proj.weight", WG_ROLE_ATTN_K},
    {"self_attn.v_proj.weight", WG_ROLE_ATTN_V}, {"self_attn.o_proj.weight", WG_ROLE_ATTN_OUT},
    {"mlp.gate_proj.weight", WG_ROLE_FFN_GATE}, {"mlp.up_proj.weight", WG_ROLE_FFN_UP},
    {"mlp.down_proj.weight", WG_ROLE_FFN_DOWN}, {"lm_head.weight", WG_ROLE_HEAD},
    {"attention.self.query.weight", WG_ROLE_ATTN_Q}, {"attention.self.key.weight", WG_ROLE_ATTN_K},
    {"attention.self.value.weight", WG_ROLE_ATTN_V},
    {"attention.output.dense.weight", WG_ROLE_ATTN_OUT},
    {"intermediate.dense.weight", WG_ROLE_FFN_UP}, {".output.dense.weight", WG_ROLE_FFN_DOWN},
    {"attention.q_lin.weight", WG_ROLE_ATTN_Q}, {"attention.k_lin.weight", WG_ROLE_ATTN_K},
    {"attention.v_lin.weight", WG_ROLE_ATTN_V}, {"attention.out_lin.weight", WG_ROLE_ATTN_OUT},
    {"ffn.lin1.weight", WG_ROLE_FFN_UP}, {"ffn.lin2.weight", WG_ROLE_FFN_DOWN},
};

static int layer_of(const char *name)
{
    const char *p = strstr(name, "layers.");
    p = p ? p + 7 : (p = strstr(name, "layer.")) ? p + 6 : NULL;
    return p && *p >= '0' && *p <= '9' ? atoi(p) : -1;
}

static const wg_tensor *find_by_role(const wg_model *m, const char *name)
{
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

static float *probe_get(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    probe *pr = ctx;
    const wg_tensor *t = wg_model_find(pr->m, name);
    if (!t && pr->m->kind == WG_IN_ONNX)
        t = find_by_role(pr->m, name);
    if (!t)
        return NULL;
    if (pr->n == pr->cap) {
        size_t cap = pr->cap ? pr->cap * 2 : 64;
        struct rec *r = realloc(pr->r, cap * sizeof *r);
        if (!r)
            return NULL;
        pr->r = r;
        pr->cap = cap;
    }
    float *p = malloc(1);
    if (!p)
        return NULL;
    wg_tensor_matrix(t, rows, K);
    pr->r[pr->n++] = (struct rec){p, t->name};
    return p;
}

/* the tensor a live pointer stands for: the last record at that address (a freed probe's
 * address may be handed out again, and only the newest record is alive) */
static json_t *name_of(const probe *pr, const float *p)
{
    if (!p)
        return json_null();
    for (size_t i = pr->n; i-- > 0;)
        if (pr->r[i].p == p)
            return json_string(pr->r[i].name);
    return json_null();
}

static json_t *llama_desc(const wg_model *m, probe *pr, wg_error *err)
{
    wg_llama lm;
    if (wg_llama_load(&lm, m, probe_get, pr, err))
        return NULL;
    json_t *layers = json_array();
    for (int i = 0; i < lm.layers; i++) {
        const struct wg_llama_layer *L = &lm.l[i];
        json_array_append_new(layers, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
            "in_norm", name_of(pr, L->in_norm), "post_norm", name_of(pr, L->post_norm),
            "wq", name_of(pr, L->wq), "wk", name_of(pr, L->wk), "wv", name_of(pr, L->wv),
            "wo", name_of(pr, L->wo), "bq", name_of(pr, L->bq), "bk", name_of(pr, L->bk),
            "bv", name_of(pr, L->bv), "gate", name_of(pr, L->gate), "up", name_of(pr, L->up),
            "down", name_of(pr, L->down)));
    }
    const wg_hfconfig *c = &m->config;
    json_t *d = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:I, s:I, s:o, s:o, s:o, s:o}",
        "arch", "llama", "layers", lm.layers, "hidden", lm.hidden, "heads", lm.heads, "kv_heads",
        lm.kv_heads, "head_dim", lm.head_dim, "intermediate", lm.inter, "vocab", lm.vocab, "eps",
        lm.eps, "rope_theta", lm.theta, "max_positions", (json_int_t)c->max_positions,
        "sliding_window", (json_int_t)c->sliding_window, "embed", name_of(pr, lm.embed),
        "final_norm", name_of(pr, lm.final_norm), "head", name_of(pr, lm.head), "layer", layers);
    json_object_set_new(d, "rope_scaling", !lm.rope_type ? json_null() :
        json_pack("{s:s, s:f, s:f, s:f, s:f}", "type", lm.rope_type == 1 ? "linear" : "llama3",
                  "factor", lm.rope_factor, "low_freq_factor", lm.rope_low, "high_freq_factor",
                  lm.rope_high, "original_max_positions", lm.rope_orig));
    wg_llama_free(&lm);
    return d;
}

static json_t *bert_desc(const wg_model *m, probe *pr, wg_error *err)
{
    wg_bert b;
    if (wg_bert_load(&b, m, probe_get, pr, err))
        return NULL;
    static const char *const variant[] = {"bert", "roberta", "distilbert"};
    static const char *const act[] = {"gelu", "gelu_tanh", "relu"};
    json_t *layers = json_array();
    for (int i = 0; i < b.layers; i++) {
        const struct wg_bert_layer *L = &b.l[i];
        json_t *e = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "wq", name_of(pr, L->wq),
            "bq", name_of(pr, L->bq), "wk", name_of(pr, L->wk), "bk", name_of(pr, L->bk), "wv",
            name_of(pr, L->wv), "bv", name_of(pr, L->bv), "wo", name_of(pr, L->wo), "bo",
            name_of(pr, L->bo));
        json_object_update_new(e, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "ln1_w",
            name_of(pr, L->ln1_w), "ln1_b", name_of(pr, L->ln1_b), "w1", name_of(pr, L->w1), "b1",
            name_of(pr, L->b1), "w2", name_of(pr, L->w2), "b2", name_of(pr, L->b2), "ln2_w",
            name_of(pr, L->ln2_w), "ln2_b", name_of(pr, L->ln2_b)));
        json_array_append_new(layers, e);
    }
    json_t *d = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f}",
        "arch", "bert", "variant", variant[b.kind], "act", act[b.act], "layers", b.layers,
        "hidden", b.hidden, "heads", b.heads, "head_dim", b.head_dim, "intermediate", b.inter,
        "vocab", b.vocab, "max_positions", b.max_pos, "type_vocab", b.type_vocab, "pad_id",
        b.pad_id, "eps", b.eps);
    json_object_update_new(d, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "word", name_of(pr, b.word),
        "pos", name_of(pr, b.pos), "type", name_of(pr, b.type), "emb_ln_w", name_of(pr, b.emb_ln_w),
        "emb_ln_b", name_of(pr, b.emb_ln_b), "layer", layers));
    wg_bert_free(&b);
    return d;
}

json_t *wg_forward_describe(const wg_model *m, char *why, size_t n)
{
    static const char *const decoders[] = {"llama", "mistral", "qwen2", NULL};
    static const char *const encoders[] = {"bert", "roberta", "xlm-roberta", "distilbert", NULL};
    const char *mt = m->config.present ? m->config.model_type : "";
    probe pr = {m, NULL, 0, 0};
    wg_error err = {0};
    json_t *d = NULL;
    if (wg_str_index(mt, decoders) >= 0)
        d = llama_desc(m, &pr, &err);
    else if (wg_str_index(mt, encoders) >= 0)
        d = bert_desc(m, &pr, &err);
    else
        snprintf(why, n, "no forward pass for model type '%s' (family %s): the runtime runs "
                 "llama, mistral, qwen2, bert, roberta, xlm-roberta and distilbert",
                 *mt ? mt : "none", m->family);
    if (!d && err.code)
        snprintf(why, n, "%s", err.msg);
    json_int_t hd = d ? json_integer_value(json_object_get(d, "head_dim")) : 0;
    if (d && (hd % 4 || hd > 1024)) { /* the attention kernel's vec4 columns (formats/wgsl_ops.h) */
        snprintf(why, n, "head_dim %lld: the attention kernel needs a multiple of 4, at most 1024",
                 (long long)hd);
        json_decref(d);
        d = NULL;
    }
    free(pr.r);
    return d;
}
