/* verify/bert.c — a small reference forward pass for BERT-family encoders (BERT, RoBERTa and
 * DistilBERT naming): embeddings + LayerNorm, post-LN layers with bidirectional masked
 * attention and a GELU feed-forward, returning the last hidden state. Written for clarity and
 * checked against torch's and ONNX Runtime's last_hidden_state of models/tinybert (tests). */
#include "verify.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A layer tensor: where it goes, its name after "<prefix>encoder.layer.N." (BERT, RoBERTa) or
 * "<prefix>transformer.layer.N." (DistilBERT), and its matrix view (H hidden, I intermediate). */
enum { D1, DH, DI };
static const struct {
    size_t off;
    const char *bert, *distil;
    int rows, K;
} layer_tensors[] = {
#define F(f) offsetof(struct wg_bert_layer, f)
    {F(wq), "attention.self.query.weight", "attention.q_lin.weight", DH, DH},
    {F(bq), "attention.self.query.bias", "attention.q_lin.bias", D1, DH},
    {F(wk), "attention.self.key.weight", "attention.k_lin.weight", DH, DH},
    {F(bk), "attention.self.key.bias", "attention.k_lin.bias", D1, DH},
    {F(wv), "attention.self.value.weight", "attention.v_lin.weight", DH, DH},
    {F(bv), "attention.self.value.bias", "attention.v_lin.bias", D1, DH},
    {F(wo), "attention.output.dense.weight", "attention.out_lin.weight", DH, DH},
    {F(bo), "attention.output.dense.bias", "attention.out_lin.bias", D1, DH},
    {F(ln1_w), "attention.output.LayerNorm.weight", "sa_layer_norm.weight", D1, DH},
    {F(ln1_b), "attention.output.LayerNorm.bias", "sa_layer_norm.bias", D1, DH},
    {F(w1), "intermediate.dense.weight", "ffn.lin1.weight", DI, DH}, /* first: fixes I */
    {F(b1), "intermediate.dense.bias", "ffn.lin1.bias", D1, DI},
    {F(w2), "output.dense.weight", "ffn.lin2.weight", DH, DI},
    {F(b2), "output.dense.bias", "ffn.lin2.bias", D1, DH},
    {F(ln2_w), "output.LayerNorm.weight", "output_layer_norm.weight", D1, DH},
    {F(ln2_b), "output.LayerNorm.bias", "output_layer_norm.bias", D1, DH},
#undef F
};
#define N_LAYER_TENSORS (sizeof layer_tensors / sizeof *layer_tensors)

/* weights named with each of these prefixes are tried, in order */
static const char *const prefixes[] = {"bert.", "roberta.", "distilbert.", ""};

typedef struct loader {
    wg_weight_fn get;
    void *ctx;
    const char *path, *prefix;
    wg_error *err;
} loader;

/* prefix + name as rows x K (-1: any, then *rows / *K report it); NULL (and err set unless
 * optional) when missing or of another size */
static float *want(const loader *L, const char *name, int64_t *rows, int64_t *K, bool optional)
{
    char nm[256];
    int64_t r, k;
    snprintf(nm, sizeof nm, "%s%s", L->prefix, name);
    float *w = L->get(L->ctx, nm, &r, &k);
    if (!w) {
        if (!optional)
            wg_fail(L->err, WG_EINPUT, L->path, "bert reference: missing tensor '%s'", nm);
        return NULL;
    }
    bool ok = *rows >= 0 && *K >= 0 ? r * k == *rows * *K
                                   : (*K < 0 || k == *K) && (*rows < 0 || r == *rows);
    if (!ok) {
        wg_fail(L->err, WG_EINPUT, L->path, "bert reference: tensor '%s' is %lldx%lld, expected "
                "%lldx%lld", nm, (long long)r, (long long)k, (long long)*rows, (long long)*K);
        free(w);
        return NULL;
    }
    *rows = r;
    *K = k;
    return w;
}

static bool probe(const loader *L, const char *name)
{
    int64_t r = -1, k = -1;
    float *w = want(L, name, &r, &k, true);
    free(w);
    return w != NULL;
}

static int pick_act(wg_bert *b, const char *act, const char *path, wg_error *err)
{
    if (!*act || !strcmp(act, "gelu"))
        b->act = WG_ACT_GELU;
    else if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_fast"))
        b->act = WG_ACT_GELU_TANH;
    else if (!strcmp(act, "relu"))
        b->act = WG_ACT_RELU;
    else
        return wg_fail(err, WG_EINPUT, path, "bert reference: unsupported hidden_act '%s'", act);
    return 0;
}

