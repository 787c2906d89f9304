/* program/check.c — one definition of a well-formed program, for the builder's output and for a
 * manifest's section alike: every operand of its slot's kind, every field a constant or the
 * symbol expression the op allows, and the widths of each op consistent, so that neither
 * interpreter can index outside a value. */
#include "program_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct ck {
    const wg_prog *p;
    const wg_pop *op;
    const wg_pop_def *d;
    int stage, index;
    char *why;
    size_t n;
} ck;

static int bad(ck *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(ck *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->why, c->n, "program: stage %s op %d (%s): %s", c->p->stages[c->stage].name,
             c->index, c->d->name, msg);
    return -1;
}

static int64_t wd(const ck *c, int slot)
{
    int a = c->op->arg[slot];
    return a < 0 ? 0 : c->p->vals[a].width;
}

/* field i: a constant k (returns k, *per = 0) or S*k (returns k, *per = 1) */
static bool fconst(const ck *c, int i, double v)
{
    return c->op->f[i].sym == 0 && c->op->f[i].c == v;
}
static bool fper(const ck *c, int i, double v)
{
    return c->op->f[i].sym == 'S' && c->op->f[i].c == v;
}
static bool fint(const ck *c, int i, double lo, double hi)
{
    double v = c->op->f[i].c;
    return c->op->f[i].sym == 0 && v >= lo && v <= hi && v == floor(v);
}
static bool fflag(const ck *c, int i, int slot)
{
    return fconst(c, i, c->op->arg[slot] >= 0) || (c->op->arg[slot] >= 0 && fconst(c, i, 0));
}

