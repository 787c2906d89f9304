/* verify/bundle_ref.c — the C reference forward passes of a bundle: the manifest's forward
 * section names the tensors and facts, and every weight is the bundle's stored tensor
 * dequantized by the scalar reference dequantizer (wg_bundle_tensor_f32), i.e. the very numbers
 * a runtime multiplies by. Also the tolerance a runtime's f32 output is held to. */
#include "verify.h"
#include "../pack/pack.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* where each role of the forward section goes in the reference's structs */
typedef struct slot {
    const char *key;
    size_t off;
} slot;
#define S(T, f) {#f, offsetof(T, f)}
static const slot llama_global[] = {S(wg_llama, embed), S(wg_llama, final_norm)};
static const slot llama_layer[] = {
    S(struct wg_llama_layer, in_norm), S(struct wg_llama_layer, post_norm),
    S(struct wg_llama_layer, wq),      S(struct wg_llama_layer, wk),
    S(struct wg_llama_layer, wv),      S(struct wg_llama_layer, wo),
    S(struct wg_llama_layer, bq),      S(struct wg_llama_layer, bk),
    S(struct wg_llama_layer, bv),      S(struct wg_llama_layer, gate),
    S(struct wg_llama_layer, up),      S(struct wg_llama_layer, down)};
static const slot bert_global[] = {S(wg_bert, word), S(wg_bert, pos), S(wg_bert, type),
                                   S(wg_bert, emb_ln_w), S(wg_bert, emb_ln_b)};
static const slot bert_layer[] = {
    S(struct wg_bert_layer, wq),    S(struct wg_bert_layer, bq),    S(struct wg_bert_layer, wk),
    S(struct wg_bert_layer, bk),    S(struct wg_bert_layer, wv),    S(struct wg_bert_layer, bv),
    S(struct wg_bert_layer, wo),    S(struct wg_bert_layer, bo),    S(struct wg_bert_layer, ln1_w),
    S(struct wg_bert_layer, ln1_b), S(struct wg_bert_layer, w1),    S(struct wg_bert_layer, b1),
    S(struct wg_bert_layer, w2),    S(struct wg_bert_layer, b2),    S(struct wg_bert_layer, ln2_w),
    S(struct wg_bert_layer, ln2_b)};
#undef S
#define N_OF(a) (sizeof a / sizeof *a)

/* each slot of `base` (layer li, -1: the model's) from the bundle; an optional role left out
 * stays NULL. Returns 0 or err's code. */
static int fill(void *base, const slot *s, size_t n, int li, const char *dir, const wg_manifest *m,
                wg_error *err)
{
    for (size_t k = 0; k < n; k++) {
        const wg_man_tensor *t = wg_forward_tensor(m, li, s[k].key);
        if (t && !(*(float **)((char *)base + s[k].off) = wg_bundle_tensor_f32(dir, m, t, err)))
            return err->code;
    }
    return 0;
}

static int need_arch(const wg_manifest *m, wg_fwd_arch arch, wg_error *err)
{
    if (!m->forward || m->forward->arch != arch)
        return wg_fail(err, WG_EINPUT, m->path, "no %s forward section",
                       arch == WG_FWD_LLAMA ? "llama" : "bert");
    return 0;
}

/* the model's slots, then each layer's in layers[] (lsize bytes each; NULL: out of memory) */
static int fill_model(void *model, void *layers, size_t lsize, const slot *g, size_t ng,
                      const slot *l, size_t nl, const char *dir, const wg_manifest *m,
                      wg_error *err)
{
    if (!layers)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    int rc = fill(model, g, ng, -1, dir, m, err);
    for (int i = 0; i < m->forward->layers && !rc; i++)
        rc = fill((char *)layers + (size_t)i * lsize, l, nl, i, dir, m, err);
    return rc;
}

int wg_llama_from_forward(wg_llama *lm, const char *dir, const wg_manifest *m, wg_error *err)
{
    memset(lm, 0, sizeof *lm);
    int rc = need_arch(m, WG_FWD_LLAMA, err);
    if (rc)
        return rc;
    const wg_man_forward *f = m->forward;
    *lm = (wg_llama){.layers = f->layers, .hidden = f->hidden, .heads = f->heads,
                     .kv_heads = f->kv_heads, .head_dim = f->head_dim, .inter = f->inter,
                     .vocab = f->vocab, .eps = f->eps, .theta = f->theta,
                     .rope_type = f->rope_type, .rope_factor = f->rope_factor,
                     .rope_low = f->rope_low, .rope_high = f->rope_high, .rope_orig = f->rope_orig,
                     .l = calloc((size_t)f->layers, sizeof *lm->l)};
    rc = fill_model(lm, lm->l, sizeof *lm->l, llama_global, N_OF(llama_global), llama_layer,
                    N_OF(llama_layer), dir, m, err);
    const wg_man_tensor *head = wg_forward_tensor(m, -1, "head");
    if (!rc && head == wg_forward_tensor(m, -1, "embed"))
        lm->head = lm->embed; /* tied: one copy, as wg_llama_free expects */
    else if (!rc && !(lm->head = wg_bundle_tensor_f32(dir, m, head, err)))
        rc = err->code;
    if (rc)
        wg_llama_free(lm);
    return rc;
}

int wg_bert_from_forward(wg_bert *b, const char *dir, const wg_manifest *m, wg_error *err)
{
    memset(b, 0, sizeof *b);
    int rc = need_arch(m, WG_FWD_BERT, err);
    if (rc)
        return rc;
    const wg_man_forward *f = m->forward;
    *b = (wg_bert){.kind = (wg_bert_kind)f->variant, .act = (wg_bert_act)f->act,
                   .layers = f->layers, .hidden = f->hidden, .heads = f->heads,
                   .head_dim = f->head_dim, .inter = f->inter, .vocab = f->vocab,
                   .max_pos = f->max_pos, .type_vocab = f->type_vocab, .pad_id = f->pad_id,
                   .eps = f->eps, .l = calloc((size_t)f->layers, sizeof *b->l)};
    rc = fill_model(b, b->l, sizeof *b->l, bert_global, N_OF(bert_global), bert_layer,
                    N_OF(bert_layer), dir, m, err);
    if (rc)
        wg_bert_free(b);
    return rc;
}

double wg_f32_order_eps(int layers, int64_t kmax, double unit)
{
    return WG_ORDER_SAFETY * (4.0 * layers + 1) * sqrt((double)kmax) * unit;
}

int wg_decided_disagreements(const float *ref, const float *b, int n, int V, double tol)
{
    int k = 0;
    for (int t = 0; t < n; t++) {
        const float *z = ref + (size_t)t * V;
        k += wg_argmax(z, V) != wg_argmax(b + (size_t)t * V, V) && wg_top1_margin(z, V) > 2 * tol;
    }
    return k;
}

double wg_top1_margin(const float *z, int V)
{
    double a = -INFINITY, b = -INFINITY;
    for (int i = 0; i < V; i++)
        if (z[i] > a) {
            b = a;
            a = z[i];
        } else if (z[i] > b)
            b = z[i];
    return V > 1 ? a - b : INFINITY;
}

int wg_argmax(const float *z, int V)
{
    int ia = 0;
    for (int i = 1; i < V; i++)
        ia = z[i] > z[ia] ? i : ia;
    return ia;
}