/* word embeddings (which fix the prefix, hidden and vocab), then positions, types, LayerNorm */
static int load_embeddings(wg_bert *b, loader *L)
{
    int64_t r = -1, k = -1;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes && !b->word; i++) {
        L->prefix = prefixes[i];
        b->word = want(L, "embeddings.word_embeddings.weight", &r, &k, true);
    }
    if (!b->word)
        return wg_fail(L->err, WG_EINPUT, L->path, "bert reference: no embeddings.word_embeddings"
                       ".weight (with or without a bert./roberta./distilbert. prefix)");
    snprintf(b->prefix, sizeof b->prefix, "%s", L->prefix);
    b->vocab = (int)r;
    b->hidden = (int)k;
    int64_t pr = -1, pk = b->hidden, one = 1, h = b->hidden;
    if (!(b->pos = want(L, "embeddings.position_embeddings.weight", &pr, &pk, false)))
        return L->err->code;
    b->max_pos = (int)pr;
    if (b->kind != WG_BERT_DISTILBERT) {
        int64_t tr = -1, tk = b->hidden;
        b->type = want(L, "embeddings.token_type_embeddings.weight", &tr, &tk, true);
        if (L->err->code)
            return L->err->code;
        b->type_vocab = b->type ? (int)tr : 0;
    }
    if (!(b->emb_ln_w = want(L, "embeddings.LayerNorm.weight", &one, &h, false)) ||
        !(b->emb_ln_b = want(L, "embeddings.LayerNorm.bias", &one, &h, false)))
        return L->err->code;
    return 0;
}

static int load_layers(wg_bert *b, loader *L)
{
    char nm[200];
    const char *stem = b->kind == WG_BERT_DISTILBERT ? "transformer.layer" : "encoder.layer";
    for (int i = 0; i < b->layers; i++)
        for (size_t t = 0; t < N_LAYER_TENSORS; t++) {
            int64_t dims[] = {1, b->hidden, b->inter ? b->inter : -1};
            int64_t rows = dims[layer_tensors[t].rows], K = dims[layer_tensors[t].K];
            snprintf(nm, sizeof nm, "%s.%d.%s", stem, i,
                     b->kind == WG_BERT_DISTILBERT ? layer_tensors[t].distil : layer_tensors[t].bert);
            float *w = want(L, nm, &rows, &K, false);
            if (!w)
                return L->err->code;
            *(float **)((char *)&b->l[i] + layer_tensors[t].off) = w;
            if (!b->inter && layer_tensors[t].rows == DI)
                b->inter = (int)rows;
        }
    return 0;
}

static void pick_kind(wg_bert *b, const wg_hfconfig *c, loader *L)
{
    const char *mt = c->model_type;
    b->kind = WG_BERT_BERT;
    if (!strcmp(mt, "distilbert"))
        b->kind = WG_BERT_DISTILBERT;
    else if (!strcmp(mt, "roberta") || !strcmp(mt, "xlm-roberta") || !strcmp(mt, "camembert"))
        b->kind = WG_BERT_ROBERTA;
    else if (!*mt) { /* no config: the names tell */
        for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
            L->prefix = prefixes[i];
            if (probe(L, "transformer.layer.0.attention.q_lin.weight"))
                b->kind = WG_BERT_DISTILBERT;
            else if (!strcmp(prefixes[i], "roberta.") && probe(L, "embeddings.word_embeddings.weight"))
                b->kind = WG_BERT_ROBERTA;
        }
    }
}

bool wg_bert_family(const wg_model *m)
{
    return !strcmp(m->rule_set, "bert") || !strcmp(m->family, "distilbert");
}