static int check_op(ck *c)
{
    const char *n = c->d->name;
    const wg_pval *v = c->p->vals;
    const int *a = c->op->arg;
    if (!strcmp(n, "gather"))
        return wd(c, 2) * v[a[0]].rows == v[a[0]].width ? 0 : bad(c, "y is not a row of the table");
    if (!strcmp(n, "matmul"))
        return v[a[1]].rows * wd(c, 0) == v[a[1]].width && wd(c, 3) == v[a[1]].rows &&
                       (a[2] < 0 || wd(c, 2) == wd(c, 3))
                   ? 0 : bad(c, "x, weight, bias and y do not chain");
    if (!strcmp(n, "rmsnorm") || !strcmp(n, "layernorm")) {
        double H = c->op->f[1].c;
        bool rms = n[0] == 'r';
        if (!fint(c, 1, 1, 1 << 24) || c->op->f[0].sym != 'S' || c->op->f[0].c * H != wd(c, 0) ||
            wd(c, 3) != wd(c, 0))
            return bad(c, "n x H is not the width of x and y");
        if (c->op->f[2].sym || !(c->op->f[2].c > 0 && c->op->f[2].c < 1))
            return bad(c, "eps out of range (0, 1)");
        if (rms && (!fflag(c, 3, 1) || (a[1] >= 0 && wd(c, 1) != wd(c, 0)) || !fflag(c, 5, 2) ||
                    c->op->f[4].sym || fabs(c->op->f[4].c) > 16))
            return bad(c, "residual, weight or w_offset inconsistent");
        if (rms && a[2] >= 0 && wd(c, 2) != H)
            return bad(c, "weight is not H values");
        if (!rms && (!fflag(c, 3, 1) || !fflag(c, 4, 2) || (a[1] >= 0 && wd(c, 1) != H) ||
                     (a[2] >= 0 && wd(c, 2) != H)))
            return bad(c, "weight or bias inconsistent");
        return 0;
    }
    if (!strcmp(n, "bias_act"))
        return fper(c, 0, (double)wd(c, 0)) && fconst(c, 1, (double)wd(c, 0)) && fint(c, 2, 0, 7) &&
                       fflag(c, 3, 1) && (a[1] < 0 || wd(c, 1) == wd(c, 0)) && !c->op->f[4].sym &&
                       !c->op->f[5].sym && isfinite(c->op->f[4].c) && isfinite(c->op->f[5].c)
                   ? 0 : bad(c, "count, R, act, bias or multipliers inconsistent");
    if (!strcmp(n, "glu"))
        return fper(c, 0, (double)wd(c, 0)) && wd(c, 1) == wd(c, 0) && fint(c, 1, 0, 7)
                   ? 0 : bad(c, "count, gate, up or act inconsistent");
    if (!strcmp(n, "add")) /* b a weight: an image's position embeddings, [tokens][width of a] */
        return fper(c, 0, (double)wd(c, 0)) &&
                       (v[a[1]].kind == WG_PV_WEIGHT ? c->p->img_tokens && wd(c, 1) == c->p->img_tokens * wd(c, 0)
                                                     : wd(c, 1) == wd(c, 0))
                   ? 0 : bad(c, "count or widths inconsistent");
    if (!strcmp(n, "slice")) {
        const wg_pexpr *f = c->op->f;
        if (!fper(c, 0, (double)wd(c, 1)) || !fconst(c, 1, (double)wd(c, 0)) ||
            !fconst(c, 3, (double)wd(c, 1)) || !fint(c, 2, 0, (double)wd(c, 0)) ||
            !fint(c, 4, 1, (double)wd(c, 1)) || !fint(c, 5, 0, (double)wd(c, 0)) ||
            (int64_t)wd(c, 1) % (int64_t)f[4].c ||
            f[2].c + (wd(c, 1) / f[4].c - 1) * f[5].c + f[4].c > wd(c, 0))
            return bad(c, "in_w, col0, out_w, group, gstride inconsistent");
        return 0;
    }
    if (!strcmp(n, "rope_kv")) {
        const wg_pexpr *f = c->op->f;
        if (!fint(c, 2, 1, 1 << 16) || !fint(c, 3, 1, 1 << 16) || !fint(c, 4, 2, 1024) ||
            !fint(c, 6, 0, f[4].c) || !fint(c, 7, 0, 1))
            return bad(c, "heads, kv_heads, hd, rot or interleaved out of range");
        double nh = f[2].c, nkv = f[3].c, hd = f[4].c, rot = f[6].c;
        if ((int64_t)hd % 2 || (int64_t)rot % 2 || !fper(c, 0, (nh + 2 * nkv) * hd / 2) ||
            !fper(c, 1, 1) || f[5].sym != 'P' || f[5].c != 1)
            return bad(c, "count, n or pos0 inconsistent");
        if (wd(c, 0) != nh * hd || wd(c, 4) != nh * hd || wd(c, 1) != nkv * hd ||
            wd(c, 2) != nkv * hd || wd(c, 5) != nkv * hd || wd(c, 6) != nkv * hd)
            return bad(c, "q, k, v or caches are not heads x hd wide");
        bool local = !strcmp(v[a[3]].name, "rope_local");
        if (!local && strcmp(v[a[3]].name, "rope"))
            return bad(c, "table %s is not a rotary table (rope, rope_local)", v[a[3]].name);
        if (rot > 0 && (!(local ? c->p->has_rope_local : c->p->has_rope) || c->p->rope_rot != rot ||
                        v[a[3]].width != rot))
            return bad(c, "rot is not the program's rotary table");
        if (v[a[5]].kind != v[a[6]].kind)
            return bad(c, "k_cache and v_cache of different kinds");
        return 0;
    }
    if (!strcmp(n, "attention")) {
        const wg_pexpr *f = c->op->f;
        if (!fint(c, 1, 1, 1 << 16) || !fint(c, 2, 1, 1 << 16) || !fint(c, 3, 4, 1024) ||
            (int64_t)f[3].c % 4 || (int64_t)f[1].c % (int64_t)f[2].c || !fint(c, 5, 0, 1) ||
            !fint(c, 10, 0, 1 << 30))
            return bad(c, "heads, kv_heads, hd, causal or window out of range");
        double nh = f[1].c, nkv = f[2].c, hd = f[3].c;
        bool causal = f[5].c != 0;
        if (!fper(c, 0, 1) || f[4].sym != 'P' || f[4].c != 1 || f[7].sym != 'M' || f[7].c != 1 ||
            !(causal ? fconst(c, 6, 0) : fper(c, 6, 1)))
            return bad(c, "n, pos0, T or stride inconsistent");
        if (f[8].sym || f[9].sym || f[11].sym || !(f[8].c > 0 && f[8].c < 1e6) ||
            !(f[9].c >= 0 && f[9].c < 1e6) || !(f[11].c >= 0 && f[11].c <= 64))
            return bad(c, "scale, softcap or alibi out of range");
        if (wd(c, 0) != nh * hd || wd(c, 4) != nh * hd || wd(c, 1) != nkv * hd || wd(c, 2) != nkv * hd)
            return bad(c, "q, k, v or out are not heads x hd wide");
        if (causal != (v[a[1]].kind == WG_PV_CACHE) || v[a[1]].kind != v[a[2]].kind ||
            (causal && a[3] >= 0))
            return bad(c, "a causal attention reads caches (and no mask), a bidirectional one activations");
        return 0;
    }
    if (!strcmp(n, "encoder_attention")) {
        const wg_pexpr *f = c->op->f;
        if (!fint(c, 1, 1, 1 << 16) || !fint(c, 2, 1, 1 << 16) || !fint(c, 3, 4, 1024) ||
            (int64_t)f[3].c % 4 || (int64_t)f[1].c % (int64_t)f[2].c || !fint(c, 7, 0, 1 << 30) ||
            !fflag(c, 8, 4) || !fint(c, 9, 0, 1 << 16))
            return bad(c, "heads, kv_heads, hd, window, has_bias or rel_max out of range");
        double nh = f[1].c, nkv = f[2].c, hd = f[3].c;
        if (!fper(c, 0, 1) || !fper(c, 4, 1) || f[5].sym != 'M' || f[5].c != 1)
            return bad(c, "n, T or stride inconsistent");
        if (f[6].sym || !(f[6].c > 0 && f[6].c < 1e6))
            return bad(c, "scale out of range");
        if (wd(c, 0) != nh * hd || wd(c, 6) != nh * hd || wd(c, 1) != nkv * hd || wd(c, 2) != nkv * hd)
            return bad(c, "q, k, v or out are not heads x hd wide");
        if (f[8].c == 0)
            return a[4] < 0 && a[5] < 0 && f[9].c == 0 ? 0 : bad(c, "buckets or rel_max without a bias");
        const wg_pval *bv = &v[a[4]];
        if (a[5] < 0 || strcmp(v[a[5]].name, "rel_buckets") || f[9].c != c->p->rel_max ||
            v[a[5]].width != 2 * c->p->rel_max + 1)
            return bad(c, "buckets is not the program's rel_buckets of rel_max");
        if (bv->width != bv->rows * nh)
            return bad(c, "bias is not [buckets][heads]");
        for (int64_t i = 0; i <= 2 * c->p->rel_max; i++)
            if (c->p->rel_bucket[i] >= bv->rows)
                return bad(c, "bucket %d past the bias's %lld rows", (int)c->p->rel_bucket[i],
                           (long long)bv->rows);
        return 0;
    }
    if (!strcmp(n, "patches")) {
        const wg_prog *p = c->p;
        int64_t ps = p->img_patch, K = p->img_channels * ps * ps;
        if (!p->img_tokens || strcmp(v[a[0]].name, "pixel_values") || !fper(c, 0, (double)K) ||
            wd(c, 1) != K || !fconst(c, 1, (double)p->img_channels) || !fconst(c, 2, (double)p->img_height) ||
            !fconst(c, 3, (double)p->img_width) || !fconst(c, 4, (double)ps) || !fint(c, 5, 0, 8) ||
            c->op->f[5].c + (p->img_height / ps) * (p->img_width / ps) != p->img_tokens)
            return bad(c, "pixels, y or the patch grid is not the program's image");
        return 0;
    }
    if (!strcmp(n, "set_row"))
        return fconst(c, 0, (double)wd(c, 0)) && wd(c, 1) == wd(c, 0) && c->p->img_tokens &&
                       fint(c, 1, 0, (double)c->p->img_tokens - 1)
                   ? 0 : bad(c, "v is not a row of y, or row is past the image's tokens");
    if (!strcmp(n, "moe_router"))
        return fper(c, 0, 1) && fconst(c, 1, (double)wd(c, 0)) && wd(c, 1) == wd(c, 0) &&
                       fint(c, 1, 1, WG_MOE_MAX_EXPERTS) && fint(c, 2, 1, c->op->f[1].c) && fint(c, 3, 0, 1)
                   ? 0 : bad(c, "n, E, k or norm inconsistent (E at most %d)", WG_MOE_MAX_EXPERTS);
    if (!strcmp(n, "moe_add"))
        return fper(c, 0, (double)wd(c, 0)) && fconst(c, 1, (double)wd(c, 0)) && wd(c, 2) == wd(c, 0) &&
                       fconst(c, 2, (double)wd(c, 1)) && fint(c, 3, 0, (double)wd(c, 1) - 1) && fint(c, 4, 0, 1)
                   ? 0 : bad(c, "count, H, E, e or accumulate inconsistent");
    return bad(c, "not an op of the table");
}

