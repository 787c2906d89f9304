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

/* sort key of a tensor: (rank of its component in order of first appearance, layer, index) */
typedef struct unit_key {
    size_t comp;
    int layer;
    size_t tensor;
} unit_key;

static int cmp_unit_key(const void *a, const void *b)
{
    const unit_key *x = a, *y = b;
    if (x->comp != y->comp)
        return x->comp < y->comp ? -1 : 1;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    return x->tensor < y->tensor ? -1 : x->tensor > y->tensor;
}

/* components in order of first appearance (through a name index: O(n) however many there
 * are); tensors by (component, layer, table order) */
static int unit_order(const wg_model *m, wg_layout_t *L, wg_error *err)
{
    size_t n = m->n_tensors;
    unit_key *k = calloc(n + 1, sizeof *k);
    wg_name_index ix = {0};
    int rc = 0;
    for (size_t i = 0; k && i < n && !rc; i++) {
        size_t c = L->ncomps;
        int put = wg_name_index_put(&ix, m->tensors[i].component, c);
        if (put < 0)
            rc = WG_EIO;
        else if (put == 0)
            wg_name_index_get(&ix, m->tensors[i].component, &c);
        else
            L->comps[L->ncomps++] = m->tensors[i].component;
        k[i] = (unit_key){c, m->tensors[i].layer, i};
    }
    if (!k || rc) {
        free(k);
        wg_name_index_free(&ix);
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    }
    qsort(k, n, sizeof *k, cmp_unit_key);
    for (size_t i = 0; i < n; i++)
        L->order[i] = k[i].tensor;
    free(k);
    wg_name_index_free(&ix);
    return 0;
}

static int comp_ranges(const wg_model *m, wg_layout_t *L, wg_error *err)
{
    L->tensor0 = calloc(L->ncomps + 1, sizeof *L->tensor0);
    L->shard0 = calloc(L->ncomps + 1, sizeof *L->shard0);
    if (!L->tensor0 || !L->shard0)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    size_t c = 0;
    for (size_t k = 0; k < m->n_tensors; k++)
        while (c < L->ncomps && strcmp(m->tensors[L->order[k]].component, L->comps[c]))
            L->tensor0[++c] = k;
    while (c < L->ncomps)
        L->tensor0[++c] = m->n_tensors;
    c = 0;
    for (size_t s = 0; s < L->nshards; s++)
        while (c < L->ncomps && strcmp(L->shards[s].component, L->comps[c]))
            L->shard0[++c] = s;
    while (c < L->ncomps)
        L->shard0[++c] = L->nshards;
    return 0;
}

int wg_layout(const wg_model *m, const wg_plan_entry *plan, uint64_t cap, wg_layout_t *L,
              wg_error *err)
{
    memset(L, 0, sizeof *L);
    size_t n = m->n_tensors;
    cap &= ~(uint64_t)3; /* shards end on whole u32 words (below) and must stay within the cap */
    L->comps = calloc(n + 1, sizeof *L->comps);
    L->order = calloc(n + 1, sizeof *L->order);
    size_t part_cap = n + 16, shard_cap = n / 4 + 16; /* both grow on demand */
    L->parts = calloc(part_cap, sizeof *L->parts);
    L->shards = calloc(shard_cap, sizeof *L->shards);
    if (!L->comps || !L->order || !L->parts || !L->shards)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    int rc = unit_order(m, L, err);
    if (rc)
        return rc;
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
    return comp_ranges(m, L, err);
}

void wg_layout_free(wg_layout_t *L)
{
    free(L->comps);
    free(L->order);
    free(L->parts);
    free(L->shards);
    free(L->tensor0);
    free(L->shard0);
    memset(L, 0, sizeof *L);
}
