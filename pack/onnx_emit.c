/* pack/onnx_emit.c — one weight of the ONNX export, in the form onnx_store.c chose:
 *   MatMulNBits           the MatMul becomes com.microsoft::MatMulNBits whose B is the bundle's
 *                         packed data plane unchanged ([N][K/G][G*b/8]: same bit order), scales
 *                         in the activation type, zero points repacked to b-bit fields per row.
 *   GatherBlockQuantized  the Gather becomes com.microsoft::GatherBlockQuantized: uint8 data of
 *                         2-, 4- or 8-bit codes [rows][K*sb/8] (low bits first, the codes moved
 *                         to ORT's default zero point 2^(sb-1)), one scale per group in the
 *                         table's type.
 *   DequantizeLinear      codes [rows*groups][G] as packed uint4 (2..4-bit formats) or uint8,
 *                         DequantizeLinear with scale 1 (and, symmetric, zero point 2^(sb-1)):
 *                         exact integers, then (asymmetric: minus the zero points) times the
 *                         per-group scales stored fp16 and Cast to f32, then Reshape -> (Gather
 *                         to drop padding) -> (Transpose back to [in, out]) -> (Reshape to the
 *                         original shape) -> (Cast), the last step taking the original name, so
 *                         consumers are untouched. Every value equals the bundle's dequantized
 *                         one (s * (u - z), computed in f32 as the C reference does). uint4
 *                         DequantizeLinear is ai.onnx from opset 21, com.microsoft below; uint8
 *                         is ai.onnx from opset 10.
 *   fp16 + Cast           an f32 weight planned fp16: stored fp16, Cast to f32 under its name.
 * New messages live in the export's arena and only point into the input's unpacked proto. */
#include "onnx_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXTERNAL_MIN 1024
#define ONNX_UINT4 21

/* ---------------------------------------------------------------- arena and messages */

void *ox_alloc(ox *x, size_t n)
{
    ox_arena *b = calloc(1, sizeof *b + (n ? n : 1));
    if (!b) {
        if (!x->rc)
            x->rc = wg_fail(x->err, WG_EIO, NULL, "out of memory");
        return NULL;
    }
    b->next = x->arena;
    x->arena = b;
    return b->d;
}

char *ox_str(ox *x, const char *a, const char *b)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *s = ox_alloc(x, la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        if (lb)
            memcpy(s + la, b, lb);
        s[la + lb] = 0;
    }
    return s;
}

