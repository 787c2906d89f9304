/* quant/planner.c — sensitivity-based mixed precision under a byte budget.
 *
 * For every tensor the preset made integer (and no override pinned), each candidate format
 * (q2 q3 q4 q5 q6 q8 at the run's group size and symmetry, and fp16) is tried on the tensor's
 * rows (all of them, or an evenly spaced sample of 128 for larger tensors) and scored by
 *     cost = role prior x importance-weighted squared error / sum x^2
 * i.e. the relative noise the tensor injects into its output (1/SQNR), with column weights
 * from calibration when given (otherwise 1). Candidates are reduced to their lower convex hull
 * in (bytes, cost); hull segments of all tensors are sorted by cost saved per byte and taken
 * in that order while they fit the budget (a strict prefix, so a larger budget takes a superset
 * of segments and never gives more total cost), then one more pass takes any later segment
 * that still fits. Deterministic: ties break by tensor index. */
#include "quant.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const int cand_bits[] = {2, 3, 4, 5, 6, 8, 0}; /* 0 = fp16 */
#define NCAND 7
#define SAMPLE_ROWS 128

double wg_role_prior(wg_role r)
{
    switch (r) {
    case WG_ROLE_HEAD: return 2.0;
    case WG_ROLE_ATTN_V: case WG_ROLE_FFN_DOWN: return 1.5;
    case WG_ROLE_EMBEDDING: case WG_ROLE_ATTN_OUT: return 1.0;
    case WG_ROLE_ATTN_Q: case WG_ROLE_ATTN_K: return 0.75;
    default: return 1.0;
    }
}

typedef struct score_job {
    const wg_model *m;
    const wg_plan_opts *o;
    const wg_plan_entry *plan;
    const bool *live;
    const float *const *importance;
    double (*cost)[NCAND];
    uint64_t (*bytes)[NCAND];
    atomic_llong fail; /* 1 + index of a failed tensor */
    atomic_bool nonfinite;
} score_job;

static void fill_candidate(wg_qformat *f, int c, const wg_plan_opts *o)
{
    memset(f, 0, sizeof *f);
    if (cand_bits[c]) {
        f->kind = WG_Q_INT;
        f->bits = cand_bits[c];
        f->group = o->group;
        f->sym = o->sym != 0;
        f->scale_f32 = o->scale_f32;
    } else
        f->kind = WG_Q_F16;
}

static int score(const wg_qformat *f, const float *x, int64_t n, int64_t K, const float *imp,
                 double prior, double *cost);

static void score_tensor(void *ctx, int64_t ti, int tid)
{
    (void)tid;
    score_job *j = ctx;
    size_t i = (size_t)ti;
    if (!j->live[i] || atomic_load(&j->fail))
        return;
    const wg_tensor *t = &j->m->tensors[i];
    int64_t rows = j->plan[i].rows, K = j->plan[i].K;
    int64_t ns = rows > SAMPLE_ROWS ? SAMPLE_ROWS : rows;
    float *x = malloc(sizeof(float) * (size_t)(ns * K));
    if (!x) {
        atomic_store(&j->fail, (long long)i + 1);
        return;
    }
    for (int64_t r = 0; r < ns; r++) /* evenly spaced rows, deterministic */
        wg_read_rows(t, ns == rows ? r : r * rows / ns, 1, x + r * K);
    wg_tensor_release(j->m, t);
    for (int c = 0; c < NCAND; c++) {
        wg_plan_entry e = j->plan[i];
        fill_candidate(&e.fmt, c, j->o);
        wg_plan_entry_size(t, &e);
        j->bytes[i][c] = e.bytes;
        int s = score(&e.fmt, x, ns, K, j->importance ? j->importance[i] : NULL,
                      wg_role_prior(t->role), &j->cost[i][c]);
        if (s) {
            if (s > 0)
                atomic_store(&j->nonfinite, true);
            atomic_store(&j->fail, (long long)i + 1);
            break;
        }
    }
    free(x);
}

