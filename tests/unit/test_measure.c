/* tests/unit/test_measure.c — the planner on measured costs (interpolation, the damage
 * threshold, rank agreement) and the onnx target's candidates and stored sizes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../quant/quant.h"
#include "../../pack/pack.h"

static wg_model *open_model(const char *path)
{
    wg_model *m;
    wg_error e = {0};
    cr_assert_eq(wg_model_open(path, NULL, &m, &e), 0, "%s", e.msg);
    return m;
}

/* Scores of the q4 preset on the default model. */
static wg_plan_scores *scores(const wg_model *m, wg_plan_entry *p, const wg_plan_opts *o)
{
    wg_error e = {0};
    cr_assert_eq(wg_plan_preset(m, o, p, &e), 0);
    wg_plan_scores *s;
    cr_assert_eq(wg_plan_score(m, o, p, NULL, NULL, 2, &s, &e), 0, "%s", e.msg);
    return s;
}

Test(measure, spearman_known_values)
{
    double a[5] = {1, 2, 3, 4, 5}, b[5] = {5, 4, 3, 2, 1}, c[5] = {10, 20, 20, 40, 50};
    cr_assert_float_eq(wg_spearman(a, a, 5), 1.0, 1e-12);
    cr_assert_float_eq(wg_spearman(a, b, 5), -1.0, 1e-12);
    cr_assert_float_eq(wg_spearman(a, c, 5), 0.9746794344808963, 1e-12); /* ties averaged */
    cr_assert(isnan(wg_spearman(a, b, 1)));
}

Test(measure, scaled_costs_keep_the_plan_and_interpolate)
{
    wg_model *m = open_model("models/tinyllama");
    size_t n = m->n_tensors;
    wg_plan_opts o;
    wg_plan_opts_default(&o);
    o.preset = WG_PRESET_Q4;
    wg_plan_entry *p = calloc(n, sizeof *p), *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
    wg_plan_scores *s1 = scores(m, p, &o), *s2 = scores(m, p, &o);
    /* every candidate of the first live tensor measured at 10x its proxy, nothing else */
    size_t t0 = 0;
    while (!wg_plan_candidates(s1, t0, NULL))
        t0++;
    const double *proxy;
    const wg_plan_cands *c = wg_plan_candidates(s2, t0, &proxy);
    wg_plan_measure mv[WG_PLAN_MAX_CAND];
    for (int k = 0; k < c->n; k++)
        mv[k] = (wg_plan_measure){t0, c->fmt[k], 10 * proxy[k]};
    wg_plan_measured_stats st;
    cr_assert_eq(wg_plan_use_measured(s2, mv, (size_t)c->n, 0, &st), 0);
    cr_assert_eq(st.measured, c->n);
    cr_assert_float_eq(st.spearman, 1.0, 1e-12);
    /* the others are interpolated with the median ratio (10): the allocation is unchanged */
    for (size_t i = t0 + 1; i < n; i++) {
        const wg_plan_cands *ci = wg_plan_candidates(s2, i, NULL);
        for (int k = 0; ci && k < ci->n; k++)
            cr_assert_eq(wg_plan_cost_source(s2, i, &ci->fmt[k]), 2);
    }
    wg_error e = {0};
    for (uint64_t budget = 900000; budget <= 1800000; budget += 300000) {
        wg_plan_stats x, y;
        memcpy(a, p, n * sizeof *p);
        memcpy(b, p, n * sizeof *p);
        cr_assert_eq(wg_plan_allocate(s1, m, &o, a, budget, &x, &e), 0, "%s", e.msg);
        cr_assert_eq(wg_plan_allocate(s2, m, &o, b, budget, &y, &e), 0, "%s", e.msg);
        for (size_t i = 0; i < n; i++)
            cr_assert(wg_qformat_eq(&a[i].fmt, &b[i].fmt), "%s at %llu", m->tensors[i].name,
                      (unsigned long long)budget);
        cr_assert_float_eq(y.cost, 10 * x.cost, 1e-9 * y.cost);
    }
    wg_plan_scores_free(s1);
    wg_plan_scores_free(s2);
    free(p);
    free(a);
    free(b);
    wg_model_free(m);
}