void *ox_copy(ox *x, const void *p, size_t n)
{
    void *d = ox_alloc(x, n);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

bool ox_push(ox *x, void ***v, size_t *n, size_t *cap, void *p)
{
    if (!p)
        return false;
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        void **nv = ox_alloc(x, nc * sizeof *nv);
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

/* External tensors: every one names x->location, so that renaming the data file at commit
 * only changes that one string. */
static void set_external(ox *x, Onnx__TensorProto *tp, const void *bytes, uint64_t n)
{
    static const uint8_t zeros[64];
    uint64_t pad = (64 - x->data_off % 64) % 64; /* 64-byte aligned, mmap friendly */
    if (!x->o->dry_run &&
        (x->rc || (pad && (x->rc = wg_atomic_write(&x->pair.data, zeros, pad, x->err))) ||
         (x->rc = wg_atomic_write(&x->pair.data, bytes, n, x->err))))
        return;
    x->data_off += pad;
    Onnx__StringStringEntryProto **kv = ox_alloc(x, 3 * sizeof *kv);
    Onnx__StringStringEntryProto *e = ox_alloc(x, 3 * sizeof *e);
    char *num = ox_alloc(x, 48);
    if (!kv || !e || !num)
        return;
    snprintf(num, 24, "%llu", (unsigned long long)x->data_off);
    snprintf(num + 24, 24, "%llu", (unsigned long long)n);
    const char *keys[3] = {"location", "offset", "length"};
    char *vals[3] = {x->location, num, num + 24};
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

/* Put a tensor's bytes inline or into the external data file. `bytes` must stay valid until
 * the model is packed (inline case). */
void ox_set_bytes(ox *x, Onnx__TensorProto *tp, const void *bytes, uint64_t n);
void ox_set_bytes(ox *x, Onnx__TensorProto *tp, const void *bytes, uint64_t n)
{
    tp->has_raw_data = 0;
    tp->raw_data.len = 0;
    tp->raw_data.data = NULL;
    tp->has_data_location = 0;
    tp->n_external_data = 0;
    tp->external_data = NULL;
    tp->n_float_data = tp->n_int32_data = tp->n_int64_data = tp->n_double_data = 0;
    tp->n_uint64_data = 0;
    if (x->external && n >= EXTERNAL_MIN) {
        set_external(x, tp, bytes, n);
        return;
    }
    tp->has_raw_data = 1;
    tp->raw_data.len = n;
    tp->raw_data.data = (uint8_t *)bytes;
}

Onnx__TensorProto *ox_tensor(ox *x, const char *name, int dtype, int ndim, const int64_t *dims,
                             const void *bytes, uint64_t n)
{
    Onnx__TensorProto *tp = ox_alloc(x, sizeof *tp);
    int64_t *d = ox_alloc(x, sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
    if (!tp || !d)
        return NULL;
    onnx__tensor_proto__init(tp);
    tp->name = (char *)name;
    tp->has_data_type = 1;
    tp->data_type = dtype;
    tp->n_dims = (size_t)ndim;
    if (ndim)
        memcpy(d, dims, sizeof(int64_t) * (size_t)ndim);
    tp->dims = d;
    ox_set_bytes(x, tp, bytes, n);
    return tp;
}

const void *ox_transient(ox *x, const void *p, uint64_t n)
{
    return x->external && n >= EXTERNAL_MIN ? p : ox_copy(x, p, (size_t)n);
}

Onnx__AttributeProto *ox_attr_int(ox *x, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = ox_alloc(x, sizeof *a);
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

static Onnx__AttributeProto *attr_ints(ox *x, const char *name, const int64_t *v, size_t n)
{
    Onnx__AttributeProto *a = ox_alloc(x, sizeof *a);
    int64_t *c = ox_alloc(x, sizeof *c * (n ? n : 1));
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

Onnx__NodeProto *ox_node(ox *x, const char *op, const char *domain, const char *name,
                         const char *const *in, size_t nin, const char *out,
                         Onnx__AttributeProto *const *attrs, size_t nattr)
{
    Onnx__NodeProto *nd = ox_alloc(x, sizeof *nd);
    char **iv = ox_alloc(x, sizeof *iv * (nin ? nin : 1)), **ov = ox_alloc(x, sizeof *ov);
    Onnx__AttributeProto **av = ox_alloc(x, sizeof *av * (nattr ? nattr : 1));
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

/* ---------------------------------------------------------------- quantized planes */

/* Quantize t into a fresh malloc'd buffer of e->bytes (zeros in a dry run). */
static uint8_t *quantized(ox *x, const wg_tensor *t, const wg_plan_entry *e, bool count)
{
    uint8_t *buf = calloc(1, e->bytes ? e->bytes : 1);
    if (!buf) {
        x->rc = wg_fail(x->err, WG_EIO, NULL, "out of memory");
        return NULL;
    }
    if (x->o->dry_run)
        return buf;
    wg_qmetrics qm = {0};
    wg_qopts qo = {.search = x->o->search, .threads = x->o->threads,
                   .importance = x->o->importance ? x->o->importance[t - x->m->tensors] : NULL};
    int rc = wg_quantize_tensor(t, e, &qo, buf, &qm, x->err);
    if (rc) {
        free(buf);
        x->rc = rc;
        return NULL;
    }
    if (count) {
        x->res->sse += qm.sse;
        x->res->ssx += qm.ssx;
    }
    json_t *tj = json_object_get(x->res->tensors, t->name);
    double sq = wg_qm_sqnr_db(&qm);
    if (tj) {
        json_object_set_new(tj, "sqnr_db", isfinite(sq) ? json_real(sq) : json_null());
        json_object_set_new(tj, "rel_rmse", json_real(wg_qm_rel_rmse(&qm)));
    }
    return buf;
}

/* Scales of an integer plane set as f32 (or f16 when want_f16) in a new arena buffer. */
static void *scales_as(ox *x, const wg_plan_entry *e, const wg_qlayout *l, const uint8_t *planes,
                       bool want_f16)
{
    uint64_t n = (uint64_t)l->rows * (uint64_t)l->ngroups;
    const uint8_t *s = planes + l->data_bytes;
    if (want_f16) {
        uint16_t *o = ox_alloc(x, n * 2);
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
    float *o = ox_alloc(x, n * 4);
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

/* Codes of every group, moved by `shift` and repacked at sb bits: ng*G*sb/8 bytes (malloc). */
static uint8_t *recode(ox *x, const uint8_t *planes, uint64_t ncodes, int bits, int sb, int shift)
{
    uint8_t *codes = malloc(ncodes ? ncodes : 1), *out = malloc((ncodes * (uint64_t)sb + 7) / 8 + 1);
    if (!codes || !out) {
        free(codes);
        free(out);
        x->rc = wg_fail(x->err, WG_EIO, NULL, "out of memory");
        return NULL;
    }
    wg_unpack_codes(planes, ncodes, bits, codes); /* groups are consecutive */
    for (uint64_t i = 0; i < ncodes; i++)
        codes[i] = (uint8_t)(codes[i] + shift);
    wg_pack_codes(codes, ncodes, sb, out);
    free(codes);
    return out;
}

/* ---------------------------------------------------------------- MatMulNBits */

static int emit_nbits(ox *x, const Onnx__GraphProto *g, const Onnx__TensorProto *tp,
                      const wg_tensor *t, const wg_plan_entry *e, ox_tensors *inits, ox_repl *r)
{
    uint8_t *planes = quantized(x, t, e, true);
    if (!planes)
        return x->rc;
    wg_qlayout l;
    wg_qformat_layout(&e->fmt, e->rows, e->K, &l);
    const int bits = e->fmt.bits;
    const char *qn = ox_str(x, tp->name, "_Q"), *sn = ox_str(x, tp->name, "_scales"),
               *zn = ox_str(x, tp->name, "_zp");
    int64_t bdims[3] = {l.rows, l.ngroups, l.group * bits / 8};
    OX_PUSH(x, inits, ox_tensor(x, qn, WG_DT_U8, 3, bdims, ox_transient(x, planes, l.data_bytes),
                                l.data_bytes));
    bool f16 = t->dtype == WG_DT_F16;
    int64_t sdims[2] = {l.rows, l.ngroups};
    void *sc = scales_as(x, e, &l, planes, f16);
    uint64_t ns = (uint64_t)l.rows * (uint64_t)l.ngroups;
    if (sc)
        OX_PUSH(x, inits, ox_tensor(x, sn, f16 ? WG_DT_F16 : WG_DT_F32, 2, sdims, sc,
                                    ns * (f16 ? 2 : 4)));
    if (!e->fmt.sym) { /* zero points: b-bit fields, ceil(ngroups*b/8) bytes per row */
        int64_t rowb = (l.ngroups * bits + 7) / 8;
        uint8_t *zp = ox_alloc(x, (size_t)(l.rows * rowb));
        const uint8_t *z = planes + l.data_bytes + l.scale_bytes;
        for (int64_t k = 0; zp && k < l.rows; k++)
            wg_pack_codes(z + k * l.ngroups, (uint64_t)l.ngroups, bits, zp + k * rowb);
        int64_t zd = l.rows * rowb;
        if (zp)
            OX_PUSH(x, inits, ox_tensor(x, zn, WG_DT_U8, 1, &zd, zp, (uint64_t)zd));
    }
    free(planes);
    for (size_t k = 0; !x->rc && k < g->n_node; k++) {
        const Onnx__NodeProto *o = g->node[k];
        if (o->n_input != 2 || !o->input[1] || strcmp(o->input[1], tp->name))
            continue;
        const char *in[4] = {o->input[0], qn, sn, zn};
        Onnx__AttributeProto *at[4] = {ox_attr_int(x, "K", l.K), ox_attr_int(x, "N", l.rows),
                                       ox_attr_int(x, "bits", bits),
                                       ox_attr_int(x, "block_size", l.group)};
        Onnx__NodeProto *nd = ox_node(x, "MatMulNBits", "com.microsoft", o->name ? o->name : qn,
                                      in, e->fmt.sym ? 3 : 4, o->output[0], at, 4);
        if (!nd)
            return x->rc ? x->rc : wg_fail(x->err, WG_EIO, NULL, "out of memory");
        r->from[r->n] = o;
        r->to[r->n++] = nd;
    }
    x->need_ms = true;
    x->res->matmulnbits++;
    return x->rc;
}

/* ---------------------------------------------------------------- GatherBlockQuantized */

static int emit_gather(ox *x, const Onnx__GraphProto *g, const Onnx__TensorProto *tp,
                       const wg_tensor *t, const wg_plan_entry *e, ox_tensors *inits, ox_repl *r)
{
    uint8_t *planes = quantized(x, t, e, true);
    if (!planes)
        return x->rc;
    wg_qlayout l;
    wg_qformat_layout(&e->fmt, e->rows, e->K, &l); /* K % group == 0: no padding */
    const int bits = e->fmt.bits, sb = wg_onnx_storage_bits(WG_ONNX_GATHERQ, bits);
    uint64_t nc = (uint64_t)l.rows * (uint64_t)l.K, nbytes = nc * (uint64_t)sb / 8;
    uint8_t *data = recode(x, planes, nc, bits, sb, (1 << (sb - 1)) - (1 << (bits - 1)));
    const char *qn = ox_str(x, tp->name, "_Q"), *sn = ox_str(x, tp->name, "_scales");
    int64_t dd[2] = {l.rows, l.K * sb / 8}, sd[2] = {l.rows, l.ngroups};
    if (data)
        OX_PUSH(x, inits, ox_tensor(x, qn, WG_DT_U8, 2, dd, ox_transient(x, data, nbytes), nbytes));
    free(data);
    bool f16 = t->dtype == WG_DT_F16;
    void *sc = scales_as(x, e, &l, planes, f16);
    free(planes);
    if (sc)
        OX_PUSH(x, inits, ox_tensor(x, sn, f16 ? WG_DT_F16 : WG_DT_F32, 2, sd, sc,
                                    (uint64_t)(sd[0] * sd[1]) * (f16 ? 2 : 4)));
    for (size_t k = 0; !x->rc && k < g->n_node; k++) {
        const Onnx__NodeProto *o = g->node[k];
        if (o->n_input != 2 || !o->input[0] || strcmp(o->input[0], tp->name))
            continue;
        const char *in[3] = {qn, o->input[1], sn};
        Onnx__AttributeProto *at[4] = {ox_attr_int(x, "bits", sb),
                                       ox_attr_int(x, "block_size", l.group),
                                       ox_attr_int(x, "gather_axis", 0),
                                       ox_attr_int(x, "quantize_axis", 1)};
        Onnx__NodeProto *nd = ox_node(x, "GatherBlockQuantized", "com.microsoft",
                                      o->name ? o->name : qn, in, 3, o->output[0], at, 4);
        if (!nd)
            return x->rc ? x->rc : wg_fail(x->err, WG_EIO, NULL, "out of memory");
        r->from[r->n] = o;
        r->to[r->n++] = nd;
    }
    x->need_ms = true;
    x->res->gather_quantized++;
    return x->rc;
}

/* ---------------------------------------------------------------- DequantizeLinear chain */

typedef struct chain {
    ox *x;
    ox_nodes *pre;
    ox_tensors *inits;
    const char *nm;   /* the weight's name: steps are "<nm>::wgpack<k>" */
    const char *cur;  /* output of the last step */
    int step;
} chain;

static void chain_add(chain *c, const char *op, const char *domain, const char *in2,
                      Onnx__AttributeProto *at)
{
    char sn[64];
    snprintf(sn, sizeof sn, "::wgpack%d", ++c->step);
    const char *o = ox_str(c->x, c->nm, sn), *in[2] = {c->cur, in2};
    OX_PUSH(c->x, c->pre, ox_node(c->x, op, domain, o, in, in2 ? 2 : 1, o, &at, at ? 1 : 0));
    c->cur = o;
}

/* An i64 1-D initializer for Reshape/Gather, named <nm><suffix>. */
static const char *i64_init(chain *c, const char *suffix, const int64_t *v, int64_t n)
{
    const char *name = ox_str(c->x, c->nm, suffix);
    OX_PUSH(c->x, c->inits, ox_tensor(c->x, name, WG_DT_I64, 1, &n, ox_copy(c->x, v, 8 * (size_t)n),
                                      8 * (uint64_t)n));
    return name;
}

/* [rows*groups][G] f32 values -> the original tensor under its own name. */
static void chain_shape(chain *c, const wg_tensor *t, const wg_qlayout *l)
{
    ox *x = c->x;
    const bool need_gather = l->Kp != l->K, transpose = t->in_dim_first && t->ndim == 2;
    int64_t shp2[2] = {l->rows, l->Kp};
    bool direct = !need_gather && !transpose;
    chain_add(c, "Reshape", "", i64_init(c, "::wgpack_shape", direct ? t->shape : shp2,
                                         direct ? t->ndim : 2), NULL);
    if (need_gather) {
        int64_t *idx = ox_alloc(x, 8 * (size_t)l->K);
        for (int64_t i = 0; idx && i < l->K; i++)
            idx[i] = i;
        const char *iname = ox_str(x, c->nm, "::wgpack_cols");
        OX_PUSH(x, c->inits, ox_tensor(x, iname, WG_DT_I64, 1, &l->K, idx, 8 * (uint64_t)l->K));
        chain_add(c, "Gather", "", iname, ox_attr_int(x, "axis", 1));
    }
    if (transpose) {
        const int64_t perm[2] = {1, 0};
        chain_add(c, "Transpose", "", NULL, attr_ints(x, "perm", perm, 2));
    } else if (need_gather && t->ndim != 2)
        chain_add(c, "Reshape", "", i64_init(c, "::wgpack_shape_out", t->shape, t->ndim), NULL);
    if (t->dtype != WG_DT_F32)
        chain_add(c, "Cast", "", NULL, ox_attr_int(x, "to", t->dtype));
}

static int emit_dq(ox *x, const Onnx__TensorProto *tp, const wg_tensor *t,
                   const wg_plan_entry *e, ox_tensors *inits, ox_nodes *pre)
{
    uint8_t *planes = quantized(x, t, e, true);
    if (!planes)
        return x->rc;
    wg_qlayout l;
    wg_qformat_layout(&e->fmt, e->rows, e->K, &l);
    const int bits = e->fmt.bits, sb = wg_onnx_storage_bits(WG_ONNX_DQ, bits);
    const int64_t G = l.group, ng = l.rows * l.ngroups;
    const uint64_t nc = (uint64_t)(ng * G), nbytes = nc * (uint64_t)sb / 8;
    const char *nm = tp->name;
    chain c = {.x = x, .pre = pre, .inits = inits, .nm = nm};
    /* codes: symmetric ones moved to the storage's middle, which is the zero point */
    uint8_t *data = recode(x, planes, nc, bits, sb, e->fmt.sym ? (1 << (sb - 1)) - (1 << (bits - 1)) : 0);
    const char *qn = ox_str(x, nm, "_Q"), *one = ox_str(x, nm, "::wgpack_one"),
               *zq = ox_str(x, nm, "::wgpack_zq");
    int64_t qd[2] = {ng, G}, gd[2] = {ng, 1};
    int qt = sb == 4 ? ONNX_UINT4 : WG_DT_U8;
    if (data)
        OX_PUSH(x, inits, ox_tensor(x, qn, qt, 2, qd, ox_transient(x, data, nbytes), nbytes));
    free(data);
    static const float f_one = 1.0f;
    OX_PUSH(x, inits, ox_tensor(x, one, WG_DT_F32, 0, NULL, ox_copy(x, &f_one, 4), 4));
    uint8_t zmid = (uint8_t)(1 << (sb - 1));
    if (e->fmt.sym)
        OX_PUSH(x, inits, ox_tensor(x, zq, qt, 0, NULL, ox_copy(x, &zmid, 1), 1));
    const char *sn = ox_str(x, nm, "_scales"), *zn = ox_str(x, nm, "_zp");
    void *sc = scales_as(x, e, &l, planes, !e->fmt.scale_f32);
    if (sc)
        OX_PUSH(x, inits, ox_tensor(x, sn, e->fmt.scale_f32 ? WG_DT_F32 : WG_DT_F16, 2, gd, sc,
                                    (uint64_t)ng * (e->fmt.scale_f32 ? 4 : 2)));
    if (!e->fmt.sym)
        OX_PUSH(x, inits, ox_tensor(x, zn, WG_DT_U8, 2, gd,
                                    ox_copy(x, planes + l.data_bytes + l.scale_bytes, (size_t)ng),
                                    (uint64_t)ng));
    free(planes);
    if (x->rc)
        return x->rc;
    bool ms = sb == 4 ? x->opset < 21 : x->opset < 10;
    const char *in[3] = {qn, one, zq};
    c.cur = ox_str(x, nm, "::wgpack0");
    OX_PUSH(x, pre, ox_node(x, "DequantizeLinear", ms ? "com.microsoft" : "", c.cur, in,
                            e->fmt.sym ? 3 : 2, c.cur, NULL, 0));
    x->need_ms |= ms;
    if (!e->fmt.sym) { /* minus the zero points, as f32 */
        chain cz = {.x = x, .pre = pre, .inits = inits, .nm = zn, .cur = zn};
        chain_add(&cz, "Cast", "", NULL, ox_attr_int(x, "to", WG_DT_F32));
        chain_add(&c, "Sub", "", cz.cur, NULL);
    }
    const char *sf = sn;
    if (!e->fmt.scale_f32) {
        chain c2 = {.x = x, .pre = pre, .inits = inits, .nm = sn, .cur = sn};
        chain_add(&c2, "Cast", "", NULL, ox_attr_int(x, "to", WG_DT_F32));
        sf = c2.cur;
    }
    chain_add(&c, "Mul", "", sf, NULL);
    chain_shape(&c, t, &l);
    if (x->rc)
        return x->rc;
    pre->v[pre->n - 1]->output[0] = (char *)nm; /* the last step makes the original name */
    x->res->dequantize++;
    return 0;
}

/* ---------------------------------------------------------------- fp16 + Cast */

static int emit_fp16(ox *x, const Onnx__TensorProto *tp, const wg_tensor *t,
                     const wg_plan_entry *e, ox_tensors *inits, ox_nodes *pre)
{
    uint8_t *mv = quantized(x, t, e, false); /* fp16 in the matrix view: rows x K */
    if (!mv)
        return x->rc;
    uint16_t *h = ox_alloc(x, t->numel * 2), *src = (uint16_t *)mv;
    bool transpose = t->in_dim_first && t->ndim == 2;
    for (uint64_t i = 0; h && i < t->numel; i++) { /* back to the stored layout [in, out] */
        uint64_t r = transpose ? i % (uint64_t)e->rows : 0, k = transpose ? i / (uint64_t)e->rows : 0;
        h[i] = transpose ? src[r * (uint64_t)e->K + k] : src[i];
    }
    free(mv);
    const char *hn = ox_str(x, tp->name, "_fp16");
    if (h)
        OX_PUSH(x, inits, ox_tensor(x, hn, WG_DT_F16, t->ndim, t->shape, h, t->numel * 2));
    const char *in[1] = {hn};
    Onnx__AttributeProto *to = ox_attr_int(x, "to", WG_DT_F32);
    OX_PUSH(x, pre, ox_node(x, "Cast", "", tp->name, in, 1, tp->name, &to, 1));
    x->res->cast_fp16++;
    return x->rc;
}

int ox_emit(ox *x, const Onnx__GraphProto *g, const Onnx__TensorProto *tp, const wg_tensor *t,
            const wg_plan_entry *e, wg_onnx_form form, ox_tensors *inits, ox_nodes *pre,
            ox_repl *r)
{
    switch (form) {
    case WG_ONNX_NBITS: return emit_nbits(x, g, tp, t, e, inits, r);
    case WG_ONNX_GATHERQ: return emit_gather(x, g, tp, t, e, inits, r);
    case WG_ONNX_DQ: return emit_dq(x, tp, t, e, inits, pre);
    case WG_ONNX_FP16: return emit_fp16(x, tp, t, e, inits, pre);
    default: return 0;
    }
}