int wg_bert_load(wg_bert *b, const wg_model *m, wg_weight_fn get, void *ctx, wg_error *err)
{
    memset(b, 0, sizeof *b);
    const wg_hfconfig *c = &m->config;
    if (!wg_bert_family(m))
        return wg_fail(err, WG_EINPUT, m->path, "the encoder reference needs a BERT-family model "
                       "(found family '%s')", m->family);
    loader L = {get, ctx, m->path, "", err};
    pick_kind(b, c, &L);
    int rc = pick_act(b, c->hidden_act, m->path, err);
    if (rc || (rc = load_embeddings(b, &L)))
        goto fail;
    b->heads = (int)c->num_heads;
    b->eps = c->layer_norm_eps > 0 ? c->layer_norm_eps : 1e-12; /* BERT's and DistilBERT's */
    b->pad_id = c->pad_token_id >= 0 ? (int)c->pad_token_id
                                     : b->kind == WG_BERT_ROBERTA ? 1 : -1; /* RoBERTa's default */
    b->inter = (int)c->intermediate_size;
    b->layers = (int)c->num_layers;
    const char *q0 = b->kind == WG_BERT_DISTILBERT ? "transformer.layer.%d.attention.q_lin.weight"
                                                    : "encoder.layer.%d.attention.self.query.weight";
    char nm[128];
    for (; !c->num_layers && b->layers < 10000; b->layers++) { /* no config: count the layers */
        snprintf(nm, sizeof nm, q0, b->layers);
        if (!probe(&L, nm))
            break;
    }
    if (b->heads <= 0 || b->hidden % b->heads || b->layers <= 0 ||
        (c->hidden_size && c->hidden_size != b->hidden) || (c->vocab_size && c->vocab_size != b->vocab)) {
        rc = wg_fail(err, WG_EINPUT, m->path, "bert reference: config.json lacks consistent facts "
                     "(attention heads %d, layers %d, hidden %d vs %lld)", b->heads, b->layers,
                     b->hidden, (long long)c->hidden_size);
        goto fail;
    }
    b->head_dim = b->hidden / b->heads;
    if (!(b->l = calloc((size_t)b->layers, sizeof *b->l))) {
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
        goto fail;
    }
    if ((rc = load_layers(b, &L)))
        goto fail;
    return 0;
fail:
    wg_bert_free(b);
    return rc;
}

void wg_bert_free(wg_bert *b)
{
    free(b->word);
    free(b->pos);
    free(b->type);
    free(b->emb_ln_w);
    free(b->emb_ln_b);
    for (int i = 0; b->l && i < b->layers; i++)
        for (size_t t = 0; t < N_LAYER_TENSORS; t++)
            free(*(float **)((char *)&b->l[i] + layer_tensors[t].off));
    free(b->l);
    memset(b, 0, sizeof *b);
}

void wg_bert_positions(const wg_bert *b, const int32_t *ids, int n, int32_t *pos)
{
    int32_t seen = 0;
    for (int t = 0; t < n; t++) {
        if (b->kind != WG_BERT_ROBERTA)
            pos[t] = t;
        else if (ids[t] == b->pad_id)
            pos[t] = b->pad_id;
        else
            pos[t] = b->pad_id + ++seen;
    }
}

/* x[n][H] = LN(word[id] + type[tt] + pos[p]), summed in HF's order; -1 on an id out of range */
static int embed(const wg_bert *b, const int32_t *ids, const int32_t *type_ids, int n, float *x,
                 int32_t *pos)
{
    int H = b->hidden;
    wg_bert_positions(b, ids, n, pos);
    for (int t = 0; t < n; t++) { /* all checked before anything is written */
        int tt = type_ids ? type_ids[t] : 0;
        if (ids[t] < 0 || ids[t] >= b->vocab || pos[t] < 0 || pos[t] >= b->max_pos || tt < 0 ||
            (b->type ? tt >= b->type_vocab : tt != 0))
            return -1;
    }
    for (int t = 0; t < n; t++) {
        int tt = type_ids ? type_ids[t] : 0;
        const float *w = b->word + (size_t)ids[t] * H, *p = b->pos + (size_t)pos[t] * H;
        for (int k = 0; k < H; k++) {
            float e = w[k] + (b->type ? b->type[(size_t)tt * H + k] : 0.0f);
            x[(size_t)t * H + k] = e + p[k];
        }
    }
    wg_ref_layernorm(x, b->emb_ln_w, b->emb_ln_b, x, n, H, b->eps);
    return 0;
}

/* ctx[n][H] = softmax(q.k^T / sqrt(hd) + mask) . v per head; sc holds n doubles */
static void attend(const wg_bert *b, const float *q, const float *k, const float *v,
                   const int32_t *mask, int n, float *ctx, double *sc)
{
    int H = b->hidden, hd = b->head_dim;
    bool any = false;
    for (int s = 0; s < n; s++)
        any |= !mask || mask[s] != 0;
    double scale = 1.0 / sqrt((double)hd);
    for (int h = 0; h < b->heads; h++)
        for (int t = 0; t < n; t++) {
            const float *qv = q + (size_t)t * H + h * hd;
            double mx = -INFINITY, sum = 0;
            for (int s = 0; s < n; s++) {
                const float *kv = k + (size_t)s * H + h * hd;
                double d = 0;
                for (int i = 0; i < hd; i++)
                    d += (double)qv[i] * kv[i];
                /* masked keys drop out; with none left HF's scores all equal the minimum */
                sc[s] = !any ? 0.0 : mask && !mask[s] ? -INFINITY : d * scale;
                mx = sc[s] > mx ? sc[s] : mx;
            }
            for (int s = 0; s < n; s++)
                sum += (sc[s] = exp(sc[s] - mx));
            float *o = ctx + (size_t)t * H + h * hd;
            for (int i = 0; i < hd; i++) {
                double a = 0;
                for (int s = 0; s < n; s++)
                    a += sc[s] * v[(size_t)s * H + h * hd + i];
                o[i] = (float)(a / sum);
            }
        }
}

