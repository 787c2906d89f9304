/* verify/compare.c — output-by-output comparison of two runs of a model (original vs
 * quantized): error sums that add up across samples, and a class-axis view (top-1 agreement,
 * KL divergence) for logits and probability outputs. */
#include "verify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int wg_class_axis(const char *name, const float *a, uint64_t n, int64_t last)
{
    if (last < 2 || n < (uint64_t)last || n % (uint64_t)last)
        return 0;
    char low[256];
    size_t i;
    for (i = 0; name[i] && i + 1 < sizeof low; i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    low[i] = 0;
    if (strstr(low, "logit"))
        return 1;
    /* already probabilities: every row in [0,1] summing to 1 */
    for (uint64_t r = 0; r < n / (uint64_t)last; r++) {
        double s = 0;
        for (int64_t k = 0; k < last; k++) {
            float v = a[r * (uint64_t)last + (uint64_t)k];
            if (!(v >= 0.0f && v <= 1.0f))
                return 0;
            s += v;
        }
        if (fabs(s - 1.0) > 1e-3)
            return 0;
    }
    return 2;
}

void wg_out_compare_add(wg_out_compare *c, const float *a, const float *b, uint64_t n,
                        int64_t last, int class_kind)
{
    c->n += n;
    for (uint64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) {
            c->nonfinite += isfinite(a[i]) != isfinite(b[i]);
            continue;
        }
        double e = (double)a[i] - b[i];
        c->sse += e * e;
        c->ssa += (double)a[i] * a[i];
        c->ssb += (double)b[i] * b[i];
        c->dot += (double)a[i] * b[i];
        c->max_abs = fabs(e) > c->max_abs ? fabs(e) : c->max_abs;
    }
    if (!class_kind)
        return;
    c->class_kind = class_kind;
    uint64_t rows = n / (uint64_t)last;
    double *pa = malloc(sizeof(double) * (size_t)last), *pb = malloc(sizeof(double) * (size_t)last);
    if (!pa || !pb) {
        free(pa);
        free(pb);
        return;
    }
    for (uint64_t r = 0; r < rows; r++) {
        const float *ra = a + r * (uint64_t)last, *rb = b + r * (uint64_t)last;
        int64_t ia = 0, ib = 0;
        for (int64_t k = 0; k < last; k++) {
            ia = ra[k] > ra[ia] ? k : ia;
            ib = rb[k] > rb[ib] ? k : ib;
        }
        c->rows++;
        c->agree += ia == ib;
        /* distributions: softmax of logits, or the probabilities themselves (floored) */
        double sa = 0, sb = 0, ma = ra[ia], mb = rb[ib];
        for (int64_t k = 0; k < last; k++) {
            pa[k] = class_kind == 1 ? exp(ra[k] - ma) : fmax(ra[k], 1e-12);
            pb[k] = class_kind == 1 ? exp(rb[k] - mb) : fmax(rb[k], 1e-12);
            sa += pa[k];
            sb += pb[k];
        }
        double kl = 0;
        for (int64_t k = 0; k < last; k++) {
            double p = pa[k] / sa, q = pb[k] / sb;
            if (p > 0)
                kl += p * log(p / fmax(q, 1e-300));
        }
        c->kl_sum += kl > 0 ? kl : 0;
    }
    free(pa);
    free(pb);
}

double wg_out_rel_rmse(const wg_out_compare *c) { return c->ssa > 0 ? sqrt(c->sse / c->ssa) : 0; }
double wg_out_cosine(const wg_out_compare *c)
{
    return c->ssa > 0 && c->ssb > 0 ? c->dot / sqrt(c->ssa * c->ssb) : (c->sse == 0 ? 1 : 0);
}

/* ---- logits and hidden states of two runs of a program ---- */

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