int wg_prog_check(const wg_prog *p, char *why, size_t nwhy)
{
    int nd;
    const wg_pop_def *defs = wg_pop_defs(&nd);
    if (wg_prog_value(p, p->output) < 0 || p->vals[wg_prog_value(p, p->output)].kind != WG_PV_ACT) {
        snprintf(why, nwhy, "program: output '%s' is not an activation of the program", p->output);
        return -1;
    }
    if (p->head.task[0] && (wg_prog_value(p, p->head.value) < 0 ||
                            p->vals[wg_prog_value(p, p->head.value)].kind != WG_PV_ACT)) {
        snprintf(why, nwhy, "program: head '%s' is not an activation of the program", p->head.value);
        return -1;
    }
    if (p->head.nlabels && p->head.nlabels != wg_prog_head_width(p)) {
        snprintf(why, nwhy, "program: the head has %d labels for %lld outputs", p->head.nlabels,
                 (long long)wg_prog_head_width(p));
        return -1;
    }
    for (int s = 0; s < p->nstages; s++)
        for (int i = 0; i < p->stages[s].nops; i++) {
            const wg_pop *op = &p->ops[p->stages[s].op0 + i];
            ck c = {p, op, &defs[op->def], s, i, why, nwhy};
            for (int k = 0; k < WG_POP_SLOTS; k++) {
                if (k >= c.d->nslots) {
                    if (op->arg[k] != -1)
                        return bad(&c, "operand %d beyond the op's slots", k);
                    continue;
                }
                const wg_pslot *sl = &c.d->slots[k];
                if (op->arg[k] < 0) {
                    if (!sl->optional)
                        return bad(&c, "%s missing", sl->name);
                    continue;
                }
                if (op->arg[k] >= p->nvals || !(sl->kinds & (1u << p->vals[op->arg[k]].kind)))
                    return bad(&c, "%s is not a value of the kind the op takes", sl->name);
                if (p->vals[op->arg[k]].kind == WG_PV_INPUT && strcmp(p->vals[op->arg[k]].name, "input_ids") &&
                    strcmp(p->vals[op->arg[k]].name, "position_ids") &&
                    strcmp(p->vals[op->arg[k]].name, "token_type_ids") &&
                    strcmp(p->vals[op->arg[k]].name, "attention_mask") &&
                    strcmp(p->vals[op->arg[k]].name, "pixel_values"))
                    return bad(&c, "input %s is not one the runtime provides", p->vals[op->arg[k]].name);
                if (p->vals[op->arg[k]].kind == WG_PV_INPUT &&
                    !strcmp(p->vals[op->arg[k]].name, "pixel_values") != !strcmp(c.d->name, "patches"))
                    return bad(&c, "pixel_values is read by patches alone, and patches reads only it");
                for (int j = 0; j < k && sl->written; j++)
                    if (op->arg[j] == op->arg[k])
                        return bad(&c, "%s is also bound to another operand", sl->name);
                for (int j = k + 1; j < c.d->nslots; j++)
                    if (op->arg[j] == op->arg[k] && (sl->written || c.d->slots[j].written))
                        return bad(&c, "%s is also bound to another operand", sl->name);
            }
            for (int f = 0; f < c.d->nfields; f++)
                if (!isfinite(op->f[f].c) || fabs(op->f[f].c) > 1e12)
                    return bad(&c, "field %s out of range", c.d->fields[f]);
            if (check_op(&c))
                return -1;
        }
    return 0;
}
