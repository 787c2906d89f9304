/* quant/plan.c — presets and role defaults: which format each tensor gets. */
#include "quant.h"

#include <stdio.h>
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
