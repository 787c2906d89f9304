/* verify/llama.c — a small reference forward pass for Llama-family decoders (RMSNorm, rotary
 * embeddings in the HF "rotate half" layout, grouped-query attention, SwiGLU), written for
 * clarity and checked against ONNX Runtime on an exported model (tests). */
#include "verify.h"
#include "../quant/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *want(wg_weight_fn get, void *ctx, const char *name, int64_t rows, int64_t K,
                   bool optional, wg_error *err, const char *path)
{
    int64_t r, k;
    float *w = get(ctx, name, &r, &k);
    if (!w) {
        if (!optional)
            wg_fail(err, WG_EINPUT, path, "llama reference: missing tensor '%s'", name);
        return NULL;
    }
    if (r * k != rows * K) {
        wg_fail(err, WG_EINPUT, path, "llama reference: tensor '%s' is %lldx%lld, expected "
                "%lldx%lld", name, (long long)r, (long long)k, (long long)rows, (long long)K);
        free(w);
        return NULL;
    }
    return w;
}

int wg_llama_load(wg_llama *lm, const wg_model *m, wg_weight_fn get, void *ctx, wg_error *err)
{
    memset(lm, 0, sizeof *lm);
    const wg_hfconfig *c = &m->config;
    if (!c->present || strcmp(m->rule_set, "llama")) /* Llama naming: mistral, qwen2, ... too */
        return wg_fail(err, WG_EINPUT, m->path, "the reference forward pass needs a Llama-family "
                       "model with config.json (found family '%s')", m->family);
    lm->layers = (int)c->num_layers;
    lm->hidden = (int)c->hidden_size;
    lm->heads = (int)c->num_heads;
    lm->kv_heads = (int)(c->num_kv_heads ? c->num_kv_heads : c->num_heads);
    lm->head_dim = (int)(c->head_dim ? c->head_dim : c->hidden_size / c->num_heads);
    lm->inter = (int)c->intermediate_size;
    lm->vocab = (int)c->vocab_size;
    lm->eps = c->rms_norm_eps > 0 ? c->rms_norm_eps : 1e-6;
    lm->theta = c->rope_theta > 0 ? c->rope_theta : 10000.0;
    if (c->rope_partial > 0 && c->rope_partial != 1)
        return wg_fail(err, WG_EINPUT, m->path, "partial rotary embeddings (partial_rotary_factor "
                       "%g) are not supported", c->rope_partial);
    if (*c->rope_type) {
        lm->rope_type = !strcmp(c->rope_type, "linear") ? 1 : !strcmp(c->rope_type, "llama3") ? 2 : 0;
        lm->rope_factor = c->rope_factor;
        lm->rope_low = c->rope_low_freq;
        lm->rope_high = c->rope_high_freq;
        lm->rope_orig = (double)c->rope_orig_max;
        if (!lm->rope_type)
            return wg_fail(err, WG_EINPUT, m->path, "rope scaling '%s' is not supported (linear "
                           "and llama3 are)", c->rope_type);
        if (!(lm->rope_factor >= 1 && lm->rope_factor <= 1e4) ||
            (lm->rope_type == 2 && !(lm->rope_low > 0 && lm->rope_high > lm->rope_low &&
                                     lm->rope_orig >= 1)))
            return wg_fail(err, WG_EINPUT, m->path, "rope scaling '%s': factors out of range",
                           c->rope_type);
    }
    if (lm->layers <= 0 || lm->hidden <= 0 || lm->heads <= 0 || lm->inter <= 0 || lm->vocab <= 0 ||
        lm->heads % lm->kv_heads)
        return wg_fail(err, WG_EINPUT, m->path, "config.json lacks consistent layer/size facts");
    int H = lm->hidden, Q = lm->heads * lm->head_dim, KV = lm->kv_heads * lm->head_dim;
    lm->l = calloc((size_t)lm->layers, sizeof *lm->l);
    if (!lm->l)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    if (!(lm->embed = want(get, ctx, "model.embed_tokens.weight", lm->vocab, H, false, err, m->path)) ||
        !(lm->final_norm = want(get, ctx, "model.norm.weight", 1, H, false, err, m->path)))
        return err->code;
    lm->head = want(get, ctx, "lm_head.weight", lm->vocab, H, true, err, m->path);
    if (err->code)
        return err->code;
    if (!lm->head)
        lm->head = lm->embed; /* tied */
    char nm[160];
#define W(field, fmt, rows, K, opt)                                                            \
    do {                                                                                       \
        snprintf(nm, sizeof nm, "model.layers.%d." fmt, i);                                    \
        L->field = want(get, ctx, nm, rows, K, opt, err, m->path);                             \
        if (err->code)                                                                         \
            return err->code;                                                                  \
    } while (0)
    for (int i = 0; i < lm->layers; i++) {
        struct wg_llama_layer *L = &lm->l[i];
        W(in_norm, "input_layernorm.weight", 1, H, false);
        W(post_norm, "post_attention_layernorm.weight", 1, H, false);
        W(wq, "self_attn.q_proj.weight", Q, H, false);
        W(wk, "self_attn.k_proj.weight", KV, H, false);
        W(wv, "self_attn.v_proj.weight", KV, H, false);
        W(wo, "self_attn.o_proj.weight", H, Q, false);
        W(bq, "self_attn.q_proj.bias", 1, Q, true);
        W(bk, "self_attn.k_proj.bias", 1, KV, true);
        W(bv, "self_attn.v_proj.bias", 1, KV, true);
        W(gate, "mlp.gate_proj.weight", lm->inter, H, false);
        W(up, "mlp.up_proj.weight", lm->inter, H, false);
        W(down, "mlp.down_proj.weight", H, lm->inter, false);
    }
#undef W
    return 0;
}

