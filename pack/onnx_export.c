/* pack/onnx_export.c — a quantized ONNX model that ONNX Runtime (and transformers.js) loads.
 *
 * The input model's graph is copied with three kinds of change, decided per initializer by its
 * plan entry and its consumers:
 *   MatMulNBits   every consumer is a MatMul taking it as B (2-D, f32/f16) and the format is a
 *                 grouped 2/4/8-bit one: the MatMul becomes com.microsoft::MatMulNBits whose B is
 *                 the bundle's packed data plane unchanged ([N][K/G][G*b/8]: same bit order),
 *                 scales in the activation type, zero points repacked to b-bit fields per row.
 *   Dequantize    any other integer-planned float tensor: codes [rows*groups][G] (int8 for
 *                 symmetric, uint8 + zero points for asymmetric), one scale per group, and
 *                 DequantizeLinear(axis 0) -> Reshape -> (Gather to drop padding) -> (Transpose
 *                 back to [in, out]) -> (Reshape to the original shape) -> (Cast) producing the
 *                 original name, so every consumer (Gather, Conv, ...) is untouched. Opset >= 13
 *                 uses ai.onnx DequantizeLinear, older models com.microsoft::DequantizeLinear.
 *   kept          everything else (fp formats, non-float tensors, ...), byte for byte.
 * Weights held by Constant nodes (older exporters) are treated like initializers: the node is
 * replaced by the new initializers and the chain.
 * The quantized bytes come from wg_quantize_tensor with the same plan and options as a bundle.
 * New messages are allocated from an arena and only point into the input's unpacked proto, so
 * the input model is never modified. Large models (or --external-data) put every initializer of
 * 1 kB or more into "<output>.data"; that file and the .onnx appear atomically. */
#define _GNU_SOURCE
#include "pack_internal.h"
#include "../formats/model_internal.h"
#include "onnx.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXTERNAL_MIN 1024
#define EMBED_LIMIT (1800ull << 20) /* protobuf messages must stay under 2 GiB */

typedef struct arena_blk {
    struct arena_blk *next;
    _Alignas(16) unsigned char d[];
} arena_blk;

typedef struct ex {
    const wg_model *m;
    const wg_plan_entry *plan;
    const wg_onnx_export_opts *o;
    wg_onnx_export_result *res;
    wg_error *err;
    arena_blk *arena;
    int opset;            /* ai.onnx version of the input */
    bool need_ms;         /* a com.microsoft op was emitted */
    bool external;
    wg_atomic_file data;  /* external data file */
    char data_name[PATH_MAX];
    uint64_t data_off;
    int rc;
} ex;

static void *amalloc(ex *x, size_t n)
{
    arena_blk *b = calloc(1, sizeof *b + (n ? n : 1));
    if (!b) {
        if (!x->rc)
            x->rc = wg_fail(x->err, WG_EIO, NULL, "out of memory");
        return NULL;
    }
    b->next = x->arena;
    x->arena = b;
    return b->d;
}

static char *astr(ex *x, const char *a, const char *b)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *s = amalloc(x, la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        if (lb)
            memcpy(s + la, b, lb);
        s[la + lb] = 0;
    }
    return s;
}

/* ---------------------------------------------------------------- tensors */

/* Put a tensor's bytes inline or into the external data file. `bytes` must stay valid until
 * the model is packed (inline case). */
static void set_bytes(ex *x, Onnx__TensorProto *tp, const void *bytes, uint64_t n)
{
    tp->has_raw_data = 0;
    tp->raw_data.len = 0;
    tp->raw_data.data = NULL;
    tp->has_data_location = 0;
    tp->n_external_data = 0;
    tp->external_data = NULL;
    tp->n_float_data = tp->n_int32_data = tp->n_int64_data = tp->n_double_data = 0;
    tp->n_uint64_data = 0;
    if (!x->external || n < EXTERNAL_MIN) {
        tp->has_raw_data = 1;
        tp->raw_data.len = n;
        tp->raw_data.data = (uint8_t *)bytes;
        return;
    }
    static const uint8_t zeros[64];
    uint64_t pad = (64 - x->data_off % 64) % 64; /* 64-byte aligned, mmap friendly */
    if (x->rc || (pad && (x->rc = wg_atomic_write(&x->data, zeros, pad, x->err))) ||
        (x->rc = wg_atomic_write(&x->data, bytes, n, x->err)))
        return;
    x->data_off += pad;
    Onnx__StringStringEntryProto **kv = amalloc(x, 3 * sizeof *kv);
    Onnx__StringStringEntryProto *e = amalloc(x, 3 * sizeof *e);
    char *num = amalloc(x, 48);
    if (!kv || !e || !num)
        return;
    snprintf(num, 24, "%llu", (unsigned long long)x->data_off);
    snprintf(num + 24, 24, "%llu", (unsigned long long)n);
    const char *keys[3] = {"location", "offset", "length"};
    char *vals[3] = {x->data_name, num, num + 24};
    for (int i = 0; i < 3; i++) {
        onnx__string_string_entry_proto__init(&e[i]);
        e[i].key = (char *)keys[i];
        e[i].value = vals[i];
        kv[i] = &e[i];
    }
    tp->n_external_data = 3;
    tp->external_data = kv;
    tp->has_data_location = 1;
    tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    x->data_off += n;
}