Test(measure, damage_threshold_excludes_a_format)
{
    wg_model *m = open_model("models/tinyllama");
    size_t n = m->n_tensors;
    wg_plan_opts o;
    wg_plan_opts_default(&o);
    o.preset = WG_PRESET_Q4;
    wg_plan_entry *p = calloc(n, sizeof *p), *a = calloc(n, sizeof *a);
    wg_plan_scores *s = scores(m, p, &o);
    size_t t0 = 0;
    while (!wg_plan_candidates(s, t0, NULL))
        t0++;
    wg_qformat q2 = {.kind = WG_Q_INT, .bits = 2, .group = 32, .sym = true};
    /* every tensor's 2-bit cost measured as its proxy, but t0's: a disaster at 2 bits */
    wg_plan_measure *mv = calloc(n, sizeof *mv);
    size_t nm = 0;
    for (size_t i = 0; i < n; i++) {
        const double *proxy;
        const wg_plan_cands *c = wg_plan_candidates(s, i, &proxy);
        for (int k = 0; c && k < c->n; k++)
            if (wg_qformat_eq(&c->fmt[k], &q2))
                mv[nm++] = (wg_plan_measure){i, q2, i == t0 ? 5.0 : proxy[k]};
    }
    wg_plan_measured_stats st;
    cr_assert_eq(wg_plan_use_measured(s, mv, nm, 1.0, &st), 0);
    free(mv);
    /* its 2-bit cost, and its 3-bit one interpolated with its own 50x ratio */
    cr_assert_eq(st.excluded, 2, "excluded %d of %d measured", st.excluded, st.measured);
    cr_assert_eq(wg_plan_cost_source(s, t0, &q2), 3);
    wg_plan_stats x;
    wg_error e = {0};
    memcpy(a, p, n * sizeof *p);
    /* the smallest budget possible: everything at its smallest allowed format */
    wg_plan_allocate(s, m, &o, a, 0, &x, &e);
    memset(&e, 0, sizeof e);
    cr_assert_eq(wg_plan_allocate(s, m, &o, a, x.min_bytes, &x, &e), 0, "%s", e.msg);
    cr_assert(!wg_qformat_eq(&a[t0].fmt, &q2), "an excluded format was chosen");
    cr_assert_eq(a[t0].fmt.bits, 4);
    for (size_t i = t0 + 1; i < n; i++)
        if (wg_plan_candidates(s, i, NULL))
            cr_assert_eq(a[i].fmt.bits, 2, "%s", m->tensors[i].name);
    wg_plan_scores_free(s);
    free(p);
    free(a);
    wg_model_free(m);
}

Test(measure, onnx_target_candidates_and_sizes)
{
    wg_model *m = open_model("models/tinyllama-onnx/model.onnx");
    uint8_t *use = calloc(m->n_tensors, 1);
    wg_error e = {0};
    cr_assert_eq(wg_onnx_classify(m, use, &e), 0, "%s", e.msg);
    int mm = 0, gather = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_tensor *t = &m->tensors[i];
        mm += use[i] == WG_ONNX_USE_MATMUL;
        gather += use[i] == WG_ONNX_USE_GATHER;
        if (use[i] != WG_ONNX_USE_MATMUL)
            continue;
        /* MatMulNBits: data + f32 scales, 4-bit g32 = 5 bits per weight (+ names) */
        wg_plan_entry x = {.fmt = {.kind = WG_Q_INT, .bits = 4, .group = 32, .sym = true}};
        wg_plan_entry_size(t, &x);
        uint64_t b = wg_onnx_stored_bytes(t, WG_ONNX_USE_MATMUL, &x);
        cr_assert_eq(wg_onnx_form_for(t, WG_ONNX_USE_MATMUL, &x.fmt), WG_ONNX_NBITS);
        cr_assert(b >= t->numel * 5 / 8 && b < t->numel * 5 / 8 + 512, "%s: %llu", t->name,
                  (unsigned long long)b);
        x.fmt.bits = 3; /* no 3-bit MatMulNBits: DequantizeLinear of 4-bit codes, fp16 scales */
        wg_plan_entry_size(t, &x);
        cr_assert_eq(wg_onnx_form_for(t, WG_ONNX_USE_MATMUL, &x.fmt), WG_ONNX_DQ);
        b = wg_onnx_stored_bytes(t, WG_ONNX_USE_MATMUL, &x);
        cr_assert(b >= t->numel * 9 / 16 && b < t->numel * 9 / 16 + 1024, "%llu",
                  (unsigned long long)b);
    }
    cr_assert_eq(mm, 29);
    cr_assert_eq(gather, 1);
    wg_plan_target *tg;
    cr_assert_eq(wg_onnx_target_new(m, &tg, &e), 0);
    wg_plan_opts o;
    wg_plan_opts_default(&o);
    o.target = tg;
    wg_plan_entry *p = calloc(m->n_tensors, sizeof *p);
    cr_assert_eq(wg_plan_preset(m, &o, p, &e), 0);
    wg_plan_scores *s;
    cr_assert_eq(wg_plan_score(m, &o, p, NULL, NULL, 2, &s, &e), 0, "%s", e.msg);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_plan_cands *c = wg_plan_candidates(s, i, NULL);
        if (!c)
            continue;
        for (int k = 0; k < c->n; k++) { /* only what ONNX Runtime stores compactly */
            const wg_qformat *f = &c->fmt[k];
            cr_assert(f->kind == WG_Q_F16 || f->bits == 2 || f->bits == 4 || f->bits == 8);
            cr_assert(k == 0 || c->bytes[k] >= c->bytes[k - 1], "sorted by bytes");
        }
        cr_assert_eq(c->fmt[c->n - 1].kind, WG_Q_F16);
    }
    wg_plan_scores_free(s);
    wg_onnx_target_free(tg);
    free(p);
    free(use);
    wg_model_free(m);
}
