/* pack/layout.c — where every tensor goes: units (component + layer), shards capped in size
 * and never shared between units, 256-byte aligned planes, tensors split on row (and so group)
 * boundaries when they exceed the cap. Pure arithmetic over the plan: no bytes are moved here. */
#include "pack_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t align_up(uint64_t x) { return (x + WG_ALIGN - 1) / WG_ALIGN * WG_ALIGN; }

/* Per-row byte counts of each plane of a planned tensor. */
void wg_row_bytes(const wg_tensor *t, const wg_plan_entry *e, uint64_t rb[3], int64_t *rows)
{
    rb[0] = rb[1] = rb[2] = 0;
    if (e->fmt.kind == WG_Q_RAW) { /* kept bytes, split (if ever) at byte granularity */
        *rows = (int64_t)t->nbytes;
        rb[0] = 1;
        return;
    }
    *rows = e->rows;
    if (e->fmt.kind == WG_Q_INT) {
        wg_qlayout l;
        wg_qformat_layout(&e->fmt, 1, e->K, &l);
        rb[0] = l.data_bytes;
        rb[1] = l.scale_bytes;
        rb[2] = l.zero_bytes;
    } else
        rb[0] = (uint64_t)e->K * (e->fmt.kind == WG_Q_F32 ? 4 : 2);
}

static uint64_t part_span(uint64_t start, const uint64_t rb[3], int64_t n, uint64_t off[3])
{
    uint64_t cur = start;
    for (int p = 0; p < 3; p++) {
        if (!rb[p]) {
            off[p] = 0;
            continue;
        }
        off[p] = align_up(cur);
        cur = off[p] + rb[p] * (uint64_t)n;
    }
    return cur;
}

/* Largest n <= want with part_span(start, n) <= cap (0 if none). */
static int64_t rows_fitting(uint64_t start, const uint64_t rb[3], int64_t want, uint64_t cap)
{
    uint64_t off[3], per = rb[0] + rb[1] + rb[2];
    if (part_span(start, rb, want, off) <= cap)
        return want;
    if (!per || start + 3 * WG_ALIGN >= cap)
        return 0;
    int64_t n = (int64_t)((cap - start - 3 * WG_ALIGN) / per);
    n = n > want ? want : n;
    while (n < want && part_span(start, rb, n + 1, off) <= cap)
        n++;
    while (n > 0 && part_span(start, rb, n, off) > cap)
        n--;
    return n;
}

static wg_part_t *new_part(wg_layout_t *L, size_t *cap)
{
    if (L->nparts == *cap) {
        size_t nc = *cap * 2;
        wg_part_t *np = realloc(L->parts, nc * sizeof *np);
        if (!np)
            return NULL;
        L->parts = np;
        *cap = nc;
    }
    wg_part_t *p = &L->parts[L->nparts++];
    memset(p, 0, sizeof *p);
    return p;
}

static wg_shard_t *new_shard(wg_layout_t *L, size_t *cap, const char *comp, int layer, int idx)
{
    if (L->nshards == *cap) {
        size_t nc = *cap * 2;
        wg_shard_t *ns = realloc(L->shards, nc * sizeof *ns);
        if (!ns)
            return NULL;
        L->shards = ns;
        *cap = nc;
    }
    wg_shard_t *s = &L->shards[L->nshards++];
    memset(s, 0, sizeof *s);
    s->component = comp;
    s->layer = layer;
    s->unit_index = idx;
    return s;
}

static int unit_cmp_key(const wg_model *m, size_t a, size_t b, const char **order, size_t norder)
{
    const wg_tensor *x = &m->tensors[a], *y = &m->tensors[b];
    size_t cx = 0, cy = 0;
    for (size_t i = 0; i < norder; i++) {
        if (!strcmp(order[i], x->component))
            cx = i;
        if (!strcmp(order[i], y->component))
            cy = i;
    }
    if (cx != cy)
        return cx < cy ? -1 : 1;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    return a < b ? -1 : a > b;
}

static const wg_model *g_m;
static const char **g_order;
static size_t g_norder;
static int cmp_tensor_idx(const void *a, const void *b)
{
    return unit_cmp_key(g_m, *(const size_t *)a, *(const size_t *)b, g_order, g_norder);
}