typedef struct seg {
    size_t t;          /* tensor index */
    int from, to;      /* candidate indices on the hull */
    double gain;       /* cost saved per byte */
} seg;

static int cmp_seg(const void *a, const void *b)
{
    const seg *x = a, *y = b;
    if (x->gain != y->gain)
        return x->gain > y->gain ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->from - y->from;
}

/* Cost of one candidate on a (sampled) tensor. */
static int score(const wg_qformat *f, const float *x, int64_t n, int64_t K, const float *imp,
                 double prior, double *cost)
{
    wg_qmetrics m = {0};
    if (f->kind == WG_Q_F16) {
        uint8_t *tmp = malloc((size_t)(n * K) * 2);
        if (!tmp)
            return -1;
        wg_cast_rows(f, x, (uint64_t)(n * K), tmp, &m);
        free(tmp);
    } else {
        wg_qlayout l;
        if (!wg_qformat_layout(f, n, K, &l))
            return -1;
        uint8_t *tmp = calloc(1, l.total_bytes ? l.total_bytes : 1);
        if (!tmp)
            return -1;
        wg_qopts o = {.search = true, .importance = imp};
        int rc = wg_quantize_rows(f, &l, x, 0, n, &o, tmp, &m);
        free(tmp);
        if (rc)
            return rc;
    }
    double wssx = 0;
    for (int64_t r = 0; r < n; r++)
        for (int64_t k = 0; k < K; k++)
            wssx += (double)(imp ? imp[k] : 1.0f) * x[r * K + k] * x[r * K + k];
    *cost = wssx > 0 ? prior * m.wsse / wssx : 0;
    return 0;
}

struct wg_plan_scores {
    size_t n;
    bool *live;
    double (*cost)[NCAND];
    uint64_t (*bytes)[NCAND];
    int (*hull)[NCAND + 1]; /* hull[i][0..h-1] candidate indices, hull[i][NCAND] = h */
    uint64_t fixed;
};

void wg_plan_scores_free(wg_plan_scores *s)
{
    if (!s)
        return;
    free(s->live);
    free(s->cost);
    free(s->bytes);
    free(s->hull);
    free(s);
}

int wg_plan_score(const wg_model *m, const wg_plan_opts *o, const wg_plan_entry *plan,
                  const bool *pinned, const float *const *importance, int threads,
                  wg_plan_scores **out, wg_error *err)
{
    size_t n = m->n_tensors, z = n ? n : 1;
    wg_plan_scores *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s || !(s->live = calloc(z, sizeof *s->live)) || !(s->cost = calloc(z, sizeof *s->cost)) ||
        !(s->bytes = calloc(z, sizeof *s->bytes)) || !(s->hull = calloc(z, sizeof *s->hull))) {
        wg_plan_scores_free(s);
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    }
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        s->live[i] = plan[i].fmt.kind == WG_Q_INT && !(pinned && pinned[i]);
        if (!s->live[i])
            s->fixed += plan[i].bytes;
    }
    /* score every candidate of every live tensor, tensors spread over the threads */
    score_job sj = {.m = m, .o = o, .plan = plan, .live = s->live, .importance = importance,
                    .cost = s->cost, .bytes = s->bytes};
    atomic_init(&sj.fail, 0);
    atomic_init(&sj.nonfinite, false);
    wg_parallel_for(threads, (int64_t)n, score_tensor, &sj);
    if (atomic_load(&sj.fail)) {
        size_t bad = (size_t)atomic_load(&sj.fail) - 1;
        int rc = atomic_load(&sj.nonfinite)
                     ? wg_fail(err, WG_EINPUT, NULL, "tensor '%s' holds NaN or Inf values: keep "
                               "it with --set '%s=fp16'", m->tensors[bad].name, m->tensors[bad].name)
                     : wg_fail(err, WG_EIO, NULL, "out of memory");
        wg_plan_scores_free(s);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s->live[i])
            continue;
        /* lower convex hull over candidates (bytes strictly increase along the list) */
        double *cost = s->cost[i];
        uint64_t *bytes = s->bytes[i];
        int *hull = s->hull[i], h = 0;
        for (int c = 0; c < NCAND; c++) {
            if (h && cost[c] >= cost[hull[h - 1]])
                continue; /* more bytes, no less error: never worth it */
            while (h >= 2) {
                int a = hull[h - 2], b = hull[h - 1];
                double g1 = (cost[a] - cost[b]) / (double)(bytes[b] - bytes[a]);
                double g2 = (cost[b] - cost[c]) / (double)(bytes[c] - bytes[b]);
                if (g2 >= g1)
                    h--; /* b lies on or above the chord a-c */
                else
                    break;
            }
            hull[h++] = c;
        }
        hull[NCAND] = h;
    }
    *out = s;
    return 0;
}

