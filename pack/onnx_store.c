/* pack/onnx_store.c — how the ONNX export stores each weight, and what that costs in bytes:
 * the `onnx` plan target. The export (onnx_export.c) and the planner see the same decisions
 * because both ask wg_onnx_use_of / wg_onnx_form_for. */
#include "onnx_internal.h"
#include "../formats/model_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- uses in the graph */

static bool is_default_domain(const char *d)
{
    return !d || !*d || !strcmp(d, "ai.onnx");
}

static int64_t node_attr_int(const Onnx__NodeProto *nd, const char *name, int64_t dflt)
{
    for (size_t a = 0; a < nd->n_attribute; a++)
        if (nd->attribute[a]->name && !strcmp(nd->attribute[a]->name, name))
            return nd->attribute[a]->i;
    return dflt;
}

static void count_in_subgraphs(const Onnx__GraphProto *g, const char *name, int *n, int depth)
{
    if (depth > 32)
        return;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        for (size_t k = 0; k < nd->n_input; k++)
            if (nd->input[k] && !strcmp(nd->input[k], name))
                (*n)++;
        for (size_t a = 0; a < nd->n_attribute; a++) {
            if (nd->attribute[a]->g)
                count_in_subgraphs(nd->attribute[a]->g, name, n, depth + 1);
            for (size_t k = 0; k < nd->attribute[a]->n_graphs; k++)
                count_in_subgraphs(nd->attribute[a]->graphs[k], name, n, depth + 1);
        }
    }
}

wg_onnx_uses wg_onnx_find_uses(const Onnx__GraphProto *g, const char *name)
{
    wg_onnx_uses u = {0};
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        bool std = is_default_domain(nd->domain) && nd->op_type;
        for (size_t k = 0; k < nd->n_input; k++) {
            if (!nd->input[k] || strcmp(nd->input[k], name))
                continue;
            if (std && !strcmp(nd->op_type, "MatMul") && k == 1 && nd->n_input == 2)
                u.matmul_b++;
            else if (std && !strcmp(nd->op_type, "Gather") && k == 0 && nd->n_input == 2 &&
                     node_attr_int(nd, "axis", 0) == 0)
                u.gather++;
            else
                u.other++;
        }
        for (size_t a = 0; a < nd->n_attribute; a++) {
            if (nd->attribute[a]->g)
                count_in_subgraphs(nd->attribute[a]->g, name, &u.nested, 1);
            for (size_t k = 0; k < nd->attribute[a]->n_graphs; k++)
                count_in_subgraphs(nd->attribute[a]->graphs[k], name, &u.nested, 1);
        }
    }
    return u;
}

wg_onnx_use wg_onnx_use_of(const wg_tensor *t, const wg_onnx_uses *u, int opset)
{
    bool f32_16 = t->dtype == WG_DT_F32 || t->dtype == WG_DT_F16;
    if ((!f32_16 && t->dtype != WG_DT_BF16) || opset < 6) /* Reshape/Cast took attributes */
        return WG_ONNX_USE_NONE;
    bool only = !u->other && !u->nested;
    if (only && u->matmul_b && !u->gather && t->ndim == 2 && t->in_dim_first && f32_16)
        return WG_ONNX_USE_MATMUL;
    if (only && u->gather && !u->matmul_b && t->ndim == 2 && !t->in_dim_first && f32_16)
        return WG_ONNX_USE_GATHER;
    return WG_ONNX_USE_OTHER;
}

int wg_onnx_opset(const Onnx__ModelProto *mp)
{
    int v = 1;
    for (size_t i = 0; i < mp->n_opset_import; i++)
        if (is_default_domain(mp->opset_import[i]->domain))
            v = (int)mp->opset_import[i]->version;
    return v;
}

bool wg_onnx_is_constant_weight(const Onnx__NodeProto *nd)
{
    return nd->op_type && !strcmp(nd->op_type, "Constant") && nd->n_output == 1 &&
           nd->n_attribute == 1 && nd->attribute[0]->t && nd->attribute[0]->name &&
           !strcmp(nd->attribute[0]->name, "value");
}

typedef struct classify_ctx {
    const wg_model *m;
    uint8_t *use;
    int opset;
} classify_ctx;

static void classify_one(classify_ctx *c, const Onnx__GraphProto *g, const char *scope,
                         const char *name)
{
    char q[4096];
    snprintf(q, sizeof q, "%s%s%s", scope, *scope ? "/" : "", name);
    const wg_tensor *t = wg_model_find(c->m, q);
    if (!t)
        return;
    wg_onnx_uses u = wg_onnx_find_uses(g, name);
    c->use[t - c->m->tensors] = (uint8_t)wg_onnx_use_of(t, &u, c->opset);
}

