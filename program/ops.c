/* program/ops.c — the op table: one row per op with its operand slots, its kernel's uniform
 * fields (the layout the runtime fills by name, written into the manifest with each kernel) and
 * its C reference. The WGSL of each op kernel is formats/wgsl_ops.c's row of the same name;
 * matmul and gather run the weight format's own kernels (formats/wgsl.h).
 *
 * The references are written for clarity, in the arithmetic the earlier per-family passes used
 * (f32 values, dot products and norm statistics in double), and are the spec the kernels are
 * checked against. Activation codes (bias_act, glu): 0 none, 1 gelu (erf), 2 gelu (tanh),
 * 3 relu, 4 silu, 5 quick_gelu, 6 tanh, 7 sigmoid. */
#include "program_internal.h"
#include "../verify/verify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define A (1u << WG_PV_ACT)
#define C (1u << WG_PV_CACHE)
#define I (1u << WG_PV_INPUT)
#define W (1u << WG_PV_WEIGHT)
#define T (1u << WG_PV_TABLE)

#define F(i) wg_pfield(x, op, i)
#define ACT(s) x->act[op->arg[s]]
#define WT(s) (op->arg[s] < 0 ? NULL : x->w[op->arg[s]])
#define WIDTH(s) x->p->vals[op->arg[s]].width

static float act_f(int a, float v)
{
    double d = v;
    switch (a) {
    case 1:
        return wg_ref_act(WG_ACT_GELU, v);
    case 2:
        return wg_ref_act(WG_ACT_GELU_TANH, v);
    case 3:
        return wg_ref_act(WG_ACT_RELU, v);
    case 4:
        return v / (1.0f + expf(-v));
    case 5:
        return (float)(d / (1.0 + exp(-1.702 * d)));
    case 6:
        return (float)tanh(d);
    case 7:
        return 1.0f / (1.0f + expf(-v));
    }
    return v;
}

static int fail_range(const wg_pexec *x, const char *what, int32_t id, int64_t lim)
{
    return wg_fail(x->err, WG_EINPUT, NULL, "%s %d is outside 0..%lld", what, id,
                   (long long)lim - 1);
}

/* y[t] = table[index[t]] */
static int run_gather(const wg_pexec *x, const wg_pop *op)
{
    const wg_pval *tv = &x->p->vals[op->arg[0]];
    int64_t K = tv->width / tv->rows;
    const int32_t *ix = x->in[op->arg[1]];
    for (int t = 0; t < x->n; t++)
        if (ix[t] < 0 || ix[t] >= tv->rows)
            return fail_range(x, x->p->vals[op->arg[1]].name, ix[t], tv->rows);
    for (int t = 0; t < x->n; t++)
        memcpy(ACT(2) + (size_t)t * K, x->w[op->arg[0]] + (size_t)ix[t] * K, (size_t)K * 4);
    return 0;
}

static int run_matmul(const wg_pexec *x, const wg_pop *op)
{
    const wg_pval *wv = &x->p->vals[op->arg[1]];
    wg_ref_matmul(ACT(0), x->w[op->arg[1]], WT(2), ACT(3), x->n, (int)wv->rows,
                  (int)(wv->width / wv->rows), x->threads);
    return 0;
}

/* x += residual (when has_residual), y = x / sqrt(mean(x^2) + eps) * (w + w_offset) over rows
 * of H values (n rows: a token's heads are rows of their own for q/k norms) */
