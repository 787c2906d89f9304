/* quant/planner.c — sensitivity-based mixed precision under a byte budget.
 *
 * For every tensor the preset made integer (and no override pinned), each candidate format is
 * tried on the tensor's rows (all of them, or an evenly spaced sample of 128 for larger tensors)
 * and scored by
 *     cost = role prior x importance-weighted squared error / sum x^2
 * i.e. the relative noise the tensor injects into its output (1/SQNR), with column weights
 * from calibration when given (otherwise 1). The candidates and what each costs in bytes come
 * from the plan's target (wg_plan_target): for a bundle, q2 q3 q4 q5 q6 q8 at the run's group
 * size and symmetry, and fp16; other targets (ONNX) list the formats they store compactly and
 * their stored sizes. Costs measured end to end (wg_plan_use_measured) may replace the proxy.
 * Candidates are reduced to their lower convex hull in (bytes, cost); hull segments of all
 * tensors are sorted by cost saved per byte and taken in that order while they fit the budget
 * (a strict prefix, so a larger budget takes a superset of segments and never gives more total
 * cost), then one more pass takes any later segment that still fits. Deterministic: ties break
 * by tensor index. */
#include "quant.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAXC WG_PLAN_MAX_CAND
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

bool wg_qformat_eq(const wg_qformat *a, const wg_qformat *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind != WG_Q_INT)
        return true;
    return a->bits == b->bits && a->group == b->group && a->sym == b->sym &&
           a->scale_f32 == b->scale_f32;
}

/* The bundle's candidates: every integer width at the run's group and symmetry, and fp16. */
static void bundle_cands(const wg_model *m, size_t i, const wg_plan_entry *e,
                         const wg_plan_opts *o, wg_plan_cands *out)
{
    static const int bits[] = {2, 3, 4, 5, 6, 8};
    out->n = 0;
    for (int c = 0; c <= 6; c++) {
        wg_plan_entry x = *e;
        memset(&x.fmt, 0, sizeof x.fmt);
        if (c < 6) {
            x.fmt = (wg_qformat){.kind = WG_Q_INT, .bits = bits[c], .group = o->group,
                                 .sym = o->sym != 0, .scale_f32 = o->scale_f32};
        } else
            x.fmt.kind = WG_Q_F16;
        wg_plan_entry_size(&m->tensors[i], &x);
        out->fmt[out->n] = x.fmt;
        out->bytes[out->n++] = x.bytes;
    }
}

static uint64_t target_bytes(const wg_plan_target *tg, const wg_model *m, size_t i,
                             const wg_plan_entry *e)
{
    return tg && tg->bytes ? tg->bytes(tg->ctx, m, i, e) : e->bytes;
}

struct wg_plan_scores {
    size_t n;
    bool *live;
    wg_plan_cands *c;          /* candidates, sorted by bytes */
    double (*proxy)[MAXC];
    double (*cost)[MAXC];      /* what allocation uses: proxy, or measured / interpolated */
    signed char (*src)[MAXC];  /* 0 proxy, 1 measured, 2 interpolated, 3 excluded */
    int (*hull)[MAXC + 1];     /* hull[i][0..h-1] candidate indices, hull[i][MAXC] = h */
    uint64_t fixed;
    bool measured;
};

typedef struct score_job {
    const wg_model *m;
    const wg_plan_entry *plan;
    const float *const *importance;
    wg_plan_scores *s;
    atomic_llong fail; /* 1 + index of a failed tensor */
    atomic_bool nonfinite;
} score_job;