static void classify_graph(classify_ctx *c, const Onnx__GraphProto *g, const char *scope,
                           int depth)
{
    if (depth > 32)
        return;
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name)
            classify_one(c, g, scope, g->initializer[i]->name);
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        if (wg_onnx_is_constant_weight(nd) && nd->output[0])
            classify_one(c, g, scope, nd->output[0]);
        for (size_t a = 0; a < nd->n_attribute; a++) {
            const Onnx__AttributeProto *at = nd->attribute[a];
            char sub[4096];
            if (at->g) {
                wg_onnx_sub_scope(sub, sizeof sub, scope, nd, i, at->name ? at->name : "g", -1);
                classify_graph(c, at->g, sub, depth + 1);
            }
            for (size_t k = 0; k < at->n_graphs; k++) {
                wg_onnx_sub_scope(sub, sizeof sub, scope, nd, i,
                                  at->name ? at->name : "graphs", (long)k);
                classify_graph(c, at->graphs[k], sub, depth + 1);
            }
        }
    }
}

int wg_onnx_classify(const wg_model *m, uint8_t *use, wg_error *err)
{
    const Onnx__ModelProto *mp = m->in ? m->in->onnx : NULL;
    memset(use, 0, m->n_tensors);
    if (m->kind != WG_IN_ONNX || !mp || !mp->graph)
        return wg_fail(err, WG_EUSAGE, m->path, "the onnx target needs an ONNX input model");
    classify_ctx c = {.m = m, .use = use, .opset = wg_onnx_opset(mp)};
    classify_graph(&c, mp->graph, "", 0);
    return 0;
}

/* ---------------------------------------------------------------- forms and bytes */

wg_onnx_form wg_onnx_form_for(const wg_tensor *t, wg_onnx_use u, const wg_qformat *f)
{
    if (u == WG_ONNX_USE_NONE)
        return WG_ONNX_KEEP;
    if (f->kind == WG_Q_F16) /* a Cast node costs about what 32 fp16 values save */
        return t->dtype == WG_DT_F32 && t->numel >= 64 ? WG_ONNX_FP16 : WG_ONNX_KEEP;
    if (f->kind != WG_Q_INT)
        return WG_ONNX_KEEP;
    if (u == WG_ONNX_USE_MATMUL && (f->bits == 2 || f->bits == 4 || f->bits == 8) &&
        f->group >= 16)
        return WG_ONNX_NBITS;
    if (u == WG_ONNX_USE_GATHER && f->sym && f->group > 0 && t->shape[1] % f->group == 0)
        return WG_ONNX_GATHERQ;
    return WG_ONNX_DQ;
}

const char *wg_onnx_form_name(wg_onnx_form f)
{
    static const char *names[] = {"kept", "fp16 + Cast", "MatMulNBits", "GatherBlockQuantized",
                                  "DequantizeLinear"};
    return (unsigned)f < sizeof names / sizeof *names ? names[f] : "?";
}

int wg_onnx_storage_bits(wg_onnx_form form, int bits)
{
    if (form == WG_ONNX_NBITS)
        return bits;
    if (form == WG_ONNX_GATHERQ && bits == 2)
        return 2;
    return bits <= 4 ? 4 : 8;
}

uint64_t wg_onnx_stored_bytes(const wg_tensor *t, wg_onnx_use u, const wg_plan_entry *e)
{
    wg_onnx_form form = wg_onnx_form_for(t, u, &e->fmt);
    uint64_t name = strlen(t->name), act = t->dtype == WG_DT_F16 ? 2 : 4;
    if (form == WG_ONNX_KEEP)
        return t->nbytes;
    if (form == WG_ONNX_FP16)
        return t->numel * 2 + 48 + 2 * name;
    wg_qlayout l;
    if (!wg_qformat_layout(&e->fmt, e->rows, e->K, &l))
        return UINT64_MAX / 4;
    uint64_t groups = (uint64_t)l.rows * (uint64_t)l.ngroups, b = (uint64_t)e->fmt.bits;
    uint64_t sb = (uint64_t)wg_onnx_storage_bits(form, e->fmt.bits);
    if (form == WG_ONNX_NBITS)
        return l.data_bytes + groups * act +
               (e->fmt.sym ? 0 : (uint64_t)l.rows * (((uint64_t)l.ngroups * b + 7) / 8)) +
               64 + 3 * name;
    if (form == WG_ONNX_GATHERQ)
        return (uint64_t)l.rows * (uint64_t)l.K * sb / 8 + groups * act + 64 + 2 * name;
    return groups * (uint64_t)l.group * sb / 8 + groups * (e->fmt.scale_f32 ? 4 : 2) +
           (e->fmt.sym ? 0 : groups) + (l.Kp != l.K ? 8 * (uint64_t)l.K : 0) +
           8 * (uint64_t)(t->ndim + 2) + 400 + 8 * name;
}

/* ---------------------------------------------------------------- the onnx target */

typedef struct onnx_target {
    wg_plan_target base;
    uint8_t *use;
} onnx_target;