static int run_rmsnorm(const wg_pexec *x, const wg_pop *op)
{
    int n = (int)F(0), H = (int)F(1);
    double eps = F(2), off = F(4);
    float *v = ACT(0), *y = ACT(3);
    const float *r = op->arg[1] < 0 || !F(3) ? NULL : ACT(1), *w = F(5) ? WT(2) : NULL;
    if (r)
        for (size_t i = 0; i < (size_t)n * H; i++)
            v[i] += r[i];
    for (int t = 0; t < n; t++) {
        double ss = 0;
        for (int k = 0; k < H; k++)
            ss += (double)v[(size_t)t * H + k] * v[(size_t)t * H + k];
        float inv = (float)(1.0 / sqrt(ss / H + eps));
        for (int k = 0; k < H; k++) {
            float z = v[(size_t)t * H + k] * inv;
            y[(size_t)t * H + k] = w ? (off ? (w[k] + (float)off) * z : w[k] * z) : z;
        }
    }
    return 0;
}

static int run_layernorm(const wg_pexec *x, const wg_pop *op)
{
    int n = (int)F(0), H = (int)F(1);
    const float *w = F(3) ? WT(1) : NULL, *b = F(4) ? WT(2) : NULL;
    const float *v = ACT(0);
    float *y = ACT(3);
    for (int t = 0; t < n; t++) {
        const float *r = v + (size_t)t * H;
        double mean = 0, var = 0;
        for (int k = 0; k < H; k++)
            mean += r[k];
        mean /= H;
        for (int k = 0; k < H; k++)
            var += (r[k] - mean) * (r[k] - mean);
        double inv = 1.0 / sqrt(var / H + F(2));
        for (int k = 0; k < H; k++) {
            float z = (float)((r[k] - mean) * inv);
            y[(size_t)t * H + k] = (w ? z * w[k] : z) + (b ? b[k] : 0.0f);
        }
    }
    return 0;
}

/* y = act((y + b) * pre) * post */
static int run_bias_act(const wg_pexec *x, const wg_pop *op)
{
    size_t count = (size_t)F(0), R = (size_t)F(1);
    int a = (int)F(2);
    float pre = (float)F(4), post = (float)F(5), *y = ACT(0);
    const float *b = F(3) ? WT(1) : NULL;
    for (size_t i = 0; i < count; i++) {
        float v = b ? y[i] + b[i % R] : y[i];
        if (pre != 1.0f)
            v *= pre;
        v = act_f(a, v);
        y[i] = post != 1.0f ? v * post : v;
    }
    return 0;
}

/* gate = act(gate) * up */
static int run_glu(const wg_pexec *x, const wg_pop *op)
{
    size_t count = (size_t)F(0);
    int a = (int)F(1);
    float *g = ACT(0);
    const float *u = ACT(1);
    for (size_t i = 0; i < count; i++)
        g[i] = act_f(a, g[i]) * u[i];
    return 0;
}

/* a += b: an activation, or a weight (learned position embeddings of an image's fixed rows) */
static int run_add(const wg_pexec *x, const wg_pop *op)
{
    size_t count = (size_t)F(0);
    float *a = ACT(0);
    const float *b = x->p->vals[op->arg[1]].kind == WG_PV_WEIGHT ? x->w[op->arg[1]] : ACT(1);
    for (size_t i = 0; i < count; i++)
        a[i] += b[i];
    return 0;
}

/* y[t][j] = x[t][col0 + (j / group) * gstride + j % group]: a column range of a fused
 * projection (gstride 0), or every head's part of a per-head interleaved one */
static int run_slice(const wg_pexec *x, const wg_pop *op)
{
    int in_w = (int)F(1), col0 = (int)F(2), out_w = (int)F(3), group = (int)F(4), gs = (int)F(5);
    for (int t = 0; t < x->n; t++)
        for (int g = 0; g < out_w / group; g++)
            memcpy(ACT(1) + (size_t)t * out_w + (size_t)g * group,
                   ACT(0) + (size_t)t * in_w + col0 + (size_t)g * gs, (size_t)group * 4);
    return 0;
}

/* rotate the first `rot` values of a head by the table row of its position: pairs (i, i + rot/2)
 * ("rotate half") or (2i, 2i + 1) (interleaved); the rest of the head is copied */