void wg_llama_free(wg_llama *lm)
{
    if (lm->head != lm->embed)
        free(lm->head);
    free(lm->embed);
    free(lm->final_norm);
    for (int i = 0; lm->l && i < lm->layers; i++) {
        struct wg_llama_layer *L = &lm->l[i];
        float *p[] = {L->in_norm, L->post_norm, L->wq, L->wk, L->wv, L->wo, L->bq, L->bk, L->bv,
                      L->gate, L->up, L->down};
        for (size_t k = 0; k < sizeof p / sizeof *p; k++)
            free(p[k]);
    }
    free(lm->l);
    memset(lm, 0, sizeof *lm);
}

/* y[n][rows] = x[n][K] . W[rows][K]^T (+ b): the shared reference matmul (verify/ops.c) */
#define matmul wg_ref_matmul

static void rmsnorm(const float *x, const float *w, float *y, int n, int H, double eps)
{
    for (int t = 0; t < n; t++) {
        double ss = 0;
        for (int k = 0; k < H; k++)
            ss += (double)x[t * H + k] * x[t * H + k];
        float inv = (float)(1.0 / sqrt(ss / H + eps));
        for (int k = 0; k < H; k++)
            y[t * H + k] = w[k] * (x[t * H + k] * inv);
    }
}

double wg_rope_freq(const wg_llama *lm, int i)
{
    double f = pow(lm->theta, -2.0 * i / lm->head_dim);
    if (lm->rope_type == 1)
        return f / lm->rope_factor;
    if (lm->rope_type == 2) { /* HF _compute_llama3_parameters */
        double wavelen = 2 * M_PI / f, lo = lm->rope_orig / lm->rope_low,
               hi = lm->rope_orig / lm->rope_high;
        if (wavelen > lo)
            return f / lm->rope_factor;
        if (wavelen >= hi) {
            double s = (lm->rope_orig / wavelen - lm->rope_low) / (lm->rope_high - lm->rope_low);
            return (1 - s) * f / lm->rope_factor + s * f;
        }
    }
    return f;
}

static void rope(const wg_llama *lm, float *v, int n, int nheads)
{
    int hd = lm->head_dim, half = hd / 2;
    for (int t = 0; t < n; t++)
        for (int h = 0; h < nheads; h++) {
            float *p = v + ((size_t)t * nheads + h) * hd;
            for (int i = 0; i < half; i++) {
                double freq = wg_rope_freq(lm, i), a = t * freq;
                float c = (float)cos(a), s = (float)sin(a), x0 = p[i], x1 = p[i + half];
                p[i] = x0 * c - x1 * s;
                p[i + half] = x1 * c + x0 * s;
            }
        }
}