static uint64_t target_bytes(void *ctx, const wg_model *m, size_t i, const wg_plan_entry *e)
{
    onnx_target *ot = ctx;
    return wg_onnx_stored_bytes(&m->tensors[i], (wg_onnx_use)ot->use[i], e);
}

static void add_cand(const wg_model *m, size_t i, const wg_plan_entry *e, wg_onnx_use u,
                     wg_qformat f, wg_plan_cands *out)
{
    if (out->n >= WG_PLAN_MAX_CAND)
        return;
    wg_plan_entry x = *e;
    x.fmt = f;
    if (!wg_plan_entry_size(&m->tensors[i], &x))
        return;
    out->fmt[out->n] = f;
    out->bytes[out->n++] = wg_onnx_stored_bytes(&m->tensors[i], u, &x);
}

static void target_cands(void *ctx, const wg_model *m, size_t i, const wg_plan_entry *e,
                         const wg_plan_opts *o, wg_plan_cands *out)
{
    onnx_target *ot = ctx;
    wg_onnx_use u = (wg_onnx_use)ot->use[i];
    out->n = 0;
    if (u == WG_ONNX_USE_NONE)
        return;
    static const int b_mm[] = {2, 4, 8, 0}, b_dq[] = {4, 8, 0};
    const int *bits = u == WG_ONNX_USE_OTHER ? b_dq : b_mm;
    int groups[5] = {32, 64, 128, -1, -1}, ng = 3;
    if (o->group != 32 && o->group != 64 && o->group != 128 && (o->group || u == WG_ONNX_USE_OTHER))
        groups[ng++] = o->group;
    if (u == WG_ONNX_USE_OTHER && o->group)
        groups[ng++] = 0; /* per channel */
    for (int b = 0; bits[b]; b++)
        for (int g = 0; g < ng; g++) {
            wg_qformat f = {.kind = WG_Q_INT, .bits = bits[b], .group = groups[g],
                            .sym = o->sym != 0, .scale_f32 = o->scale_f32};
            add_cand(m, i, e, u, f, out);
        }
    add_cand(m, i, e, u, (wg_qformat){.kind = WG_Q_F16}, out);
}

int wg_onnx_target_new(const wg_model *m, wg_plan_target **out, wg_error *err)
{
    onnx_target *ot = calloc(1, sizeof *ot);
    *out = NULL;
    if (!ot || !(ot->use = calloc(m->n_tensors + 1, 1))) {
        free(ot);
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    }
    int rc = wg_onnx_classify(m, ot->use, err);
    if (rc) {
        free(ot->use);
        free(ot);
        return rc;
    }
    ot->base = (wg_plan_target){.name = "onnx", .cands = target_cands, .bytes = target_bytes,
                                .ctx = ot};
    *out = &ot->base;
    return 0;
}

void wg_onnx_target_free(wg_plan_target *t)
{
    if (!t)
        return;
    onnx_target *ot = (onnx_target *)t;
    free(ot->use);
    free(ot);
}

int wg_onnx_lift(const wg_plan_target *tg, const wg_model *m, wg_plan_entry *plan,
                 const bool *pinned)
{
    const onnx_target *ot = (const onnx_target *)tg;
    int raised = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        wg_plan_entry *e = &plan[i];
        wg_onnx_use u = (wg_onnx_use)ot->use[i];
        if (e->fmt.kind != WG_Q_INT || (pinned && pinned[i]) || u == WG_ONNX_USE_NONE)
            continue;
        wg_onnx_form form = wg_onnx_form_for(&m->tensors[i], u, &e->fmt);
        int sb = wg_onnx_storage_bits(form, e->fmt.bits);
        if (u != WG_ONNX_USE_OTHER && e->fmt.bits == 3)
            sb = 4; /* q4 is MatMulNBits / GatherBlockQuantized, q3 would not be */
        if (sb == e->fmt.bits)
            continue;
        e->fmt.bits = sb;
        e->why = "onnx";
        wg_plan_entry_size(&m->tensors[i], e);
        raised++;
    }
    return raised;
}

int wg_onnx_main_weights(const wg_model *m, bool *main_graph)
{
    const Onnx__ModelProto *mp = m->in ? m->in->onnx : NULL;
    memset(main_graph, 0, m->n_tensors * sizeof *main_graph);
    if (m->kind != WG_IN_ONNX || !mp || !mp->graph)
        return WG_EUSAGE;
    const Onnx__GraphProto *g = mp->graph;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const wg_tensor *t = g->initializer[i]->name ? wg_model_find(m, g->initializer[i]->name)
                                                      : NULL;
        if (t)
            main_graph[t - m->tensors] = true;
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const wg_tensor *t = wg_onnx_is_constant_weight(g->node[i]) && g->node[i]->output[0]
                                 ? wg_model_find(m, g->node[i]->output[0]) : NULL;
        if (t)
            main_graph[t - m->tensors] = true;
    }
    return 0;
}