static void rotate(const float *src, float *dst, int hd, int rot, bool inter, const float *tab)
{
    int half = rot / 2;
    for (int i = rot; i < hd; i++)
        dst[i] = src[i];
    for (int i = 0; i < half; i++) {
        float c = tab[2 * i], s = tab[2 * i + 1];
        int a = inter ? 2 * i : i, b = inter ? 2 * i + 1 : i + half;
        float x0 = src[a], x1 = src[b];
        dst[a] = x0 * c - x1 * s;
        dst[b] = x1 * c + x0 * s;
    }
}

static int run_rope_kv(const wg_pexec *x, const wg_pop *op)
{
    int n = (int)F(1), nh = (int)F(2), nkv = (int)F(3), hd = (int)F(4), pos0 = (int)F(5),
        rot = (int)F(6);
    bool inter = F(7) != 0;
    const float *q = ACT(0), *k = ACT(1), *v = ACT(2);
    float *qr = ACT(4), *kc = ACT(5), *vc = ACT(6);
    for (int t = 0; t < n; t++) {
        const float *tab = x->act[op->arg[3]] + (size_t)(pos0 + t) * rot;
        for (int h = 0; h < nh; h++)
            rotate(q + ((size_t)t * nh + h) * hd, qr + ((size_t)t * nh + h) * hd, hd, rot, inter, tab);
        for (int h = 0; h < nkv; h++) {
            size_t src = ((size_t)t * nkv + h) * hd, dst = ((size_t)(pos0 + t) * nkv + h) * hd;
            rotate(k + src, kc + dst, hd, rot, inter, tab);
            memcpy(vc + dst, v + src, (size_t)hd * 4);
        }
    }
    return 0;
}

/* ALiBi's slope of head h of nh for the largest bias `bmax` (BLOOM and MPT alike, 8 by default):
 * with c the largest power of 2 <= nh, 2^(-bmax (h+1)/c) for the first c heads, then the odd
 * steps 2^(-bmax (2(h-c)+1)/(2c)) between them */
double wg_alibi_slope(int nh, int h, double bmax)
{
    int c = 1;
    while (c * 2 <= nh)
        c *= 2;
    return h < c ? exp2(-bmax * (h + 1) / c) : exp2(-bmax * (2 * (h - c) + 1) / (2.0 * c));
}

/* softmax(q.k * scale (soft-capped) + ALiBi, masked) . v per head: causal over keys 0..pos0+t
 * (within the window when one is set), or over T keys whose mask is 1 (with none left, HF's
 * scores all equal the minimum: every key counts); ALiBi adds slope x (key - query position) */
static int run_attention(const wg_pexec *x, const wg_pop *op)
{
    int n = (int)F(0), nh = (int)F(1), nkv = (int)F(2), hd = (int)F(3), pos0 = (int)F(4),
        Tk = (int)F(6), window = (int)F(10);
    bool causal = F(5) != 0;
    double scale = F(8), cap = F(9), alibi = F(11);
    const float *q = ACT(0), *k = ACT(1), *v = ACT(2);
    const int32_t *mask = op->arg[3] < 0 ? NULL : x->in[op->arg[3]];
    float *att = ACT(4);
    int keys = causal ? pos0 + n : Tk;
    double *sc = malloc(sizeof *sc * (size_t)(keys > 0 ? keys : 1));
    if (!sc)
        return wg_fail(x->err, WG_EIO, NULL, "out of memory");
    bool any = false;
    for (int s = 0; s < keys && !causal; s++)
        any |= !mask || mask[s] != 0;
    for (int hh = 0; hh < nh; hh++) {
        int kh = hh / (nh / nkv);
        double slope = alibi > 0 ? wg_alibi_slope(nh, hh, alibi) : 0;
        for (int t = 0; t < n; t++) {
            const float *qv = q + ((size_t)t * nh + hh) * hd;
            int last = causal ? pos0 + t : keys - 1, first = 0;
            if (causal && window > 0 && last - window + 1 > 0)
                first = last - window + 1;
            double mx = -INFINITY, sum = 0;
            for (int s = first; s <= last; s++) {
                const float *kv = k + ((size_t)s * nkv + kh) * hd;
                double d = 0;
                for (int i = 0; i < hd; i++)
                    d += (double)qv[i] * kv[i];
                d *= scale;
                if (cap > 0)
                    d = cap * tanh(d / cap);
                d += slope * (s - (pos0 + t));
                sc[s] = causal ? d : !any ? 0.0 : mask && !mask[s] ? -INFINITY : d;
                mx = sc[s] > mx ? sc[s] : mx;
            }
            for (int s = first; s <= last; s++)
                sum += (sc[s] = exp(sc[s] - mx));
            float *out = att + ((size_t)t * nh + hh) * hd;
            for (int i = 0; i < hd; i++) {
                double a = 0;
                for (int s = first; s <= last; s++)
                    a += sc[s] * v[((size_t)s * nkv + kh) * hd + i];
                out[i] = (float)(a / sum);
            }
        }
    }
    free(sc);
    return 0;
}