int wg_llama_forward(const wg_llama *lm, const int32_t *tokens, int n, float *logits, int threads)
{
    int H = lm->hidden, hd = lm->head_dim, nh = lm->heads, nkv = lm->kv_heads, I = lm->inter;
    int Q = nh * hd, KV = nkv * hd;
    size_t big = (size_t)n * (size_t)(I > Q ? (I > H ? I : H) : (Q > H ? Q : H));
    float *x = calloc((size_t)n * H, 4), *h = malloc((size_t)n * H * 4), *q = malloc((size_t)n * Q * 4),
          *k = malloc((size_t)n * KV * 4), *v = malloc((size_t)n * KV * 4),
          *att = malloc((size_t)n * Q * 4), *g = malloc(big * 4), *u = malloc(big * 4),
          *o = malloc((size_t)n * H * 4), *sc = malloc((size_t)n * 8);
    int rc = -1;
    if (!x || !h || !q || !k || !v || !att || !g || !u || !o || !sc)
        goto out;
    for (int t = 0; t < n; t++) {
        if (tokens[t] < 0 || tokens[t] >= lm->vocab)
            goto out;
        memcpy(x + (size_t)t * H, lm->embed + (size_t)tokens[t] * H, (size_t)H * 4);
    }
    for (int li = 0; li < lm->layers; li++) {
        const struct wg_llama_layer *L = &lm->l[li];
        rmsnorm(x, L->in_norm, h, n, H, lm->eps);
        matmul(h, L->wq, L->bq, q, n, Q, H, threads);
        matmul(h, L->wk, L->bk, k, n, KV, H, threads);
        matmul(h, L->wv, L->bv, v, n, KV, H, threads);
        rope(lm, q, n, nh);
        rope(lm, k, n, nkv);
        double scale = 1.0 / sqrt((double)hd);
        for (int hh = 0; hh < nh; hh++) {
            int kh = hh / (nh / nkv);
            for (int t = 0; t < n; t++) {
                const float *qv = q + ((size_t)t * nh + hh) * hd;
                double mx = -INFINITY, sum = 0;
                for (int s = 0; s <= t; s++) {
                    const float *kv = k + ((size_t)s * nkv + kh) * hd;
                    double d = 0;
                    for (int i = 0; i < hd; i++)
                        d += (double)qv[i] * kv[i];
                    ((double *)sc)[s] = d * scale;
                    mx = ((double *)sc)[s] > mx ? ((double *)sc)[s] : mx;
                }
                for (int s = 0; s <= t; s++)
                    sum += (((double *)sc)[s] = exp(((double *)sc)[s] - mx));
                float *out = att + ((size_t)t * nh + hh) * hd;
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int s = 0; s <= t; s++)
                        a += ((double *)sc)[s] * v[((size_t)s * nkv + kh) * hd + i];
                    out[i] = (float)(a / sum);
                }
            }
        }
        matmul(att, L->wo, NULL, o, n, H, Q, threads);
        for (size_t i = 0; i < (size_t)n * H; i++)
            x[i] += o[i];
        rmsnorm(x, L->post_norm, h, n, H, lm->eps);
        matmul(h, L->gate, NULL, g, n, I, H, threads);
        matmul(h, L->up, NULL, u, n, I, H, threads);
        for (size_t i = 0; i < (size_t)n * I; i++)
            g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
        matmul(g, L->down, NULL, o, n, H, I, threads);
        for (size_t i = 0; i < (size_t)n * H; i++)
            x[i] += o[i];
    }
    rmsnorm(x, lm->final_norm, h, n, H, lm->eps);
    matmul(h, lm->head, NULL, logits, n, lm->vocab, H, threads);
    rc = 0;
out:
    free(x); free(h); free(q); free(k); free(v); free(att); free(g); free(u); free(o); free(sc);
    return rc;
}

static void log_softmax(const float *z, int V, double *out)
{
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < V; i++)
        mx = z[i] > mx ? z[i] : mx;
    for (int i = 0; i < V; i++)
        s += exp(z[i] - mx);
    double lse = mx + log(s);
    for (int i = 0; i < V; i++)
        out[i] = z[i] - lse;
}

void wg_lm_compare_logits(const float *a, const float *b, const int32_t *tokens, int n, int V,
                          wg_lm_compare *c)
{
    memset(c, 0, sizeof *c);
    double *la = malloc(sizeof(double) * V), *lb = malloc(sizeof(double) * V);
    double sse = 0, ssa = 0, ssb = 0, dot = 0;
    int agree = 0, npred = 0;
    for (int t = 0; t < n; t++) {
        const float *za = a + (size_t)t * V, *zb = b + (size_t)t * V;
        log_softmax(za, V, la);
        log_softmax(zb, V, lb);
        double kl = 0;
        int ia = 0, ib = 0;
        for (int i = 0; i < V; i++) {
            kl += exp(la[i]) * (la[i] - lb[i]);
            ia = za[i] > za[ia] ? i : ia;
            ib = zb[i] > zb[ib] ? i : ib;
            double e = (double)za[i] - zb[i];
            sse += e * e;
            ssa += (double)za[i] * za[i];
            ssb += (double)zb[i] * zb[i];
            dot += (double)za[i] * zb[i];
            c->max_abs = fabs(e) > c->max_abs ? fabs(e) : c->max_abs;
        }
        c->kl += kl;
        agree += ia == ib;
        if (t + 1 < n) {
            c->nll_a -= la[tokens[t + 1]];
            c->nll_b -= lb[tokens[t + 1]];
            npred++;
        }
    }
    c->positions = n;
    c->kl /= n;
    c->top1_agree = (double)agree / n;
    if (npred) {
        c->nll_a /= npred;
        c->nll_b /= npred;
    }
    c->rel_rmse = ssa > 0 ? sqrt(sse / ssa) : 0;
    c->cosine = ssa > 0 && ssb > 0 ? dot / sqrt(ssa * ssb) : 1;
    free(la);
    free(lb);
}