int wg_layout(const wg_model *m, const wg_plan_entry *plan, uint64_t cap, wg_layout_t *L,
              wg_error *err)
{
    memset(L, 0, sizeof *L);
    size_t n = m->n_tensors;
    cap &= ~(uint64_t)3; /* shards end on whole u32 words (below) and must stay within the cap */
    /* components in order of first appearance; tensors by (component, layer, table order) */
    L->comps = calloc(n + 1, sizeof *L->comps);
    L->order = calloc(n + 1, sizeof *L->order);
    L->parts = calloc(4 * n + 16, sizeof *L->parts);
    L->shards = calloc(4 * n + 16, sizeof *L->shards);
    size_t part_cap = 4 * n + 16, shard_cap = 4 * n + 16;
    if (!L->comps || !L->order || !L->parts || !L->shards)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < L->ncomps && strcmp(L->comps[k], m->tensors[i].component))
            k++;
        if (k == L->ncomps)
            L->comps[L->ncomps++] = m->tensors[i].component;
        L->order[i] = i;
    }
    g_m = m;
    g_order = L->comps;
    g_norder = L->ncomps;
    qsort(L->order, n, sizeof *L->order, cmp_tensor_idx);
    const char *ucomp = NULL;
    int ulayer = -2;
    for (size_t oi = 0; oi < n; oi++) {
        size_t ti = L->order[oi];
        const wg_tensor *t = &m->tensors[ti];
        uint64_t rb[3];
        int64_t rows;
        wg_row_bytes(t, &plan[ti], rb, &rows);
        bool new_unit = !ucomp || strcmp(ucomp, t->component) || ulayer != t->layer;
        if (new_unit) {
            ucomp = t->component;
            ulayer = t->layer;
            if (!new_shard(L, &shard_cap, t->component, t->layer, 0))
                return wg_fail(err, WG_EIO, NULL, "out of memory");
        }
        int64_t r0 = 0;
        if (rows == 0) {
            /* empty tensor: one zero-length part, so the manifest still lists it */
            wg_part_t *p = new_part(L, &part_cap);
            if (!p)
                return wg_fail(err, WG_EIO, NULL, "out of memory");
            p->tensor = ti;
            p->shard = L->nshards - 1;
            continue;
        }
        while (r0 < rows) {
            wg_shard_t *s = &L->shards[L->nshards - 1];
            int64_t fit = rows_fitting(s->size, rb, rows - r0, cap);
            if (fit < rows - r0 && s->size > 0) {
                /* a fresh shard would hold more of it: start one (same unit) */
                int64_t fresh = rows_fitting(0, rb, rows - r0, cap);
                if (fresh > fit) {
                    if (!new_shard(L, &shard_cap, s->component, s->layer, s->unit_index + 1))
                        return wg_fail(err, WG_EIO, NULL, "out of memory");
                    continue;
                }
            }
            if (fit == 0)
                return wg_fail(err, WG_EUSAGE, NULL, "--shard-size %llu is smaller than one row "
                               "of tensor '%s' (%llu bytes)", (unsigned long long)cap, t->name,
                               (unsigned long long)(rb[0] + rb[1] + rb[2] + 3 * WG_ALIGN));
            wg_part_t *p = new_part(L, &part_cap);
            if (!p)
                return wg_fail(err, WG_EIO, NULL, "out of memory");
            p->tensor = ti;
            p->shard = L->nshards - 1;
            p->row0 = r0;
            p->nrows = fit;
            s->size = part_span(s->size, rb, fit, p->off);
            for (int q = 0; q < 3; q++)
                p->bytes[q] = rb[q] * (uint64_t)fit;
            r0 += fit;
            if (r0 < rows) {
                const wg_shard_t *prev = &L->shards[L->nshards - 1];
                if (!new_shard(L, &shard_cap, prev->component, prev->layer, prev->unit_index + 1))
                    return wg_fail(err, WG_EIO, NULL, "out of memory");
            }
        }
    }
    for (size_t i = 0; i < L->nshards; i++) { /* whole u32 words: writeBuffer/mapping need it */
        L->shards[i].size = (L->shards[i].size + 3) / 4 * 4;
        L->largest = L->shards[i].size > L->largest ? L->shards[i].size : L->largest;
    }
    return 0;
}

void wg_layout_free(wg_layout_t *L)
{
    free(L->comps);
    free(L->order);
    free(L->parts);
    free(L->shards);
    memset(L, 0, sizeof *L);
}