/* an encoder's attention over the pass with a symmetric window and a relative position bias:
 * key s is valid for query t when its mask is 1 and |s - t| <= window (window 0: any s); its
 * score q.k * scale + bias[bucket(s - t)][head]. With no valid key, HF's scores all equal the
 * minimum: every key of the pass counts alike. */
static int run_encoder_attention(const wg_pexec *x, const wg_pop *op)
{
    int n = (int)F(0), nh = (int)F(1), nkv = (int)F(2), hd = (int)F(3), Tk = (int)F(4),
        window = (int)F(7), D = (int)F(9);
    double scale = F(6);
    const float *q = ACT(0), *k = ACT(1), *v = ACT(2), *bias = F(8) ? WT(4) : NULL;
    const int32_t *mask = op->arg[3] < 0 ? NULL : x->in[op->arg[3]],
                  *bucket = F(8) ? x->in[op->arg[5]] : NULL;
    float *att = ACT(6);
    double *sc = malloc(sizeof *sc * (size_t)Tk);
    if (!sc)
        return wg_fail(x->err, WG_EIO, NULL, "out of memory");
    for (int hh = 0; hh < nh; hh++) {
        int kh = hh / (nh / nkv);
        for (int t = 0; t < n; t++) {
            const float *qv = q + ((size_t)t * nh + hh) * hd;
            double mx = -INFINITY, sum = 0;
            for (int s = 0; s < Tk; s++) {
                int d = s - t;
                if ((mask && !mask[s]) || (window > 0 && (d > window || -d > window))) {
                    sc[s] = -INFINITY;
                    continue;
                }
                const float *kv = k + ((size_t)s * nkv + kh) * hd;
                double dot = 0;
                for (int i = 0; i < hd; i++)
                    dot += (double)qv[i] * kv[i];
                sc[s] = dot * scale;
                if (bias)
                    sc[s] += bias[(size_t)bucket[(d < -D ? -D : d > D ? D : d) + D] * nh + hh];
                mx = sc[s] > mx ? sc[s] : mx;
            }
            for (int s = 0; s < Tk; s++)
                sum += (sc[s] = mx == -INFINITY ? 1.0 : exp(sc[s] - mx));
            float *out = att + ((size_t)t * nh + hh) * hd;
            for (int i = 0; i < hd; i++) {
                double a = 0;
                for (int s = 0; s < Tk; s++)
                    a += sc[s] * v[((size_t)s * nkv + kh) * hd + i];
                out[i] = (float)(a / sum);
            }
        }
    }
    free(sc);
    return 0;
}

/* y[t] = the patch t - first of the image (rows t < first: 0), each patch's values in the
 * order of a conv weight [out][channel][row][column] */
