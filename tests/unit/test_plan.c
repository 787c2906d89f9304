/* tests/unit/test_plan.c — plans on the real default model: presets, overrides, the planner's
 * monotonicity and determinism, thread-count independence of quantized bytes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../../quant/quant.h"

static wg_model *open_tiny(void)
{
    wg_model *m;
    wg_error e = {0};
    cr_assert_eq(wg_model_open("models/tinyllama", NULL, &m, &e), 0, "%s", e.msg);
    return m;
}

static uint64_t total(const wg_model *m, const wg_plan_entry *p)
{
    uint64_t t = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        t += p[i].bytes;
    return t;
}

Test(plan, mixed_preset_role_defaults)
{
    wg_model *m = open_tiny();
    wg_plan_entry *p = calloc(m->n_tensors, sizeof *p);
    wg_plan_opts o;
    wg_plan_opts_default(&o);
    wg_error e = {0};
    cr_assert_eq(wg_plan_preset(m, &o, p, &e), 0);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_tensor *t = &m->tensors[i];
        int want = t->role == WG_ROLE_NORM ? 0
                   : (t->role == WG_ROLE_FFN_UP || t->role == WG_ROLE_FFN_DOWN ||
                      t->role == WG_ROLE_FFN_GATE || t->role == WG_ROLE_ATTN_OUT) ? 4 : 8;
        if (want)
            cr_assert(p[i].fmt.kind == WG_Q_INT && p[i].fmt.bits == want, "%s", t->name);
        else
            cr_assert_eq(p[i].fmt.kind, WG_Q_F16, "%s", t->name);
    }
    free(p);
    wg_model_free(m);
}

Test(plan, overrides_last_match_wins_and_layer_ranges)
{
    wg_model *m = open_tiny();
    wg_plan_entry *p = calloc(m->n_tensors, sizeof *p);
    wg_plan_opts o;
    wg_plan_opts_default(&o);
    wg_error e = {0};
    wg_plan_preset(m, &o, p, &e);
    cr_assert_eq(wg_plan_override(m, "layers.0-1.*=q8", &o, p, NULL, &e), 0);
    cr_assert_eq(wg_plan_override(m, "role:ffn_down=q5", &o, p, NULL, &e), 0);
    cr_assert_eq(wg_plan_override(m, "*lm_head*=fp16", &o, p, NULL, &e), 0);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_tensor *t = &m->tensors[i];
        if (t->role == WG_ROLE_FFN_DOWN)
            cr_assert_eq(p[i].fmt.bits, 5, "%s", t->name);
        else if (t->role == WG_ROLE_HEAD)
            cr_assert_eq(p[i].fmt.kind, WG_Q_F16);
        else if (t->layer >= 0 && t->layer <= 1 && t->role != WG_ROLE_NORM)
            cr_assert_eq(p[i].fmt.bits, 8, "%s", t->name);
        else if (t->role == WG_ROLE_NORM)
            cr_assert_eq(p[i].fmt.kind, WG_Q_F16, "norms never become integer");
    }
    cr_assert_neq(wg_plan_override(m, "x=q7", &o, p, NULL, &e), 0);
    free(p);
    wg_model_free(m);
}

Test(plan, planner_monotone_deterministic_and_within_budget)
{
    wg_model *m = open_tiny();
    wg_plan_entry *p = calloc(m->n_tensors, sizeof *p), *p2 = calloc(m->n_tensors, sizeof *p2);
    wg_plan_opts o;
    wg_plan_opts_default(&o);
    wg_error e = {0};
    wg_plan_preset(m, &o, p, &e);
    memcpy(p2, p, m->n_tensors * sizeof *p);
    wg_plan_scores *s1, *s2;
    cr_assert_eq(wg_plan_score(m, &o, p, NULL, NULL, 2, &s1, &e), 0, "%s", e.msg);
    cr_assert_eq(wg_plan_score(m, &o, p2, NULL, NULL, 1, &s2, &e), 0);
    double prev = 1e300;
    int planned = 0;
    for (double bits = 2.5; bits <= 9.0; bits += 0.05) {
        wg_plan_stats st, st2;
        uint64_t budget = (uint64_t)(bits * 2492672 / 8);
        int rc = wg_plan_allocate(s1, m, &o, p, budget, &st, &e);
        if (rc == WG_EBUDGET) {
            memset(&e, 0, sizeof e);
            continue;
        }
        cr_assert_eq(rc, 0, "%s", e.msg);
        planned++;
        cr_assert_leq(total(m, p), budget);
        cr_assert_leq(st.cost, prev + 1e-12, "more budget (%.2f bits) gave more error", bits);
        prev = st.cost;
        wg_plan_allocate(s2, m, &o, p2, budget, &st2, &e);
        for (size_t i = 0; i < m->n_tensors; i++)
            cr_assert(!memcmp(&p[i].fmt, &p2[i].fmt, sizeof p[i].fmt), "planner depends on threads");
    }
    cr_assert_gt(planned, 50);
    wg_plan_stats st;
    cr_assert_eq(wg_plan_allocate(s1, m, &o, p, 1000, &st, &e), WG_EBUDGET);
    wg_plan_scores_free(s1);
    wg_plan_scores_free(s2);
    free(p);
    free(p2);
    wg_model_free(m);
}

Test(plan, quantized_bytes_independent_of_threads)
{
    wg_model *m = open_tiny();
    wg_plan_entry *p = calloc(m->n_tensors, sizeof *p);
    wg_plan_opts o;
    wg_plan_opts_default(&o);
    wg_error e = {0};
    wg_plan_preset(m, &o, p, &e);
    for (size_t i = 0; i < m->n_tensors; i++) {
        uint8_t *a = malloc(p[i].bytes + 1), *b = malloc(p[i].bytes + 1);
        wg_qopts o1 = {.search = true, .threads = 1}, o8 = {.search = true, .threads = 8};
        wg_qmetrics m1, m8;
        cr_assert_eq(wg_quantize_tensor(&m->tensors[i], &p[i], &o1, a, &m1, &e), 0);
        cr_assert_eq(wg_quantize_tensor(&m->tensors[i], &p[i], &o8, b, &m8, &e), 0);
        cr_assert_arr_eq(a, b, p[i].bytes, "%s", m->tensors[i].name);
        cr_assert(!memcmp(&m1, &m8, sizeof m1), "metrics differ with threads");
        free(a);
        free(b);
    }
    free(p);
    wg_model_free(m);
}
