/* verify/measure.c — per-tensor end-to-end costs: which pairs to run, the values a candidate
 * dequantizes to, the C reference evaluation for Llama-family models, and their JSON form. */
#include "measure.h"
#include "verify.h"
#include "../program/program.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int wg_measure_pick(const wg_plan_scores *s, size_t n_tensors, int group, bool all,
                    wg_plan_measure **out, size_t *n)
{
    *out = malloc((n_tensors * WG_PLAN_MAX_CAND + 1) * sizeof **out);
    *n = 0;
    if (!*out)
        return -1;
    for (size_t i = 0; i < n_tensors; i++) {
        const wg_plan_cands *c = wg_plan_candidates(s, i, NULL);
        for (int k = c ? c->n - 1 : -1; k >= 0; k--)
            if (c->fmt[k].kind == WG_Q_INT && (all || c->fmt[k].group == group))
                (*out)[(*n)++] = (wg_plan_measure){.tensor = i, .fmt = c->fmt[k], .cost = NAN};
    }
    return 0;
}

/* Rows x K values of t in format f (the matrix view). */
static float *matrix_values(const wg_tensor *t, const wg_qformat *f, bool search, int threads,
                            int64_t *rows, int64_t *K)
{
    wg_plan_entry e = {.fmt = *f};
    if (!wg_plan_entry_size(t, &e))
        return NULL;
    *rows = e.rows;
    *K = e.K;
    float *out = malloc(sizeof(float) * (size_t)(e.rows * e.K > 0 ? e.rows * e.K : 1));
    uint8_t *buf = malloc(e.bytes ? e.bytes : 1);
    wg_qopts o = {.search = search, .threads = threads};
    wg_error err = {0};
    if (!out || !buf || wg_quantize_tensor(t, &e, &o, buf, NULL, &err) ||
        wg_dequantize_tensor(&e, buf, out)) {
        free(out);
        out = NULL;
    }
    free(buf);
    return out;
}

float *wg_measure_values(const wg_tensor *t, const wg_qformat *f, bool search, int threads)
{
    int64_t rows, K;
    float *mv = matrix_values(t, f, search, threads, &rows, &K);
    if (!mv || !(t->in_dim_first && t->ndim == 2))
        return mv;
    float *own = malloc(sizeof(float) * (size_t)(rows * K)); /* back to [in = K][out = rows] */
    for (int64_t k = 0; own && k < K; k++)
        for (int64_t r = 0; r < rows; r++)
            own[k * rows + r] = mv[r * K + k];
    free(mv);
    return own;
}

/* The C reference getter: original weights, except tensor `only` in format `fmt`. */
typedef struct swap_getter {
    const wg_model *m;
    size_t only;
    const wg_qformat *fmt;
    bool search;
    int threads;
} swap_getter;

static float *swap_get(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    swap_getter *g = ctx;
    const wg_tensor *t = wg_model_find(g->m, name);
    if (!t)
        return NULL;
    if ((size_t)(t - g->m->tensors) == g->only)
        return matrix_values(t, g->fmt, g->search, g->threads, rows, K);
    wg_tensor_matrix(t, rows, K);
    float *out = malloc(sizeof(float) * (size_t)(*rows * *K > 0 ? *rows * *K : 1));
    if (out && !wg_read_rows(t, 0, *rows, out)) {
        free(out);
        return NULL;
    }
    return out;
}

int wg_measure_program(const wg_prog *p, const wg_model *m, const int32_t *tokens, int n,
                       const float *ref_logits, bool search, int threads, wg_plan_measure *mv,
                       size_t nmv, wg_error *err)
{
    int V = (int)wg_prog_out_width(p);
    float *lb = malloc(sizeof(float) * (size_t)n * (size_t)V);
    int rc = lb ? 0 : wg_fail(err, WG_EIO, NULL, "out of memory");
    wg_pinputs in = {.n = n, .input_ids = tokens};
    for (size_t k = 0; !rc && k < nmv; k++) {
        swap_getter g = {m, mv[k].tensor, &mv[k].fmt, search, threads};
        if (!(rc = wg_prog_run(p, swap_get, &g, &in, lb, threads, err))) {
            wg_lm_compare c;
            wg_lm_compare_logits(ref_logits, lb, tokens, n, V, &c);
            mv[k].cost = c.kl;
        }
    }
    free(lb);
    return rc;
}

json_t *wg_measure_json(const wg_model *m, const wg_plan_measure *mv, size_t n, const char *metric,
                        const wg_plan_scores *s)
{
    json_t *costs = json_array();
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(mv[k].cost))
            continue;
        char fn[32];
        wg_qformat_name(&mv[k].fmt, fn, sizeof fn);
        json_t *o = json_pack("{s:s, s:s, s:f}", "tensor", m->tensors[mv[k].tensor].name,
                              "format", fn, "cost", mv[k].cost);
        const double *proxy;
        const wg_plan_cands *c = s ? wg_plan_candidates(s, mv[k].tensor, &proxy) : NULL;
        for (int i = 0; c && i < c->n; i++)
            if (wg_qformat_eq(&c->fmt[i], &mv[k].fmt))
                json_object_set_new(o, "proxy", json_real(proxy[i]));
        json_array_append_new(costs, o);
    }
    return json_pack("{s:s, s:s, s:o}", "model", m->path, "metric", metric, "costs", costs);
}

int wg_measure_from_json(const wg_model *m, json_t *j, wg_plan_measure **mv, size_t *n,
                         char *metric, size_t metric_n, wg_error *err)
{
    json_t *costs = json_object_get(j, "costs");
    const char *mt = json_string_value(json_object_get(j, "metric"));
    *mv = NULL;
    *n = 0;
    if (!json_is_array(costs) || !mt)
        return wg_fail(err, WG_EINPUT, NULL, "measured costs: expected {\"metric\", \"costs\": [...]}");
    snprintf(metric, metric_n, "%s", mt);
    *mv = calloc(json_array_size(costs) + 1, sizeof **mv);
    if (!*mv)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    size_t i;
    json_t *c;
    json_array_foreach(costs, i, c) {
        const char *tn = json_string_value(json_object_get(c, "tensor"));
        const char *fn = json_string_value(json_object_get(c, "format"));
        json_t *cv = json_object_get(c, "cost");
        const wg_tensor *t = tn ? wg_model_find(m, tn) : NULL;
        wg_qformat f;
        if (!fn || !json_is_number(cv) || !wg_qformat_parse(fn, &f))
            return wg_fail(err, WG_EINPUT, NULL, "measured costs: entry %zu is not {tensor, "
                           "format, cost}", i);
        if (t)
            (*mv)[(*n)++] = (wg_plan_measure){(size_t)(t - m->tensors), f, json_number_value(cv)};
    }
    return 0;
}
