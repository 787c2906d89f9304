/* quant/plan.c — presets and role defaults: which format each tensor gets. */
#include "quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *preset_names[WG_PRESET_COUNT] = {"mixed", "fp16", "q8", "q6", "q5", "q4",
                                                    "q3", "q2"};
static const int preset_bits[WG_PRESET_COUNT] = {0, 0, 8, 6, 5, 4, 3, 2};

bool wg_preset_parse(const char *s, wg_preset *p)
{
    for (int i = 0; i < WG_PRESET_COUNT; i++)
        if (!strcmp(s, preset_names[i])) {
            *p = (wg_preset)i;
            return true;
        }
    return false;
}
const char *wg_preset_name(wg_preset p) { return (unsigned)p < WG_PRESET_COUNT ? preset_names[p] : "?"; }

void wg_plan_opts_default(wg_plan_opts *o)
{
    memset(o, 0, sizeof *o);
    o->preset = WG_PRESET_MIXED;
    o->group = 32;
    o->sym = 1;
    o->small_numel = 4096;
}

void wg_tensor_matrix(const wg_tensor *t, int64_t *rows, int64_t *K)
{
    if (t->ndim <= 1) {
        *rows = 1;
        *K = t->ndim ? t->shape[0] : 1;
    } else if (t->in_dim_first && t->ndim == 2) {
        *rows = t->shape[1];
        *K = t->shape[0];
    } else {
        *rows = t->shape[0];
        *K = t->shape[0] ? (int64_t)(t->numel / (uint64_t)t->shape[0]) : 0;
    }
}

bool wg_plan_entry_size(const wg_tensor *t, wg_plan_entry *e)
{
    wg_tensor_matrix(t, &e->rows, &e->K);
    if (e->fmt.kind == WG_Q_RAW) {
        e->bytes = t->nbytes;
        return true;
    }
    wg_qlayout l;
    if (!wg_qformat_layout(&e->fmt, e->rows, e->K, &l))
        return false;
    e->bytes = l.total_bytes;
    return true;
}

/* Bits a role gets under the "mixed" preset (0 = keep fp16). */
static int mixed_bits(wg_role r)
{
    switch (r) {
    case WG_ROLE_EMBEDDING: case WG_ROLE_POS_EMBEDDING: case WG_ROLE_ATTN_Q: case WG_ROLE_ATTN_K:
    case WG_ROLE_ATTN_V: case WG_ROLE_ATTN_QKV: case WG_ROLE_HEAD: case WG_ROLE_CONV:
    case WG_ROLE_LINEAR: case WG_ROLE_OTHER:
        return 8;
    case WG_ROLE_ATTN_OUT: case WG_ROLE_FFN_UP: case WG_ROLE_FFN_GATE: case WG_ROLE_FFN_DOWN:
        return 4;
    case WG_ROLE_NORM: case WG_ROLE_BIAS: default:
        return 0;
    }
}

int wg_plan_preset(const wg_model *m, const wg_plan_opts *o, wg_plan_entry *out, wg_error *err)
{
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_tensor *t = &m->tensors[i];
        wg_plan_entry *e = &out[i];
        memset(e, 0, sizeof *e);
        e->why = "preset";
        if (!wg_dtype_is_float(t->dtype) || wg_dtype_bits(t->dtype) < 16) {
            e->fmt.kind = WG_Q_RAW; /* indices, masks, already-quantized data: kept as is */
            e->why = "not float";
        } else if (t->role == WG_ROLE_NORM || t->role == WG_ROLE_BIAS || t->ndim < 2) {
            e->fmt.kind = WG_Q_F16;
            e->why = "role";
        } else if (t->numel < o->small_numel) {
            e->fmt.kind = WG_Q_F16;
            e->why = "small";
        } else {
            int bits = o->preset == WG_PRESET_MIXED ? mixed_bits(t->role) : preset_bits[o->preset];
            if (!bits)
                e->fmt.kind = WG_Q_F16;
            else {
                e->fmt.kind = WG_Q_INT;
                e->fmt.bits = bits;
                e->fmt.group = o->group;
                e->fmt.sym = o->sym != 0;
                e->fmt.scale_f32 = o->scale_f32;
                e->why = o->preset == WG_PRESET_MIXED ? "role" : "preset";
            }
        }
        if (!wg_plan_entry_size(t, e))
            return wg_fail(err, WG_EINPUT, m->path, "tensor '%s': quantized size overflows",
                           t->name);
    }
    return 0;
}

/* ------------------------------------------------------------------ overrides */

/* One step up the precision ladder: q2 q3 q4 q5 q6 q8 fp16. */
static bool step_up(wg_qformat *f)
{
    static const int next[9] = {0, 0, 3, 4, 5, 6, 8, 0, 0};
    if (f->kind != WG_Q_INT)
        return false;
    if (f->bits == 8) {
        memset(f, 0, sizeof *f);
        f->kind = WG_Q_F16;
    } else
        f->bits = next[f->bits];
    return true;
}