static Onnx__TensorProto *new_tensor(ex *x, const char *name, int dtype, int ndim,
                                     const int64_t *dims, const void *bytes, uint64_t n)
{
    Onnx__TensorProto *tp = amalloc(x, sizeof *tp);
    int64_t *d = amalloc(x, sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
    if (!tp || !d)
        return NULL;
    onnx__tensor_proto__init(tp);
    tp->name = (char *)name;
    tp->has_data_type = 1;
    tp->data_type = dtype;
    tp->n_dims = (size_t)ndim;
    memcpy(d, dims, sizeof(int64_t) * (size_t)ndim);
    tp->dims = d;
    set_bytes(x, tp, bytes, n);
    return tp;
}

/* ---------------------------------------------------------------- nodes */

typedef struct nodelist {
    Onnx__NodeProto **v;
    size_t n, cap;
} nodelist;
typedef struct tensorlist {
    Onnx__TensorProto **v;
    size_t n, cap;
} tensorlist;

static bool push(ex *x, void ***v, size_t *n, size_t *cap, void *p)
{
    if (!p)
        return false;
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        void **nv = amalloc(x, nc * sizeof *nv);
        if (!nv)
            return false;
        if (*n)
            memcpy(nv, *v, *n * sizeof *nv);
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = p;
    return true;
}
#define PUSH(x, list, p) push((x), (void ***)&(list)->v, &(list)->n, &(list)->cap, (p))

static Onnx__AttributeProto *attr_int(ex *x, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = amalloc(x, sizeof *a);
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = v;
    return a;
}

static Onnx__AttributeProto *attr_ints(ex *x, const char *name, const int64_t *v, size_t n)
{
    Onnx__AttributeProto *a = amalloc(x, sizeof *a);
    int64_t *c = amalloc(x, sizeof *c * (n ? n : 1));
    if (!a || !c)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    memcpy(c, v, sizeof *c * n);
    a->n_ints = n;
    a->ints = c;
    return a;
}

static Onnx__NodeProto *new_node(ex *x, const char *op, const char *domain, const char *name,
                                 const char *const *in, size_t nin, const char *out,
                                 Onnx__AttributeProto *const *attrs, size_t nattr)
{
    Onnx__NodeProto *nd = amalloc(x, sizeof *nd);
    char **iv = amalloc(x, sizeof *iv * nin), **ov = amalloc(x, sizeof *ov);
    Onnx__AttributeProto **av = amalloc(x, sizeof *av * (nattr ? nattr : 1));
    if (!nd || !iv || !ov || !av)
        return NULL;
    onnx__node_proto__init(nd);
    nd->op_type = (char *)op;
    nd->domain = (char *)domain;
    nd->name = (char *)name;
    for (size_t i = 0; i < nin; i++)
        iv[i] = (char *)in[i];
    nd->n_input = nin;
    nd->input = iv;
    ov[0] = (char *)out;
    nd->n_output = 1;
    nd->output = ov;
    for (size_t i = 0; i < nattr; i++) {
        if (!attrs[i])
            return NULL;
        av[i] = attrs[i];
    }
    nd->n_attribute = nattr;
    nd->attribute = av;
    return nd;
}

/* ---------------------------------------------------------------- analysis */

/* How a value name is used inside g and below. */
typedef struct uses {
    int matmul_b;   /* as input 1 of a MatMul in g */
    int other;      /* any other use in g */
    int nested;     /* any use inside a subgraph of g */
} uses;

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

static uses find_uses(const Onnx__GraphProto *g, const char *name)
{
    uses u = {0};
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        for (size_t k = 0; k < nd->n_input; k++) {
            if (!nd->input[k] || strcmp(nd->input[k], name))
                continue;
            bool mm = nd->op_type && !strcmp(nd->op_type, "MatMul") &&
                      (!nd->domain || !*nd->domain) && k == 1 && nd->n_input == 2;
            if (mm)
                u.matmul_b++;
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

typedef enum { HOW_KEEP = 0, HOW_NBITS, HOW_DQ } how;

/* ---------------------------------------------------------------- conversions */

static void note(ex *x, const wg_tensor *t, const char *how_s)
{
    if (x->res->tensors)
        json_object_set_new(x->res->tensors, t->name, json_pack("{s:s}", "onnx", how_s));
}

/* Quantize t into a fresh arena buffer of e->bytes. */
static uint8_t *quantized(ex *x, const wg_tensor *t, const wg_plan_entry *e, wg_qmetrics *qm)
{
    uint8_t *buf = malloc(e->bytes ? e->bytes : 1);
    if (!buf) {
        x->rc = wg_fail(x->err, WG_EIO, NULL, "out of memory");
        return NULL;
    }
    wg_qopts qo = {.search = x->o->search, .threads = x->o->threads,
                   .importance = x->o->importance ? x->o->importance[t - x->m->tensors] : NULL};
    int rc = wg_quantize_tensor(t, e, &qo, buf, qm, x->err);
    if (rc) {
        free(buf);
        x->rc = rc;
        return NULL;
    }
    x->res->sse += qm->sse;
    x->res->ssx += qm->ssx;
    json_t *tj = json_object_get(x->res->tensors, t->name);
    double sq = wg_qm_sqnr_db(qm);
    if (tj) {
        json_object_set_new(tj, "sqnr_db", isfinite(sq) ? json_real(sq) : json_null());
        json_object_set_new(tj, "rel_rmse", json_real(wg_qm_rel_rmse(qm)));
    }
    return buf;
}

/* Arena-owned copy so that inline bytes live until packing. */
static void *acopy(ex *x, const void *p, size_t n)
{
    void *d = amalloc(x, n);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* Bytes of a malloc'd buffer freed right after new_tensor: written out at once when they go
 * to the external file, else copied into the arena to live until packing. */
static const void *transient(ex *x, const void *p, uint64_t n)
{
    return x->external && n >= EXTERNAL_MIN ? p : acopy(x, p, (size_t)n);
}

static how choose(ex *x, const Onnx__GraphProto *g, const Onnx__TensorProto *tp,
                  const wg_tensor *t, const wg_plan_entry *e, const char **why)
{
    if (!t) {
        *why = "kept: not in the tensor table";
        return HOW_KEEP;
    }
    if (e->fmt.kind != WG_Q_INT) {
        *why = "kept: planned as a float format";
        return HOW_KEEP;
    }
    if (t->dtype != WG_DT_F32 && t->dtype != WG_DT_F16 && t->dtype != WG_DT_BF16) {
        *why = "kept: not a float tensor";
        return HOW_KEEP;
    }
    uses u = find_uses(g, tp->name);
    int64_t G = e->fmt.group; /* 0 = per-channel: not a MatMulNBits block size */
    if (u.matmul_b && !u.other && !u.nested && t->ndim == 2 && t->in_dim_first &&
        (e->fmt.bits == 2 || e->fmt.bits == 4 || e->fmt.bits == 8) && G >= 16 &&
        (t->dtype == WG_DT_F32 || t->dtype == WG_DT_F16)) {
        *why = "MatMulNBits";
        return HOW_NBITS;
    }
    if (x->opset < 6) {
        *why = "kept: opset below 6 (Reshape/Cast take attributes there)";
        return HOW_KEEP;
    }
    *why = "DequantizeLinear";
    return HOW_DQ;
}

/* Scales of an integer plane set as f32 (or f16 when want_f16) in a new arena buffer. */
static void *scales_as(ex *x, const wg_plan_entry *e, const wg_qlayout *l, const uint8_t *planes,
                       bool want_f16)
{
    uint64_t n = (uint64_t)l->rows * (uint64_t)l->ngroups;
    const uint8_t *s = planes + l->data_bytes;
    if (want_f16) {
        uint16_t *o = amalloc(x, n * 2);
        for (uint64_t i = 0; o && i < n; i++) {
            if (e->fmt.scale_f32) {
                float f;
                memcpy(&f, s + 4 * i, 4);
                o[i] = wg_f32_to_f16(f);
            } else
                memcpy(&o[i], s + 2 * i, 2);
        }
        return o;
    }
    float *o = amalloc(x, n * 4);
    for (uint64_t i = 0; o && i < n; i++) {
        if (e->fmt.scale_f32)
            memcpy(&o[i], s + 4 * i, 4);
        else {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            o[i] = wg_f16_to_f32(h);
        }
    }
    return o;
}

static int emit_nbits(ex *x, const Onnx__TensorProto *tp, const wg_tensor *t,
                      const wg_plan_entry *e, tensorlist *inits, Onnx__NodeProto **mm_nodes,
                      size_t n_mm, Onnx__NodeProto **replaced)
{
    wg_qmetrics qm;
    uint8_t *planes = quantized(x, t, e, &qm);
    if (!planes)
        return x->rc;
    wg_qlayout l;
    wg_qformat_layout(&e->fmt, e->rows, e->K, &l);
    const int bits = e->fmt.bits;
    const char *qn = astr(x, tp->name, "_Q"), *sn = astr(x, tp->name, "_scales"),
               *zn = astr(x, tp->name, "_zp");
    int64_t bdims[3] = {l.rows, l.ngroups, l.group * bits / 8};
    PUSH(x, inits, new_tensor(x, qn, WG_DT_U8, 3, bdims, transient(x, planes, l.data_bytes),
                              l.data_bytes));
    bool f16 = t->dtype == WG_DT_F16;
    int64_t sdims[2] = {l.rows, l.ngroups};
    void *sc = scales_as(x, e, &l, planes, f16);
    uint64_t ns = (uint64_t)l.rows * (uint64_t)l.ngroups;
    if (sc)
        PUSH(x, inits, new_tensor(x, sn, f16 ? WG_DT_F16 : WG_DT_F32, 2, sdims, sc,
                                  ns * (f16 ? 2 : 4)));
    if (!e->fmt.sym) { /* zero points: b-bit fields, ceil(ngroups*b/8) bytes per row */
        int64_t rowb = (l.ngroups * bits + 7) / 8;
        uint8_t *zp = amalloc(x, (size_t)(l.rows * rowb));
        const uint8_t *z = planes + l.data_bytes + l.scale_bytes;
        for (int64_t r = 0; zp && r < l.rows; r++)
            wg_pack_codes(z + r * l.ngroups, (uint64_t)l.ngroups, bits, zp + r * rowb);
        int64_t zd = l.rows * rowb;
        if (zp)
            PUSH(x, inits, new_tensor(x, zn, WG_DT_U8, 1, &zd, zp, (uint64_t)zd));
    }
    free(planes);
    if (x->rc)
        return x->rc;
    for (size_t i = 0; i < n_mm; i++) {
        const Onnx__NodeProto *o = mm_nodes[i];
        const char *in[4] = {o->input[0], qn, sn, zn};
        Onnx__AttributeProto *at[4] = {attr_int(x, "K", l.K), attr_int(x, "N", l.rows),
                                       attr_int(x, "bits", bits),
                                       attr_int(x, "block_size", l.group)};
        replaced[i] = new_node(x, "MatMulNBits", "com.microsoft",
                               o->name ? o->name : qn, in, e->fmt.sym ? 3 : 4, o->output[0],
                               at, 4);
        if (!replaced[i])
            return x->rc ? x->rc : wg_fail(x->err, WG_EIO, NULL, "out of memory");
    }
    x->need_ms = true;
    x->res->matmulnbits++;
    return x->rc;
}

static int emit_dq(ex *x, const Onnx__TensorProto *tp, const wg_tensor *t,
                   const wg_plan_entry *e, tensorlist *inits, nodelist *pre)
{
    wg_qmetrics qm;
    uint8_t *planes = quantized(x, t, e, &qm);
    if (!planes)
        return x->rc;
    wg_qlayout l;
    wg_qformat_layout(&e->fmt, e->rows, e->K, &l);
    const int bits = e->fmt.bits, half = 1 << (bits - 1);
    const int64_t G = l.group, ng = l.rows * l.ngroups;
    /* codes, one byte each */
    uint8_t *codes = malloc((size_t)(ng * G));
    if (!codes) {
        free(planes);
        return x->rc = wg_fail(x->err, WG_EIO, NULL, "out of memory");
    }
    wg_unpack_codes(planes, (uint64_t)(ng * G), bits, codes); /* groups are consecutive */
    if (e->fmt.sym) /* int8 codes: the symmetric offset removed, so no zero point is needed */
        for (int64_t i = 0; i < ng * G; i++)
            codes[i] = (uint8_t)(int8_t)((int)codes[i] - half);
    const char *nm = tp->name;
    const char *qn = astr(x, nm, "_Q"), *sn = astr(x, nm, "_scales"), *zn = astr(x, nm, "_zp");
    int64_t qd[2] = {ng, G};
    PUSH(x, inits, new_tensor(x, qn, e->fmt.sym ? WG_DT_I8 : WG_DT_U8, 2, qd,
                              transient(x, codes, (uint64_t)(ng * G)),
                              (uint64_t)(ng * G)));
    free(codes);
    void *sc = scales_as(x, e, &l, planes, false);
    if (sc)
        PUSH(x, inits, new_tensor(x, sn, WG_DT_F32, 1, &ng, sc, (uint64_t)ng * 4));
    if (!e->fmt.sym)
        PUSH(x, inits, new_tensor(x, zn, WG_DT_U8, 1, &ng,
                                  acopy(x, planes + l.data_bytes + l.scale_bytes, (size_t)ng),
                                  (uint64_t)ng));
    free(planes);
    if (x->rc)
        return x->rc;

    /* the chain; every step's output is a fresh name, the last one is the original name */
    bool ms = x->opset < 13;
    char *cur = NULL;
    int step = 0;
    char stepname[64];
#define NEXT_NAME() (snprintf(stepname, sizeof stepname, "::wgpack%d", ++step), astr(x, nm, stepname))
    const bool need_gather = l.Kp != l.K, transpose = t->in_dim_first && t->ndim == 2;
    const bool cast = t->dtype != WG_DT_F32;
    /* how many steps follow DQ decides which one is last */
    {
        const char *in[3] = {qn, sn, zn};
        Onnx__AttributeProto *ax = attr_int(x, "axis", 0);
        cur = NEXT_NAME();
        PUSH(x, pre, new_node(x, "DequantizeLinear", ms ? "com.microsoft" : "", cur, in,
                              e->fmt.sym ? 2 : 3, cur, &ax, 1));
        if (ms)
            x->need_ms = true;
    }
    /* Reshape to [rows, Kp] (or straight to the original shape when nothing else follows) */
    int64_t shp2[2] = {l.rows, l.Kp};
    const int64_t *target = shp2;
    int tn = 2;
    if (!need_gather && !transpose) {
        target = t->shape;
        tn = t->ndim;
    }
    {
        const char *sname = astr(x, nm, "::wgpack_shape");
        int64_t d1 = tn;
        PUSH(x, inits, new_tensor(x, sname, WG_DT_I64, 1, &d1, acopy(x, target, 8 * (size_t)tn),
                                  8 * (uint64_t)tn));
        const char *in[2] = {cur, sname};
        char *o = NEXT_NAME();
        PUSH(x, pre, new_node(x, "Reshape", "", o, in, 2, o, NULL, 0));
        cur = o;
    }
    if (need_gather) {
        const char *iname = astr(x, nm, "::wgpack_cols");
        int64_t *idx = amalloc(x, 8 * (size_t)l.K);
        for (int64_t i = 0; idx && i < l.K; i++)
            idx[i] = i;
        PUSH(x, inits, new_tensor(x, iname, WG_DT_I64, 1, &l.K, idx, 8 * (uint64_t)l.K));
        const char *in[2] = {cur, iname};
        Onnx__AttributeProto *ax = attr_int(x, "axis", 1);
        char *o = NEXT_NAME();
        PUSH(x, pre, new_node(x, "Gather", "", o, in, 2, o, &ax, 1));
        cur = o;
    }
    if (transpose) {
        const int64_t perm[2] = {1, 0};
        Onnx__AttributeProto *p = attr_ints(x, "perm", perm, 2);
        const char *in[1] = {cur};
        char *o = NEXT_NAME();
        PUSH(x, pre, new_node(x, "Transpose", "", o, in, 1, o, &p, 1));
        cur = o;
    } else if (need_gather && t->ndim != 2) {
        const char *sname = astr(x, nm, "::wgpack_shape_out");
        int64_t d1 = t->ndim;
        PUSH(x, inits, new_tensor(x, sname, WG_DT_I64, 1, &d1,
                                  acopy(x, t->shape, 8 * (size_t)t->ndim), 8 * (uint64_t)t->ndim));
        const char *in[2] = {cur, sname};
        char *o = NEXT_NAME();
        PUSH(x, pre, new_node(x, "Reshape", "", o, in, 2, o, NULL, 0));
        cur = o;
    }
    if (cast) {
        Onnx__AttributeProto *to = attr_int(x, "to", t->dtype);
        const char *in[1] = {cur};
        char *o = NEXT_NAME();
        PUSH(x, pre, new_node(x, "Cast", "", o, in, 1, o, &to, 1));
        cur = o;
    }
#undef NEXT_NAME
    if (x->rc)
        return x->rc;
    /* rename the last step's output to the original name */
    Onnx__NodeProto *last = pre->v[pre->n - 1];
    last->output[0] = (char *)nm;
    x->res->dequantize++;
    return 0;
}

/* ---------------------------------------------------------------- graphs */

static Onnx__GraphProto *rewrite(ex *x, const Onnx__GraphProto *g, const char *scope, int depth);

static const wg_tensor *lookup(ex *x, const char *scope, const char *name, size_t *idx)
{
    char q[4096];
    snprintf(q, sizeof q, "%s%s%s", scope, *scope ? "/" : "", name);
    const wg_tensor *t = wg_model_find(x->m, q);
    if (t)
        *idx = (size_t)(t - x->m->tensors);
    return t;
}

/* A kept initializer: shared as is, unless its bytes live in the input's external file (which
 * the output cannot point at) or belong in the output's external file. */
static Onnx__TensorProto *keep_tensor(ex *x, Onnx__TensorProto *tp, const wg_tensor *t)
{
    bool was_ext = tp->has_data_location &&
                   tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    bool to_ext = x->external && t && t->data && t->nbytes >= EXTERNAL_MIN &&
                  (tp->has_raw_data || was_ext);
    if (!was_ext && !to_ext)
        return tp;
    if (!t || !t->data) {
        x->rc = wg_fail(x->err, WG_EINPUT, x->m->path, "tensor '%s': external data not readable",
                        tp->name);
        return NULL;
    }
    Onnx__TensorProto *c = amalloc(x, sizeof *c);
    if (!c)
        return NULL;
    *c = *tp;
    set_bytes(x, c, t->data, t->nbytes);
    return c;
}

/* Write one weight as DequantizeLinear (chain nodes into pre) or MatMulNBits (its MatMul
 * consumers recorded in from/to for replacement). False on failure (x->rc set). */
static bool replace_weight(ex *x, const Onnx__GraphProto *g, const Onnx__TensorProto *tp,
                           const wg_tensor *t, const wg_plan_entry *e, how h, tensorlist *inits,
                           nodelist *pre, const Onnx__NodeProto **from, Onnx__NodeProto **to,
                           size_t *nrep)
{
    if (h == HOW_DQ)
        return emit_dq(x, tp, t, e, inits, pre) == 0;
    Onnx__NodeProto **mms = amalloc(x, sizeof *mms * g->n_node);
    Onnx__NodeProto **reps = amalloc(x, sizeof *reps * g->n_node);
    size_t nmm = 0;
    for (size_t k = 0; mms && k < g->n_node; k++)
        if (g->node[k]->n_input == 2 && g->node[k]->input[1] &&
            !strcmp(g->node[k]->input[1], tp->name))
            mms[nmm++] = g->node[k];
    if (!mms || !reps || emit_nbits(x, tp, t, e, inits, mms, nmm, reps))
        return false;
    for (size_t k = 0; k < nmm; k++) {
        from[*nrep] = mms[k];
        to[(*nrep)++] = reps[k];
    }
    return true;
}

static Onnx__GraphProto *rewrite(ex *x, const Onnx__GraphProto *g, const char *scope, int depth)
{
    Onnx__GraphProto *ng = amalloc(x, sizeof *ng);
    if (!ng || depth > 32)
        return NULL;
    *ng = *g;
    tensorlist inits = {0};
    nodelist pre = {0}, nodes = {0};
    /* replaced MatMul nodes: original pointer -> replacement */
    const Onnx__NodeProto **from = amalloc(x, sizeof *from * (g->n_node + 1));
    Onnx__NodeProto **to = amalloc(x, sizeof *to * (g->n_node + 1));
    size_t nrep = 0;
    char **removed = amalloc(x, sizeof *removed * (g->n_initializer + 1));
    size_t nremoved = 0;
    if (!from || !to || !removed)
        return NULL;
    for (size_t i = 0; !x->rc && i < g->n_initializer; i++) {
        Onnx__TensorProto *tp = g->initializer[i];
        size_t ti = 0;
        const wg_tensor *t = tp->name ? lookup(x, scope, tp->name, &ti) : NULL;
        const char *why = "kept";
        how h = t ? choose(x, g, tp, t, &x->plan[ti], &why) : HOW_KEEP;
        if (t)
            note(x, t, why);
        if (h == HOW_KEEP) {
            PUSH(x, &inits, keep_tensor(x, tp, t));
            if (t && x->plan[ti].fmt.kind == WG_Q_INT)
                x->res->kept_int++;
            continue;
        }
        removed[nremoved++] = tp->name;
        if (!replace_weight(x, g, tp, t, &x->plan[ti], h, &inits, &pre, from, to, &nrep))
            break;
    }
    if (x->rc)
        return NULL;
    /* Constant nodes holding weights (the reader lists them under their output name) */
    bool *dropped = amalloc(x, sizeof *dropped * (g->n_node + 1));
    for (size_t i = 0; dropped && !x->rc && i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        if (!nd->op_type || strcmp(nd->op_type, "Constant") || nd->n_output != 1 ||
            nd->n_attribute != 1 || !nd->attribute[0]->t || !nd->attribute[0]->name ||
            strcmp(nd->attribute[0]->name, "value"))
            continue;
        size_t ti = 0;
        const wg_tensor *t = lookup(x, scope, nd->output[0], &ti);
        if (!t || x->plan[ti].fmt.kind != WG_Q_INT)
            continue;
        Onnx__TensorProto *tp = amalloc(x, sizeof *tp);
        if (!tp)
            break;
        *tp = *nd->attribute[0]->t;
        tp->name = nd->output[0];
        const char *why = "kept";
        how h = choose(x, g, tp, t, &x->plan[ti], &why);
        note(x, t, why);
        if (h == HOW_KEEP) {
            x->res->kept_int++;
            continue;
        }
        dropped[i] = true;
        if (!replace_weight(x, g, tp, t, &x->plan[ti], h, &inits, &pre, from, to, &nrep))
            break;
    }
    if (x->rc || !dropped)
        return NULL;
    for (size_t i = 0; i < pre.n; i++)
        PUSH(x, &nodes, pre.v[i]);
    for (size_t i = 0; i < g->n_node; i++) {
        Onnx__NodeProto *nd = g->node[i];
        if (dropped[i])
            continue;
        for (size_t k = 0; k < nrep; k++)
            if (from[k] == nd) {
                nd = to[k];
                break;
            }
        bool has_sub = false;
        for (size_t a = 0; a < nd->n_attribute; a++)
            has_sub |= nd->attribute[a]->g || nd->attribute[a]->n_graphs;
        if (has_sub) {
            Onnx__NodeProto *c = amalloc(x, sizeof *c);
            Onnx__AttributeProto **av = amalloc(x, sizeof *av * nd->n_attribute);
            if (!c || !av)
                return NULL;
            *c = *nd;
            for (size_t a = 0; a < nd->n_attribute; a++) {
                const Onnx__AttributeProto *at = nd->attribute[a];
                av[a] = (Onnx__AttributeProto *)at;
                if (!at->g && !at->n_graphs)
                    continue;
                Onnx__AttributeProto *ac = amalloc(x, sizeof *ac);
                if (!ac)
                    return NULL;
                *ac = *at;
                char sub[4096];
                if (at->g) {
                    wg_onnx_sub_scope(sub, sizeof sub, scope, nd, i, at->name ? at->name : "g", -1);
                    if (!(ac->g = rewrite(x, at->g, sub, depth + 1)))
                        return NULL;
                }
                if (at->n_graphs) {
                    ac->graphs = amalloc(x, sizeof *ac->graphs * at->n_graphs);
                    if (!ac->graphs)
                        return NULL;
                    for (size_t k = 0; k < at->n_graphs; k++) {
                        wg_onnx_sub_scope(sub, sizeof sub, scope, nd, i,
                                          at->name ? at->name : "graphs", (long)k);
                        if (!(ac->graphs[k] = rewrite(x, at->graphs[k], sub, depth + 1)))
                            return NULL;
                    }
                }
                av[a] = ac;
            }
            c->attribute = av;
            nd = c;
        }
        PUSH(x, &nodes, nd);
    }
    /* IR < 4 lists initializers among the graph inputs: drop the replaced ones */
    Onnx__ValueInfoProto **inputs = amalloc(x, sizeof *inputs * (g->n_input + 1));
    size_t nin = 0;
    for (size_t i = 0; inputs && i < g->n_input; i++) {
        bool drop = false;
        for (size_t k = 0; k < nremoved && !drop; k++)
            drop = g->input[i]->name && !strcmp(g->input[i]->name, removed[k]);
        if (!drop)
            inputs[nin++] = g->input[i];
    }
    if (x->rc || !inputs)
        return NULL;
    ng->n_initializer = inits.n;
    ng->initializer = inits.v;
    ng->n_node = nodes.n;
    ng->node = nodes.v;
    ng->n_input = nin;
    ng->input = inputs;
    return ng;
}

/* ---------------------------------------------------------------- output */

typedef struct file_buffer {
    ProtobufCBuffer base;
    wg_atomic_file *f;
    wg_error *err;
    int rc;
} file_buffer;

static void fb_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    file_buffer *fb = (file_buffer *)b;
    if (!fb->rc)
        fb->rc = wg_atomic_write(fb->f, data, len, fb->err);
}

int wg_onnx_export(const wg_model *m, const wg_plan_entry *plan, const wg_onnx_export_opts *o,
                   wg_onnx_export_result *res, wg_error *err)
{
    memset(res, 0, sizeof *res);
    res->tensors = json_object();
    const Onnx__ModelProto *mp = m->in ? m->in->onnx : NULL;
    if (m->kind != WG_IN_ONNX || !mp)
        return wg_fail(err, WG_EUSAGE, m->path, "--emit-onnx needs an ONNX input model");
    ex x = {.m = m, .plan = plan, .o = o, .res = res, .err = err, .opset = 1};
    for (size_t i = 0; i < mp->n_opset_import; i++)
        if (!mp->opset_import[i]->domain || !*mp->opset_import[i]->domain ||
            !strcmp(mp->opset_import[i]->domain, "ai.onnx"))
            x.opset = (int)mp->opset_import[i]->version;
    uint64_t total = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        total += m->tensors[i].nbytes;
    x.external = o->external || total > EMBED_LIMIT;
    const char *base = strrchr(o->out_path, '/');
    base = base ? base + 1 : o->out_path;
    snprintf(x.data_name, sizeof x.data_name, "%s.data", base);
    char data_path[PATH_MAX + 8];
    snprintf(data_path, sizeof data_path, "%s.data", o->out_path);
    bool data_open = false;
    if (x.external) {
        if ((x.rc = wg_atomic_open(&x.data, data_path, err)))
            goto out;
        data_open = true;
    }
    Onnx__ModelProto nm = *mp;
    Onnx__GraphProto *g = rewrite(&x, mp->graph, "", 0);
    if (!g) {
        if (!x.rc)
            x.rc = wg_fail(err, WG_EIO, NULL, "out of memory");
        goto out;
    }
    nm.graph = g;
    if (o->n_extra_outputs) { /* calibration: activations as extra graph outputs */
        Onnx__ValueInfoProto **outs = amalloc(&x, sizeof *outs * (g->n_output + o->n_extra_outputs));
        Onnx__ValueInfoProto *vi = amalloc(&x, sizeof *vi * o->n_extra_outputs);
        if (!outs || !vi)
            goto out;
        memcpy(outs, g->output, sizeof *outs * g->n_output);
        for (size_t i = 0; i < o->n_extra_outputs; i++) {
            onnx__value_info_proto__init(&vi[i]);
            vi[i].name = (char *)o->extra_outputs[i];
            outs[g->n_output + i] = &vi[i];
        }
        g->output = outs;
        g->n_output += o->n_extra_outputs;
    }
    if (x.need_ms) {
        bool have = false;
        for (size_t i = 0; i < mp->n_opset_import; i++)
            have |= mp->opset_import[i]->domain &&
                    !strcmp(mp->opset_import[i]->domain, "com.microsoft");
        if (!have) {
            Onnx__OperatorSetIdProto **ops = amalloc(&x, sizeof *ops * (mp->n_opset_import + 1));
            Onnx__OperatorSetIdProto *ms = amalloc(&x, sizeof *ms);
            if (!ops || !ms)
                goto out;
            memcpy(ops, mp->opset_import, sizeof *ops * mp->n_opset_import);
            onnx__operator_set_id_proto__init(ms);
            ms->domain = (char *)"com.microsoft";
            ms->has_version = 1;
            ms->version = 1;
            ops[mp->n_opset_import] = ms;
            nm.opset_import = ops;
            nm.n_opset_import = mp->n_opset_import + 1;
        }
    }
    nm.producer_name = (char *)"wgpack";
    nm.producer_version = (char *)(o->version ? o->version : "");
    size_t sz = onnx__model_proto__get_packed_size(&nm);
    if (sz > (2ull << 30) - 1) {
        x.rc = wg_fail(err, WG_EINPUT, o->out_path, "the model proto would be %zu bytes (over "
                       "protobuf's 2 GiB): use --external-data", sz);
        goto out;
    }
    wg_atomic_file f;
    if ((x.rc = wg_atomic_open(&f, o->out_path, err)))
        goto out;
    file_buffer fb = {.base = {.append = fb_append}, .f = &f, .err = err};
    onnx__model_proto__pack_to_buffer(&nm, &fb.base);
    if ((x.rc = fb.rc)) {
        wg_atomic_abort(&f);
        goto out;
    }
    if (data_open) {
        data_open = false;
        if ((x.rc = wg_atomic_commit(&x.data, err))) {
            wg_atomic_abort(&f);
            goto out;
        }
    }
    if ((x.rc = wg_atomic_commit(&f, err))) {
        if (x.external)
            unlink(data_path);
        goto out;
    }
    res->onnx_bytes = sz;
    res->data_bytes = x.external ? x.data_off : 0;
    res->external = x.external;
out:
    if (data_open)
        wg_atomic_abort(&x.data);
    while (x.arena) {
        arena_blk *n = x.arena->next;
        free(x.arena);
        x.arena = n;
    }
    return x.rc;
}
