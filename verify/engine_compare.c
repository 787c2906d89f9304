/* verify/engine_compare.c — a runtime's output against the C reference of the same weights
 * (contract in engine.h).
 *
 * Tolerance (exit 5 beyond it). Both sides compute the same function on the same f32 weights;
 * they differ by rounding only: the runtime sums dot products in f32 in its own order (tiles,
 * subgroups), the reference in double, and both round every stored activation to f32.
 * Summing K terms in float of unit roundoff u in another order moves the result by about
 * sqrt(K) u relative (the rounding errors are of random sign: a random walk; K u is the worst
 * case). About four matrix products lie on each layer's path into the residual stream
 * (q/k/v, attention, o; gate/up, down), RMSNorm/LayerNorm keep errors relative, and the
 * residual stream adds them up over the layers, so the last hidden state is off by about
 *     eps = 16 (4 L + 1) sqrt(Kmax) u     (wg_f32_order_eps; u = 2^-24, or 2^-11 when the
 *                                          runtime reports f16 precision)
 * relative, Kmax the longest reduction (hidden, intermediate, heads x head_dim, or the number
 * of positions attention sums over). The factor 16 is not derived: it stands for what the
 * random-walk model leaves out (the layers' Jacobians amplifying an error, exp/tanh/erf a few
 * ulp off on GPUs, fused multiply-adds). Decoders fail when a logit is off by more than
 * eps x max(1, max |reference logit|), or when a greedy step picks another token than the
 * reference's argmax although the reference's top-1 leads by more than twice that; encoders
 * fail when a token's last hidden state is off by more than eps relative (L2), which also
 * bounds the cosine (>= 1 - eps^2/2). Runs on real adapters calibrate the factor. */
#include "../program/program.h"
#include "engine.h"
#include "verify.h"

#include <math.h>
#include <string.h>

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static bool all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

static int64_t kmax_of(const wg_prog *p, int n)
{
    int64_t k = wg_prog_kmax(p);
    return k > n ? k : n;
}

/* the greedy steps: generated[k] against the reference's argmax at position n-1+k */
static void greedy_check(json_t *j, const float *ref, const wg_engine_out *rt, int n, int V,
                         double tol, int *decided)
{
    int match = 0;
    for (int k = 0; k < rt->ngen; k++) {
        const float *z = ref + (size_t)(n - 1 + k) * (size_t)V;
        bool same = wg_argmax(z, V) == rt->gen[k];
        match += same;
        *decided += !same && wg_top1_margin(z, V) > 2 * tol;
    }
    json_object_set_new(j, "greedy_first_token_matches",
                        rt->ngen ? json_boolean(wg_argmax(ref + (size_t)(n - 1) * V, V) ==
                                                rt->gen[0]) : json_null());
    json_object_set_new(j, "greedy_matches", rt->ngen ? json_integer(match) : json_null());
}

static bool compare_llama(json_t *j, const wg_manifest *m, const int32_t *tok, int n,
                          const float *ref, int n_ext, const wg_engine_out *rt)
{
    const wg_prog *f = m->program;
    int V = (int)wg_prog_out_width(f), decided = 0;
    wg_lm_compare c;
    const float *a = ref ? ref : rt->out, *b = rt->out ? rt->out : ref;
    wg_lm_compare_logits(a, b, tok, n, V, &c);
    bool both = ref && rt->out, finite = !rt->out || all_finite(rt->out, (size_t)n * V);
    double zmax = 0, eps = wg_f32_order_eps(wg_prog_layers(f), kmax_of(f, n_ext), rt->unit);
    for (size_t i = 0; ref && i < (size_t)n * V; i++)
        zmax = fabs(ref[i]) > zmax ? fabs(ref[i]) : zmax;
    double tol = eps * (zmax > 1 ? zmax : 1);
    /* one token (a one-id prompt) predicts nothing: no NLL */
    json_object_set_new(j, "nll", rt->out && finite && n > 1 ? num(c.nll_b) : json_null());
    json_object_set_new(j, "reference_nll", ref && n > 1 ? num(c.nll_a) : json_null());
    json_object_set_new(j, "max_abs_logit_diff", both ? num(c.max_abs) : json_null());
    json_object_set_new(j, "top1_agreement", both ? num(c.top1_agree) : json_null());
    json_object_set_new(j, "kl", both ? num(c.kl) : json_null());
    if (both)
        decided = wg_decided_disagreements(ref, rt->out, n, V, tol);
    json_t *g = json_object_get(rt->result, "generated");
    json_object_set_new(j, "generated", g ? json_incref(g) : json_null());
    if (both)
        greedy_check(j, ref, rt, n, V, tol, &decided);
    json_object_set_new(j, "decided_disagreements", both ? json_integer(decided) : json_null());
    json_object_set_new(j, "tolerance", both ? json_pack("{s:f, s:f, s:f}", "unit_roundoff",
                        rt->unit, "eps", eps, "logit_abs", tol) : json_null());
    static const char *const enc_keys[] = {"cosine", "min_cosine", "max_rel_err", "max_abs"};
    for (size_t i = 0; i < sizeof enc_keys / sizeof *enc_keys; i++)
        json_object_set_new(j, enc_keys[i], json_null());
    bool ok = finite && (!both || (c.max_abs <= tol && !decided));
    json_object_set_new(j, "agrees", both || !finite ? json_boolean(ok) : json_null());
    return ok;
}

static bool compare_bert(json_t *j, const wg_manifest *m, int n, const float *ref,
                         const wg_engine_out *rt)
{
    const wg_prog *f = m->program;
    int H = (int)wg_prog_out_width(f);
    bool both = ref && rt->out, finite = !rt->out || all_finite(rt->out, (size_t)n * H);
    wg_hidden_compare c = {0};
    if (both && finite)
        wg_hidden_compare_run(ref, rt->out, n, H, &c);
    double eps = wg_f32_order_eps(wg_prog_layers(f), kmax_of(f, n), rt->unit);
    static const char *const lm_keys[] = {"nll", "reference_nll", "max_abs_logit_diff",
                                          "top1_agreement", "kl", "generated"};
    for (size_t i = 0; i < sizeof lm_keys / sizeof *lm_keys; i++)
        json_object_set_new(j, lm_keys[i], json_null());
    bool cmp = both && finite;
    json_object_set_new(j, "cosine", cmp ? num(c.cosine) : json_null());
    json_object_set_new(j, "min_cosine", cmp ? num(c.min_cosine) : json_null());
    json_object_set_new(j, "max_rel_err", cmp ? num(c.max_rel_err) : json_null());
    json_object_set_new(j, "max_abs", cmp ? num(c.max_abs) : json_null());
    json_object_set_new(j, "tolerance", both ? json_pack("{s:f, s:f}", "unit_roundoff", rt->unit,
                                                         "eps", eps) : json_null());
    bool ok = finite && (!both || c.max_rel_err <= eps);
    json_object_set_new(j, "agrees", both || !finite ? json_boolean(ok) : json_null());
    return ok;
}

bool wg_engine_compare(json_t *j, const wg_manifest *m, const int32_t *tok, int n,
                       const float *ref, int n_ext, const wg_engine_out *rt)
{
    return !strcmp(m->program->task, "causal-lm") ? compare_llama(j, m, tok, n, ref, n_ext, rt)
                                                 : compare_bert(j, m, n, ref, rt);
}