/* Does `pat` select tensor t? See README "Overrides" for the forms. */
static bool override_match(const char *pat, const wg_tensor *t)
{
    if (!strncmp(pat, "role:", 5)) {
        return wg_glob_match(pat + 5, wg_role_name(t->role), NULL);
    }
    if (!strncmp(pat, "component:", 10))
        return wg_glob_match(pat + 10, t->component, NULL);
    long lo = -1, hi = -1;
    char glob[512];
    if (!strncmp(pat, "layer:", 6)) {
        char *end;
        lo = strtol(pat + 6, &end, 10);
        hi = *end == '-' ? strtol(end + 1, &end, 10) : lo;
        return *end == 0 && t->layer >= lo && t->layer <= hi;
    }
    /* a dot-separated "A-B" (or "A") element is a layer range: rewrite it to `#` */
    size_t o = 0;
    for (const char *p = pat; *p && o < sizeof glob - 2;) {
        const char *q = p;
        long a = 0, b;
        bool at_elem = p == pat || p[-1] == '.';
        while (*q >= '0' && *q <= '9')
            a = a * 10 + (*q++ - '0');
        if (at_elem && q > p && *q == '-' && q[1] >= '0' && q[1] <= '9') {
            const char *r = q + 1;
            b = 0;
            while (*r >= '0' && *r <= '9')
                b = b * 10 + (*r++ - '0');
            if (*r == '.' || *r == 0) {
                lo = a;
                hi = b;
                glob[o++] = '#';
                p = r;
                continue;
            }
        }
        glob[o++] = *p++;
    }
    glob[o] = 0;
    /* the glob may match the whole name or any suffix that starts after a '.' */
    for (const char *s = t->name; s; s = strchr(s, '.') ? strchr(s, '.') + 1 : NULL) {
        long l;
        if (wg_glob_match(glob, s, &l) && (lo < 0 || (l >= lo && l <= hi)))
            return true;
    }
    return false;
}

int wg_plan_override(const wg_model *m, const char *set, const wg_plan_opts *o,
                     wg_plan_entry *plan, bool *pinned, wg_error *err)
{
    const char *eq = strrchr(set, '=');
    if (!eq || eq == set)
        return wg_fail(err, WG_EINPUT, NULL, "--set '%s': expected PATTERN=FORMAT", set);
    char pat[512];
    snprintf(pat, sizeof pat, "%.*s", (int)(eq - set), set);
    wg_qformat f;
    bool keep = !strcmp(eq + 1, "keep");
    if (!keep && !wg_qformat_parse(eq + 1, &f))
        return wg_fail(err, WG_EINPUT, NULL, "--set '%s': unknown format '%s' (fp16, bf16, "
                       "f32, keep, q2..q8 with optional g32/g64/g128/g256 or c, s or a)", set,
                       eq + 1);
    if (!keep && f.kind == WG_Q_INT && !strchr(eq + 1, 'g') && !strchr(eq + 2, 'c')) {
        f.group = o->group; /* bare "q5": the run's group size and symmetry */
        f.sym = o->sym != 0;
        f.scale_f32 = o->scale_f32;
    }
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_tensor *t = &m->tensors[i];
        if (!override_match(pat, t))
            continue;
        wg_plan_entry e = plan[i];
        if (keep)
            e.fmt = (wg_qformat){.kind = WG_Q_RAW};
        else
            e.fmt = f;
        if (e.fmt.kind != WG_Q_RAW && (!wg_dtype_is_float(t->dtype) || wg_dtype_bits(t->dtype) < 16))
            continue; /* never convert indices or masks */
        if (e.fmt.kind == WG_Q_INT && (t->role == WG_ROLE_NORM || t->role == WG_ROLE_BIAS ||
                                       t->ndim < 2))
            continue; /* norms and biases are never integer */
        e.why = "override";
        if (!wg_plan_entry_size(t, &e))
            return wg_fail(err, WG_EINPUT, m->path, "tensor '%s': size overflows", t->name);
        plan[i] = e;
        if (pinned)
            pinned[i] = true;
    }
    return 0;
}

void wg_plan_critical_layers(const wg_model *m, int n, wg_plan_entry *plan, const bool *pinned)
{
    int maxl = -1;
    for (size_t i = 0; i < m->n_tensors; i++)
        maxl = m->tensors[i].layer > maxl ? m->tensors[i].layer : maxl;
    if (n <= 0 || maxl < 0)
        return;
    for (size_t i = 0; i < m->n_tensors; i++) {
        int l = m->tensors[i].layer;
        if (l < 0 || (pinned && pinned[i]) || (l >= n && l <= maxl - n))
            continue;
        if (step_up(&plan[i].fmt)) {
            plan[i].why = "critical-layer";
            wg_plan_entry_size(&m->tensors[i], &plan[i]);
        }
    }
}

int wg_plan_webnn(const wg_model *m, wg_plan_entry *plan)
{
    int raised = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        if (plan[i].fmt.kind == WG_Q_INT && plan[i].fmt.bits < 8) {
            plan[i].fmt.bits = 8;
            plan[i].why = "webnn";
            wg_plan_entry_size(&m->tensors[i], &plan[i]);
            raised++;
        }
    return raised;
}