/* Cost of one candidate on a (sampled) tensor. */
static int score(const wg_qformat *f, const float *x, int64_t n, int64_t K, const float *imp,
                 double prior, double *cost)
{
    wg_qmetrics m = {0};
    if (f->kind != WG_Q_INT) {
        uint8_t *tmp = malloc((size_t)(n * K) * 4);
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

static void score_tensor(void *ctx, int64_t ti, int tid)
{
    (void)tid;
    score_job *j = ctx;
    size_t i = (size_t)ti;
    if (!j->s->live[i] || atomic_load(&j->fail))
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
    const wg_plan_cands *c = &j->s->c[i];
    for (int k = 0; k < c->n; k++) {
        int s = score(&c->fmt[k], x, ns, K, j->importance ? j->importance[i] : NULL,
                      wg_role_prior(t->role), &j->s->proxy[i][k]);
        if (s) {
            if (s > 0)
                atomic_store(&j->nonfinite, true);
            atomic_store(&j->fail, (long long)i + 1);
            break;
        }
        j->s->cost[i][k] = j->s->proxy[i][k];
    }
    free(x);
}

void wg_plan_scores_free(wg_plan_scores *s)
{
    if (!s)
        return;
    free(s->live);
    free(s->c);
    free(s->proxy);
    free(s->cost);
    free(s->src);
    free(s->hull);
    free(s);
}

/* Sort a tensor's candidates by bytes (then by list order): the hull walks them in order. */
static void sort_cands(wg_plan_cands *c)
{
    for (int a = 1; a < c->n; a++)
        for (int b = a; b > 0 && c->bytes[b] < c->bytes[b - 1]; b--) {
            wg_qformat f = c->fmt[b];
            uint64_t y = c->bytes[b];
            c->fmt[b] = c->fmt[b - 1];
            c->bytes[b] = c->bytes[b - 1];
            c->fmt[b - 1] = f;
            c->bytes[b - 1] = y;
        }
}

/* Lower convex hull of one tensor's (bytes, cost) points; excluded candidates are skipped. */
static void build_hull(const wg_plan_scores *s, size_t i)
{
    const double *cost = s->cost[i];
    const uint64_t *bytes = s->c[i].bytes;
    int *hull = s->hull[i], h = 0;
    for (int c = 0; c < s->c[i].n; c++) {
        if (s->src[i][c] == 3 || (h && cost[c] >= cost[hull[h - 1]]))
            continue; /* excluded, or more bytes for no less error: never worth it */
        while (h && bytes[c] == bytes[hull[h - 1]])
            h--; /* same bytes, less error */
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
    hull[MAXC] = h;
}

static int alloc_scores(wg_plan_scores **out, size_t n)
{
    size_t z = n ? n : 1;
    wg_plan_scores *s = calloc(1, sizeof *s);
    *out = s;
    if (!s || !(s->live = calloc(z, sizeof *s->live)) || !(s->c = calloc(z, sizeof *s->c)) ||
        !(s->proxy = calloc(z, sizeof *s->proxy)) || !(s->cost = calloc(z, sizeof *s->cost)) ||
        !(s->src = calloc(z, sizeof *s->src)) || !(s->hull = calloc(z, sizeof *s->hull)))
        return -1;
    s->n = n;
    return 0;
}

int wg_plan_score(const wg_model *m, const wg_plan_opts *o, const wg_plan_entry *plan,
                  const bool *pinned, const float *const *importance, int threads,
                  wg_plan_scores **out, wg_error *err)
{
    size_t n = m->n_tensors;
    wg_plan_scores *s;
    *out = NULL;
    if (alloc_scores(&s, n)) {
        wg_plan_scores_free(s);
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    }
    const wg_plan_target *tg = o->target;
    for (size_t i = 0; i < n; i++) {
        s->live[i] = plan[i].fmt.kind == WG_Q_INT && !(pinned && pinned[i]);
        if (!s->live[i]) {
            s->fixed += target_bytes(tg, m, i, &plan[i]);
            continue;
        }
        if (tg && tg->cands)
            tg->cands(tg->ctx, m, i, &plan[i], o, &s->c[i]);
        else
            bundle_cands(m, i, &plan[i], o, &s->c[i]);
        sort_cands(&s->c[i]);
        if (!s->c[i].n) { /* the target offers nothing: it stays as planned */
            s->live[i] = false;
            s->fixed += target_bytes(tg, m, i, &plan[i]);
        }
    }
    /* score every candidate of every live tensor, tensors spread over the threads */
    score_job sj = {.m = m, .plan = plan, .importance = importance, .s = s};
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
    for (size_t i = 0; i < n; i++)
        if (s->live[i])
            build_hull(s, i);
    *out = s;
    return 0;
}

typedef struct seg {
    size_t t;          /* tensor index */
    int from, to;      /* positions on the hull */
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

#define HB(s, i, k) ((s)->c[i].bytes[(s)->hull[i][k]])

/* Take segments in order: a strict prefix while they fit, then any later one that fits. */
static uint64_t take_segments(const wg_plan_scores *s, seg *segs, size_t nseg, int *at,
                              uint64_t total, uint64_t budget)
{
    size_t k = 0;
    for (; k < nseg; k++) {
        const seg *g = &segs[k];
        uint64_t add = HB(s, g->t, g->to) - HB(s, g->t, g->from);
        if (total + add > budget)
            break;
        total += add;
        at[g->t] = g->to;
    }
    for (; k < nseg; k++) {
        const seg *g = &segs[k];
        uint64_t add = HB(s, g->t, g->to) - HB(s, g->t, g->from);
        if (at[g->t] != g->from || total + add > budget)
            continue;
        total += add;
        at[g->t] = g->to;
    }
    return total;
}

int wg_plan_allocate(const wg_plan_scores *s, const wg_model *m, const wg_plan_opts *o,
                     wg_plan_entry *plan, uint64_t budget, wg_plan_stats *st, wg_error *err)
{
    (void)o;
    size_t n = s->n, nseg = 0;
    int *at = calloc(n ? n : 1, sizeof *at);
    seg *segs = calloc(n * MAXC + 1, sizeof *segs);
    int rc = 0;
    if (!at || !segs) {
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
        goto out;
    }
    uint64_t total = s->fixed;
    for (size_t i = 0; i < n; i++) {
        if (!s->live[i])
            continue;
        total += HB(s, i, 0);
        for (int k = 0; k + 1 < s->hull[i][MAXC]; k++) {
            int a = s->hull[i][k], b = s->hull[i][k + 1];
            segs[nseg++] = (seg){i, k, k + 1, (s->cost[i][a] - s->cost[i][b]) /
                                                  (double)(s->c[i].bytes[b] - s->c[i].bytes[a])};
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
    total = take_segments(s, segs, nseg, at, total, budget);
    for (size_t i = 0; i < n; i++) {
        if (!s->live[i])
            continue;
        int c = s->hull[i][at[i]];
        plan[i].fmt = s->c[i].fmt[c];
        plan[i].why = s->measured ? "planner (measured)" : "planner";
        wg_plan_entry_size(&m->tensors[i], &plan[i]);
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

/* ------------------------------------------------------------------ measured costs */

const wg_plan_cands *wg_plan_candidates(const wg_plan_scores *s, size_t i,
                                        const double **proxy)
{
    if (i >= s->n || !s->live[i])
        return NULL;
    if (proxy)
        *proxy = s->proxy[i];
    return &s->c[i];
}

/* Ranks (1-based, ties averaged) of v[0..n). */
static void ranks(const double *v, size_t n, double *r)
{
    for (size_t i = 0; i < n; i++) {
        double less = 0, same = 0;
        for (size_t j = 0; j < n; j++)
            less += v[j] < v[i], same += v[j] == v[i];
        r[i] = less + (same + 1) / 2;
    }
}

double wg_spearman(const double *a, const double *b, size_t n)
{
    if (n < 2)
        return NAN;
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    double res = NAN;
    if (ra && rb) {
        ranks(a, n, ra);
        ranks(b, n, rb);
        double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
        for (size_t i = 0; i < n; i++)
            ma += ra[i] / (double)n, mb += rb[i] / (double)n;
        for (size_t i = 0; i < n; i++) {
            sab += (ra[i] - ma) * (rb[i] - mb);
            saa += (ra[i] - ma) * (ra[i] - ma);
            sbb += (rb[i] - mb) * (rb[i] - mb);
        }
        res = saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
    }
    free(ra);
    free(rb);
    return res;
}

static int find_cand(const wg_plan_cands *c, const wg_qformat *f)
{
    for (int k = 0; k < c->n; k++)
        if (wg_qformat_eq(&c->fmt[k], f))
            return k;
    return -1;
}

/* Per tensor: log of the measured/proxy ratio averaged over its measured candidates. */
static bool tensor_ratio(const wg_plan_scores *s, size_t i, double *lr)
{
    double sum = 0;
    int n = 0;
    for (int k = 0; k < s->c[i].n; k++)
        if (s->src[i][k] == 1 && s->proxy[i][k] > 0) {
            sum += log((s->cost[i][k] + 1e-15) / s->proxy[i][k]);
            n++;
        }
    if (n)
        *lr = sum / n;
    return n > 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Unmeasured candidates: the proxy scaled by the tensor's own ratio, or by the median ratio of
 * the measured tensors when it has none. */
static void interpolate(wg_plan_scores *s)
{
    double *lrs = malloc((s->n + 1) * sizeof *lrs), med = 0;
    size_t nl = 0;
    for (size_t i = 0; lrs && i < s->n; i++)
        if (s->live[i] && tensor_ratio(s, i, &lrs[nl]))
            nl++;
    if (nl) {
        qsort(lrs, nl, sizeof *lrs, cmp_double);
        med = nl % 2 ? lrs[nl / 2] : (lrs[nl / 2 - 1] + lrs[nl / 2]) / 2;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (!s->live[i])
            continue;
        double lr = med;
        tensor_ratio(s, i, &lr);
        for (int k = 0; k < s->c[i].n; k++)
            if (s->src[i][k] == 0) {
                s->cost[i][k] = s->proxy[i][k] * exp(lr);
                s->src[i][k] = 2;
            }
    }
    free(lrs);
}

int wg_plan_use_measured(wg_plan_scores *s, const wg_plan_measure *mv, size_t n,
                         double max_damage, wg_plan_measured_stats *st)
{
    memset(st, 0, sizeof *st);
    double *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        const wg_plan_measure *x = &mv[k];
        int c = x->tensor < s->n && s->live[x->tensor] ? find_cand(&s->c[x->tensor], &x->fmt) : -1;
        if (c < 0 || !isfinite(x->cost))
            continue;
        s->cost[x->tensor][c] = x->cost < 0 ? 0 : x->cost;
        s->src[x->tensor][c] = 1;
        a[st->measured] = s->proxy[x->tensor][c];
        b[st->measured++] = s->cost[x->tensor][c];
    }
    st->spearman = wg_spearman(a, b, (size_t)st->measured);
    free(a);
    free(b);
    if (!st->measured)
        return 0;
    s->measured = true;
    interpolate(s);
    for (size_t i = 0; i < s->n; i++) {
        if (!s->live[i])
            continue;
        int top = s->c[i].n - 1; /* the widest candidate always stays possible */
        for (int k = 0; k < s->c[i].n; k++) {
            st->interpolated += s->src[i][k] == 2;
            if (max_damage > 0 && k != top && s->cost[i][k] > max_damage) {
                s->src[i][k] = 3;
                st->excluded++;
            }
        }
        build_hull(s, i);
    }
    return 0;
}

int wg_plan_cost_source(const wg_plan_scores *s, size_t i, const wg_qformat *f)
{
    int c = i < s->n && s->live[i] ? find_cand(&s->c[i], f) : -1;
    return c < 0 ? -1 : s->src[i][c];
}