/* x = LN(x + y) */
static void add_norm(float *x, float *y, const float *w, const float *bias, int n, int H, double eps)
{
    for (size_t i = 0; i < (size_t)n * H; i++)
        y[i] += x[i];
    wg_ref_layernorm(y, w, bias, x, n, H, eps);
}

int wg_bert_forward(const wg_bert *b, const int32_t *ids, const int32_t *type_ids,
                    const int32_t *mask, int n, float *out, int threads)
{
    if (n <= 0)
        return -1;
    int H = b->hidden, I = b->inter;
    size_t nh = (size_t)n * H;
    float *x = out, *q = malloc(nh * 4), *k = malloc(nh * 4), *v = malloc(nh * 4),
          *ctx = malloc(nh * 4), *y = malloc(nh * 4), *f = malloc((size_t)n * I * 4);
    double *sc = malloc((size_t)n * sizeof *sc);
    int32_t *pos = malloc((size_t)n * sizeof *pos);
    int rc = -1;
    if (!q || !k || !v || !ctx || !y || !f || !sc || !pos || embed(b, ids, type_ids, n, x, pos))
        goto out;
    for (int li = 0; li < b->layers; li++) {
        const struct wg_bert_layer *L = &b->l[li];
        wg_ref_matmul(x, L->wq, L->bq, q, n, H, H, threads);
        wg_ref_matmul(x, L->wk, L->bk, k, n, H, H, threads);
        wg_ref_matmul(x, L->wv, L->bv, v, n, H, H, threads);
        attend(b, q, k, v, mask, n, ctx, sc);
        wg_ref_matmul(ctx, L->wo, L->bo, y, n, H, H, threads);
        add_norm(x, y, L->ln1_w, L->ln1_b, n, H, b->eps);
        wg_ref_matmul(x, L->w1, L->b1, f, n, I, H, threads);
        for (size_t i = 0; i < (size_t)n * I; i++)
            f[i] = wg_ref_act(b->act, f[i]);
        wg_ref_matmul(f, L->w2, L->b2, y, n, H, I, threads);
        add_norm(x, y, L->ln2_w, L->ln2_b, n, H, b->eps);
    }
    rc = 0;
out:
    free(q); free(k); free(v); free(ctx); free(y); free(f); free(sc); free(pos);
    return rc;
}

void wg_hidden_compare_run(const float *a, const float *b, int n, int H, wg_hidden_compare *c)
{
    memset(c, 0, sizeof *c);
    c->positions = n;
    c->min_cosine = 1;
    double sse = 0, ssa = 0, ssb = 0, dot = 0;
    for (int t = 0; t < n; t++) {
        double e2 = 0, a2 = 0, b2 = 0, ab = 0;
        for (int i = 0; i < H; i++) {
            double x = a[(size_t)t * H + i], y = b[(size_t)t * H + i], e = x - y;
            e2 += e * e;
            a2 += x * x;
            b2 += y * y;
            ab += x * y;
            c->max_abs = fabs(e) > c->max_abs ? fabs(e) : c->max_abs;
        }
        double cos = a2 > 0 && b2 > 0 ? ab / sqrt(a2 * b2) : (a2 == b2 ? 1 : 0);
        double rel = a2 > 0 ? sqrt(e2 / a2) : (e2 > 0 ? INFINITY : 0);
        c->min_cosine = cos < c->min_cosine ? cos : c->min_cosine;
        c->max_rel_err = rel > c->max_rel_err ? rel : c->max_rel_err;
        sse += e2, ssa += a2, ssb += b2, dot += ab;
    }
    c->rel_rmse = ssa > 0 ? sqrt(sse / ssa) : 0;
    c->cosine = ssa > 0 && ssb > 0 ? dot / sqrt(ssa * ssb) : 1;
}