static int run_patches(const wg_pexec *x, const wg_pop *op)
{
    int nc = (int)F(1), Hh = (int)F(2), Ww = (int)F(3), ps = (int)F(4), first = (int)F(5);
    int K = nc * ps * ps, across = Ww / ps;
    float *y = ACT(1);
    for (int t = 0; t < x->n; t++)
        for (int j = 0; j < K; j++) {
            int pi = t - first, c = j / (ps * ps), r = (j / ps) % ps, q = j % ps;
            y[(size_t)t * K + j] = pi < 0 ? 0.0f
                : x->pixels[((size_t)c * Hh + (size_t)(pi / across) * ps + r) * Ww + (size_t)(pi % across) * ps + q];
        }
    return 0;
}

/* y[row] = v (the CLS token, ...) */
static int run_set_row(const wg_pexec *x, const wg_pop *op)
{
    int H = (int)F(0), row = (int)F(1);
    memcpy(ACT(0) + (size_t)row * H, x->w[op->arg[1]], sizeof(float) * (size_t)H);
    return 0;
}

/* A mixture-of-experts router, per token over its E logits: p = softmax (f32 values, the sum in
 * double); the k largest chosen; weights[t][e] = p[e] for a chosen expert (divided by the chosen
 * ones' sum when norm), 0 for any other. The experts' outputs are then added by moe_add. Among
 * equal weights the lower expert index is chosen: torch.topk does not specify its choice (on
 * four equal values it returned 2, 3 on the CPU and 1, 0 in CUDA, torch 2.11), so no rule is
 * HF's; real routers' probabilities are hardly ever equal. */
static int run_moe_router(const wg_pexec *x, const wg_pop *op)
{
    int n = (int)F(0), E = (int)F(1), k = (int)F(2);
    bool norm = F(3) != 0;
    for (int t = 0; t < n; t++) {
        const float *l = ACT(0) + (size_t)t * E;
        float *w = ACT(1) + (size_t)t * E, mx = l[0];
        for (int e = 1; e < E; e++)
            mx = l[e] > mx ? l[e] : mx;
        double sum = 0;
        for (int e = 0; e < E; e++)
            sum += exp((double)l[e] - mx);
        for (int e = 0; e < E; e++)
            w[e] = (float)(exp((double)l[e] - mx) / sum);
        double chosen = 0;
        for (int e = 0; e < E; e++) {
            int rank = 0;
            for (int j = 0; j < E; j++)
                rank += w[j] > w[e] || (w[j] == w[e] && j < e);
            if (rank < k)
                chosen += w[e];
        }
        /* a second pass: the ranks above read the probabilities, not the weights */
        float keep[WG_MOE_MAX_EXPERTS];
        for (int e = 0; e < E; e++) {
            int rank = 0;
            for (int j = 0; j < E; j++)
                rank += w[j] > w[e] || (w[j] == w[e] && j < e);
            keep[e] = rank < k ? (norm ? w[e] / (float)chosen : w[e]) : 0.0f;
        }
        memcpy(w, keep, sizeof *w * (size_t)E);
    }
    return 0;
}

/* y[t][j] (+)= w[t][e] * x[t][j]: expert e's output by its routing weight (accumulate 0: into a
 * y of zeros). A weight of 0 adds nothing, as an expert the router did not choose adds nothing
 * to Hugging Face's sum. */
static int run_moe_add(const wg_pexec *x, const wg_pop *op)
{
    int n = (int)(F(0) / F(1)), H = (int)F(1), E = (int)F(2), e = (int)F(3);
    bool acc = F(4) != 0;
    float *y = ACT(0);
    const float *w = ACT(1), *v = ACT(2);
    for (int t = 0; t < n; t++) {
        float wt = w[(size_t)t * E + e];
        for (int j = 0; j < H; j++) {
            size_t i = (size_t)t * H + j;
            if (wt != 0.0f)
                y[i] = acc ? y[i] + wt * v[i] : wt * v[i];
            else if (!acc)
                y[i] = 0.0f;
        }
    }
    return 0;
}