int wg_plan_allocate(const wg_plan_scores *s, const wg_model *m, const wg_plan_opts *o,
                     wg_plan_entry *plan, uint64_t budget, wg_plan_stats *st, wg_error *err)
{
    size_t n = s->n, nseg = 0;
    int *at = calloc(n ? n : 1, sizeof *at);
    seg *segs = calloc(n * NCAND + 1, sizeof *segs);
    int rc = 0;
    if (!at || !segs) {
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
        goto out;
    }
    uint64_t total = s->fixed;
    for (size_t i = 0; i < n; i++) {
        if (!s->live[i])
            continue;
        total += s->bytes[i][s->hull[i][0]];
        for (int k = 0; k + 1 < s->hull[i][NCAND]; k++) {
            int a = s->hull[i][k], b = s->hull[i][k + 1];
            segs[nseg++] = (seg){i, k, k + 1, (s->cost[i][a] - s->cost[i][b]) /
                                                  (double)(s->bytes[i][b] - s->bytes[i][a])};
        }
    }
    memset(st, 0, sizeof *st);
    st->min_bytes = total;
    st->budget = budget;
    if (total > budget) {
        rc = wg_fail(err, WG_EBUDGET, m->path, "budget of %llu bytes is below the %llu bytes "
                     "the smallest formats need", (unsigned long long)budget,
                     (unsigned long long)total);
        goto out;
    }
    qsort(segs, nseg, sizeof *segs, cmp_seg);
    size_t k = 0;
    for (; k < nseg; k++) { /* strict prefix */
        const seg *g = &segs[k];
        uint64_t add = s->bytes[g->t][s->hull[g->t][g->to]] - s->bytes[g->t][s->hull[g->t][g->from]];
        if (total + add > budget)
            break;
        total += add;
        at[g->t] = g->to;
    }
    for (; k < nseg; k++) { /* fill what is left */
        const seg *g = &segs[k];
        uint64_t add = s->bytes[g->t][s->hull[g->t][g->to]] - s->bytes[g->t][s->hull[g->t][g->from]];
        if (at[g->t] != g->from || total + add > budget)
            continue;
        total += add;
        at[g->t] = g->to;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s->live[i])
            continue;
        int c = s->hull[i][at[i]];
        fill_candidate(&plan[i].fmt, c, o);
        plan[i].why = "planner";
        plan[i].bytes = s->bytes[i][c];
        plan[i].cost = s->cost[i][c];
        st->cost += s->cost[i][c];
    }
    st->bytes = total;
out:
    free(at);
    free(segs);
    return rc;
}

int wg_plan_budget(const wg_model *m, const wg_plan_opts *o, wg_plan_entry *plan,
                   const bool *pinned, uint64_t budget, const float *const *importance,
                   int threads, wg_plan_stats *st, wg_error *err)
{
    wg_plan_scores *s;
    int rc = wg_plan_score(m, o, plan, pinned, importance, threads, &s, err);
    if (!rc)
        rc = wg_plan_allocate(s, m, o, plan, budget, st, err);
    wg_plan_scores_free(s);
    return rc;
}