static const wg_pop_def defs[] = {
    {"gather", {{"table", W, 0, 0}, {"index", I, 0, 0}, {"y", A, 0, 1}}, 3, {0}, 0, run_gather},
    {"matmul", {{"x", A, 0, 0}, {"weight", W, 0, 0}, {"bias", W, 1, 0}, {"y", A, 0, 1}}, 4, {0}, 0,
     run_matmul},
    {"rmsnorm", {{"x", A, 0, 1}, {"residual", A, 1, 0}, {"weight", W, 1, 0}, {"y", A, 0, 1}}, 4,
     {"n", "H", "eps:f32", "has_residual", "w_offset:f32", "has_weight"}, 6, run_rmsnorm},
    {"layernorm", {{"x", A, 0, 0}, {"weight", W, 1, 0}, {"bias", W, 1, 0}, {"y", A, 0, 1}}, 4,
     {"n", "H", "eps:f32", "has_weight", "has_bias"}, 5, run_layernorm},
    {"bias_act", {{"y", A, 0, 1}, {"bias", W, 1, 0}}, 2,
     {"count", "R", "act", "has_bias", "pre:f32", "post:f32"}, 6, run_bias_act},
    {"glu", {{"gate", A, 0, 1}, {"up", A, 0, 0}}, 2, {"count", "act"}, 2, run_glu},
    {"add", {{"a", A, 0, 1}, {"b", A | W, 0, 0}}, 2, {"count"}, 1, run_add},
    {"slice", {{"x", A, 0, 0}, {"y", A, 0, 1}}, 2, {"count", "in_w", "col0", "out_w", "group", "gstride"},
     6, run_slice},
    {"rope_kv", {{"q", A, 0, 0}, {"k", A, 0, 0}, {"v", A, 0, 0}, {"table", T, 0, 0},
                 {"q_rotated", A, 0, 1}, {"k_cache", C | A, 0, 1}, {"v_cache", C | A, 0, 1}}, 7,
     {"count", "n", "heads", "kv_heads", "hd", "pos0", "rot", "interleaved"}, 8, run_rope_kv},
    {"attention", {{"q", A, 0, 0}, {"k", C | A, 0, 0}, {"v", C | A, 0, 0}, {"mask", I, 1, 0},
                   {"out", A, 0, 1}}, 5,
     {"n", "heads", "kv_heads", "hd", "pos0", "causal", "T", "stride", "scale:f32", "softcap:f32",
      "window", "alibi:f32"}, 12, run_attention},
    {"encoder_attention", {{"q", A, 0, 0}, {"k", A, 0, 0}, {"v", A, 0, 0}, {"mask", I, 1, 0},
                           {"bias", W, 1, 0}, {"buckets", T, 1, 0}, {"out", A, 0, 1}}, 7,
     {"n", "heads", "kv_heads", "hd", "T", "stride", "scale:f32", "window", "has_bias", "rel_max"}, 10,
     run_encoder_attention},
    {"patches", {{"pixels", I, 0, 0}, {"y", A, 0, 1}}, 2,
     {"count", "channels", "height", "width", "patch", "first"}, 6, run_patches},
    {"set_row", {{"y", A, 0, 1}, {"v", W, 0, 0}}, 2, {"count", "row"}, 2, run_set_row},
    {"moe_router", {{"logits", A, 0, 0}, {"weights", A, 0, 1}}, 2, {"n", "E", "k", "norm"}, 4,
     run_moe_router},
    {"moe_add", {{"y", A, 0, 1}, {"w", A, 0, 0}, {"x", A, 0, 0}}, 3,
     {"count", "H", "E", "e", "accumulate"}, 5, run_moe_add},
};

const wg_pop_def *wg_pop_defs(int *n)
{
    *n = (int)(sizeof defs / sizeof *defs);
    return defs;
}

int wg_pop_find(const char *name)
{
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
        if (!strcmp(defs[i].name, name))
            return (int)i;
    return -1;
}
