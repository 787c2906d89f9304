/* formats/onnx.c — ONNX reader: ModelProto via protobuf-c (schema compiled at build time from
 * Debian's onnx.proto), initializers of the main graph and of every subgraph (If/Loop/Scan
 * bodies), Constant nodes holding weights, typed fields, embedded raw_data, and external data
 * mmapped from files that must stay inside the model's directory.
 *
 * Memory: protobuf-c copies embedded raw_data while unpacking (it has no zero-copy mode), so a
 * model with embedded weights (< 2 GB by protobuf's own limit) costs its size once in memory;
 * external data (the only way to exceed 2 GB) is mmapped and never copied. */
#define _GNU_SOURCE
#include "model.h"
#include "model_internal.h"
#include "onnx.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

typedef struct reader {
    wg_model *m;
    const char *path; /* the .onnx file */
    char dir[PATH_MAX];      /* its directory, as given */
    char realdir[PATH_MAX];  /* its directory, resolved */
    wg_error *err;
    /* consumers, gathered while walking (parallel arrays by tensor index) */
} reader;

bool wg_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

/* Resolve an external-data location by the model-file policy; returns source index or -code. */
static int external_source(reader *r, const char *tname, const char *loc)
{
    if (!*loc)
        return -wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': empty external data location",
                        tname);
    char what[4200], real[4096];
    snprintf(what, sizeof what, "tensor '%s': external data location", tname);
    int rc = wg_model_file(r->dir, loc, what, r->path, real, r->err);
    return rc ? -rc : wg_source_map(r->m, real, r->err);
}

static bool keep_constant(const Onnx__TensorProto *t)
{
    uint64_t numel;
    if (!wg_shape_numel(t->dims, (int)t->n_dims, &numel))
        return true; /* let the reader report the bad shape */
    return wg_dtype_is_float((wg_dtype)t->data_type) || numel >= 1024;
}

/* Convert a typed-field tensor into owned little-endian element bytes. */
static int typed_data(reader *r, const Onnx__TensorProto *tp, wg_tensor *t)
{
    const char *nm = t->name;
    size_t esz = wg_dtype_bits(t->dtype) / 8;
    uint64_t want_n = t->numel;
    size_t have;
    switch (t->dtype) {
    case WG_DT_F32: have = tp->n_float_data; break;
    case WG_DT_F64: have = tp->n_double_data; break;
    case WG_DT_I64: have = tp->n_int64_data; break;
    case WG_DT_U32: case WG_DT_U64: have = tp->n_uint64_data; break;
    case WG_DT_U4: case WG_DT_I4: case WG_DT_F4E2M1:
        want_n = (t->numel + 1) / 2; esz = 1; have = tp->n_int32_data; break;
    default: have = tp->n_int32_data; break;
    }
    if (have != want_n)
        return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': typed data has %zu values, "
                       "shape needs %llu", nm, have, (unsigned long long)want_n);
    uint8_t *buf = wg_model_alloc(r->m, t->nbytes);
    if (!buf)
        return wg_fail(r->err, WG_EIO, r->path, "out of memory");
    for (uint64_t i = 0; i < want_n; i++) {
        uint64_t v;
        switch (t->dtype) {
        case WG_DT_F32: memcpy(&buf[i * 4], &tp->float_data[i], 4); continue;
        case WG_DT_F64: memcpy(&buf[i * 8], &tp->double_data[i], 8); continue;
        case WG_DT_I64: v = (uint64_t)tp->int64_data[i]; break;
        case WG_DT_U32: case WG_DT_U64: v = tp->uint64_data[i]; break;
        default: v = (uint64_t)(uint32_t)tp->int32_data[i]; break;
        }
        for (size_t b = 0; b < esz; b++) /* little-endian, truncated to the element size */
            buf[i * esz + b] = (uint8_t)(v >> (8 * b));
    }
    t->data = buf;
    return 0;
}

static int add_tensor(reader *r, const Onnx__TensorProto *tp, const char *scope,
                      const char *name_override)
{
    const char *base = name_override ? name_override : tp->name;
    if (!base || !*base)
        return wg_fail(r->err, WG_EINPUT, r->path, "initializer without a name");
    if (tp->data_type == WG_DT_STRING || tp->data_type == WG_DT_C64 ||
        tp->data_type == WG_DT_C128)
        return 0; /* not weights wgpack can use */
    char qname[4096];
    snprintf(qname, sizeof qname, "%s%s%s", scope, *scope ? "/" : "", base);
    if (tp->data_type <= 0 || tp->data_type >= WG_DT_COUNT || !wg_dtype_bits(tp->data_type))
        return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': unsupported data type %d",
                       qname, (int)tp->data_type);
    if (tp->n_dims > WG_MAX_DIMS)
        return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': %zu dimensions (max %d)",
                       qname, tp->n_dims, WG_MAX_DIMS);
    if (tp->segment)
        return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': segmented tensors are not "
                       "supported", qname);
    wg_tensor *t = wg_model_add(r->m, qname, r->err);
    if (!t)
        return WG_EIO;
    t->dtype = (wg_dtype)tp->data_type;
    t->scope_len = (unsigned)strlen(scope);
    t->ndim = (int)tp->n_dims;
    for (int i = 0; i < t->ndim; i++)
        t->shape[i] = tp->dims[i];
    if (!wg_shape_numel(t->shape, t->ndim, &t->numel))
        return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': negative dimension or shape "
                       "product overflows", qname);
    if (!wg_dtype_bytes(t->dtype, t->numel, &t->nbytes))
        return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': byte size overflows", qname);
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        const char *loc = NULL;
        uint64_t off = 0, len = UINT64_MAX;
        for (size_t i = 0; i < tp->n_external_data; i++) {
            const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
            if (!k || !v)
                continue;
            if (!strcmp(k, "location"))
                loc = v;
            else if (!strcmp(k, "offset") && !wg_parse_u64(v, &off))
                return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': bad external offset "
                               "'%s'", qname, v);
            else if (!strcmp(k, "length") && !wg_parse_u64(v, &len))
                return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': bad external length "
                               "'%s'", qname, v);
        }
        if (!loc)
            return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': external data has no "
                           "location", qname);
        if (len != UINT64_MAX && len != t->nbytes)
            return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': external length %llu but "
                           "shape x dtype needs %llu", qname, (unsigned long long)len,
                           (unsigned long long)t->nbytes);
        int si = external_source(r, qname, loc);
        if (si < 0)
            return -si;
        t = &r->m->tensors[r->m->n_tensors - 1]; /* sources may not move tensors, but be safe */
        const wg_source *s = &r->m->sources[si];
        uint64_t end;
        if (__builtin_add_overflow(off, t->nbytes, &end) || end > s->size)
            return wg_fail(r->err, WG_EINPUT, s->path, "tensor '%s': bytes %llu..%llu lie past "
                           "the end of the file (%llu bytes)", qname, (unsigned long long)off,
                           (unsigned long long)end, (unsigned long long)s->size);
        t->source = si;
        t->offset = off;
        t->data = s->map ? s->map + off : NULL;
        return 0;
    }
    if (tp->has_raw_data) {
        if (tp->raw_data.len != t->nbytes)
            return wg_fail(r->err, WG_EINPUT, r->path, "tensor '%s': raw_data has %zu bytes, "
                           "shape x dtype needs %llu", qname, tp->raw_data.len,
                           (unsigned long long)t->nbytes);
        t->data = tp->raw_data.data;
        return 0;
    }
    return typed_data(r, tp, t);
}

/* Scope for a subgraph: "<node name or op#index>/<attribute>[i]" */
void wg_onnx_sub_scope(char *out, size_t n, const char *scope, const void *nodep, size_t ni,
                       const char *attr, long idx)
{
    const Onnx__NodeProto *node = nodep;
    char nn[256];
    if (node->name && *node->name)
        snprintf(nn, sizeof nn, "%s", node->name);
    else
        snprintf(nn, sizeof nn, "%s_%zu", node->op_type ? node->op_type : "node", ni);
    if (idx >= 0)
        snprintf(out, n, "%s%s%s.%s[%ld]", scope, *scope ? "/" : "", nn, attr, idx);
    else
        snprintf(out, n, "%s%s%s.%s", scope, *scope ? "/" : "", nn, attr);
}

static int walk_graph(reader *r, const Onnx__GraphProto *g, const char *scope, int depth)
{
    if (depth > MAX_DEPTH)
        return wg_fail(r->err, WG_EINPUT, r->path, "subgraphs nested deeper than %d", MAX_DEPTH);
    int rc;
    for (size_t i = 0; i < g->n_initializer; i++)
        if ((rc = add_tensor(r, g->initializer[i], scope, NULL)))
            return rc;
    if (g->n_sparse_initializer)
        return wg_fail(r->err, WG_EINPUT, r->path, "sparse initializers are not supported");
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        for (size_t a = 0; a < nd->n_attribute; a++) {
            const Onnx__AttributeProto *at = nd->attribute[a];
            char sub[4096];
            if (nd->op_type && !strcmp(nd->op_type, "Constant") && at->t && nd->n_output &&
                at->name && !strcmp(at->name, "value") && keep_constant(at->t)) {
                if ((rc = add_tensor(r, at->t, scope, nd->output[0])))
                    return rc;
            }
            if (at->g) {
                wg_onnx_sub_scope(sub, sizeof sub, scope, nd, i, at->name ? at->name : "g", -1);
                if ((rc = walk_graph(r, at->g, sub, depth + 1)))
                    return rc;
            }
            for (size_t k = 0; k < at->n_graphs; k++) {
                wg_onnx_sub_scope(sub, sizeof sub, scope, nd, i, at->name ? at->name : "graphs", (long)k);
                if ((rc = walk_graph(r, at->graphs[k], sub, depth + 1)))
                    return rc;
            }
        }
    }
    return 0;
}

/* protobuf-c unpacks nested messages recursively with no depth limit: a few kilobytes of
 * nesting (TypeProto.sequence_type.elem_type...) overflow the stack before any check of ours
 * runs. So the wire format is walked first, guided by the compiled schema, and messages nested
 * deeper than MAX_NEST are refused. O(fields), no allocation, recursion bounded by MAX_NEST.
 * Returns 0, 1 (too deep) or -1 (malformed wire format). */
#define MAX_NEST 200

static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int sh = 0; sh < 64 && *p < end; sh += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

static int wire_depth(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                      int depth)
{
    if (depth > MAX_NEST)
        return 1;
    while (p < end) {
        uint64_t key, v;
        if (!wire_varint(&p, end, &key))
            return -1;
        switch (key & 7) {
        case 0: if (!wire_varint(&p, end, &v)) return -1; break;
        case 1: if (end - p < 8) return -1; p += 8; break;
        case 5: if (end - p < 4) return -1; p += 4; break;
        case 2: {
            if (!wire_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return -1;
            const ProtobufCFieldDescriptor *f =
                d && key >> 3 <= UINT_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3)) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = wire_depth(f->descriptor, p, p + v, depth + 1);
                if (rc)
                    return rc;
            }
            p += v;
            break;
        }
        default: return -1; /* groups: protobuf-c refuses them too */
        }
    }
    return 0;
}

int wg_onnx_read(wg_model *m, const char *path, wg_error *err)
{
    reader r = {.m = m, .path = path, .err = err};
    const char *slash = strrchr(path, '/');
    snprintf(r.dir, sizeof r.dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (!*r.dir)
        snprintf(r.dir, sizeof r.dir, "/");
    if (!realpath(r.dir, r.realdir))
        return wg_fail(err, WG_EINPUT, path, "cannot resolve directory: %s", strerror(errno));
    int si = wg_source_map(m, path, err);
    if (si < 0)
        return -si;
    const wg_source *s = &m->sources[si];
    if (s->size == 0)
        return wg_fail(err, WG_EINPUT, path, "empty file");
    int nest = wire_depth(&onnx__model_proto__descriptor, s->map, s->map + s->size, 0);
    if (nest > 0)
        return wg_fail(err, WG_EINPUT, path, "protobuf messages nested deeper than %d",
                       MAX_NEST);
    Onnx__ModelProto *mp = nest ? NULL : onnx__model_proto__unpack(NULL, s->size, s->map);
    if (!mp)
        return wg_fail(err, WG_EINPUT, path, "not a valid ONNX ModelProto (protobuf decode "
                       "failed: truncated or wrong format)");
    m->in->onnx = mp;
    if (!mp->graph)
        return wg_fail(err, WG_EINPUT, path, "ModelProto has no graph");
    if (!mp->has_ir_version)
        return wg_fail(err, WG_EINPUT, path, "ModelProto has no ir_version (not an ONNX model?)");
    return walk_graph(&r, mp->graph, "", 0);
}

void wg_onnx_release(wg_model *m)
{
    if (m->in->onnx)
        onnx__model_proto__free_unpacked(m->in->onnx, NULL);
    m->in->onnx = NULL;
}

/* ---- structural roles ---- */

typedef struct use_ctx {
    wg_model *m;
    const char **names; /* sorted qualified names */
    size_t *idx;
} use_ctx;

static long find_tensor(use_ctx *c, const char *scope, const char *name)
{
    /* look in this scope, then each enclosing scope (outer names are visible in subgraphs) */
    char q[4096];
    char sc[4096];
    snprintf(sc, sizeof sc, "%s", scope);
    for (;;) {
        snprintf(q, sizeof q, "%s%s%s", sc, *sc ? "/" : "", name);
        size_t lo = 0, hi = c->m->n_tensors;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int cmp = strcmp(c->names[mid], q);
            if (!cmp)
                return (long)c->idx[mid];
            if (cmp < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (!*sc)
            return -1;
        char *s = strrchr(sc, '/');
        if (s)
            *s = 0;
        else
            sc[0] = 0;
    }
}

/* Pass-through ops between an initializer and the op that uses it. */
static bool passthrough(const char *op)
{
    return !strcmp(op, "Cast") || !strcmp(op, "Identity") || !strcmp(op, "DequantizeLinear") ||
           !strcmp(op, "Transpose");
}

/* value name -> (node index << 32 | input slot) of its first consumer in one graph, so that
 * following a value costs O(1) rather than a scan of every node (a graph of 60k Identity nodes
 * on one initializer is otherwise quadratic) */
static void consumers_index(const Onnx__GraphProto *g, wg_name_index *ix)
{
    memset(ix, 0, sizeof *ix);
    for (size_t i = 0; i < g->n_node && i < UINT32_MAX; i++)
        for (size_t k = 0; k < g->node[i]->n_input && k < UINT32_MAX; k++)
            if (g->node[i]->input[k] &&
                wg_name_index_put(ix, g->node[i]->input[k], (size_t)i << 32 | k) < 0) {
                wg_name_index_free(ix); /* out of memory: no structural hints */
                return;
            }
}

static const Onnx__NodeProto *first_consumer(const Onnx__GraphProto *g, const wg_name_index *ix,
                                             const char *value, size_t *slot)
{
    size_t v;
    if (!value || !wg_name_index_get(ix, value, &v))
        return NULL;
    *slot = v & 0xffffffffu;
    return g->node[v >> 32];
}

static int64_t attr_int(const Onnx__NodeProto *n, const char *name, int64_t dflt)
{
    for (size_t a = 0; a < n->n_attribute; a++)
        if (n->attribute[a]->name && !strcmp(n->attribute[a]->name, name))
            return n->attribute[a]->i;
    return dflt;
}

static void role_from_op(wg_tensor *t, const char *op, size_t slot, bool transposed,
                         const Onnx__NodeProto *nd)
{
    if (!strcmp(op, "Gather") && slot == 0)
        t->role = WG_ROLE_EMBEDDING;
    else if ((!strcmp(op, "Conv") || !strcmp(op, "ConvTranspose")) && slot == 1)
        t->role = WG_ROLE_CONV;
    else if ((!strcmp(op, "Conv") || !strcmp(op, "ConvTranspose")) && slot == 2)
        t->role = WG_ROLE_BIAS;
    else if ((!strcmp(op, "MatMul") || !strcmp(op, "Gemm")) && slot == 1 && t->ndim == 2) {
        t->role = WG_ROLE_LINEAR;
        bool stored_in_out = !strcmp(op, "MatMul") || !attr_int(nd, "transB", 0);
        t->in_dim_first = transposed ? !stored_in_out : stored_in_out;
    } else if (!strcmp(op, "Gemm") && slot == 2)
        t->role = WG_ROLE_BIAS;
    else if (strstr(op, "Normalization") && slot >= 1)
        t->role = WG_ROLE_NORM;
    else if ((!strcmp(op, "LSTM") || !strcmp(op, "GRU") || !strcmp(op, "RNN")) &&
             (slot == 1 || slot == 2))
        t->role = WG_ROLE_LINEAR;
    else if ((!strcmp(op, "LSTM") || !strcmp(op, "GRU") || !strcmp(op, "RNN")) && slot == 3)
        t->role = WG_ROLE_BIAS;
    else if (!strcmp(op, "Add") && t->ndim == 1)
        t->role = WG_ROLE_BIAS;
}

/* The TorchScript exporter (torch.onnx legacy, HF optimum) records no metadata but names each
 * node by its scope, "/bert/encoder/layer.0/attention/self/query/MatMul": the module path is
 * every segment but the last (the op), joined by dots. */
static char *legacy_node_module(wg_model *m, const Onnx__NodeProto *nd)
{
    const char *nm = nd->name, *op = nm ? strrchr(nm, '/') : NULL;
    if (!nm || nm[0] != '/' || op == nm || (size_t)(op - nm) > 1024)
        return NULL;
    size_t len = (size_t)(op - nm) - 1;
    char *mod = wg_model_alloc(m, len + 8);
    if (!mod)
        return NULL;
    for (size_t i = 0; i < len; i++)
        mod[i] = nm[1 + i] == '/' ? '.' : nm[1 + i];
    mod[len] = 0;
    return mod;
}

/* Module path from a node's metadata_props (NodeProto field 9, newer than our schema, so it
 * arrives as an unknown field): the torch exporter's "namespace" entry is a '/'-separated list
 * of "scope: class" pairs; the last scope whose class is not an aten op is the nn.Module. */
static char *node_module(wg_model *m, const Onnx__NodeProto *nd)
{
    for (unsigned u = 0; u < nd->base.n_unknown_fields; u++) {
        const ProtobufCMessageUnknownField *uf = &nd->base.unknown_fields[u];
        if (uf->tag != 9 || uf->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
            continue;
        size_t skip = 0; /* protobuf-c keeps the length prefix in the unknown field's bytes */
        while (skip < uf->len && (uf->data[skip] & 0x80))
            skip++;
        if (++skip > uf->len)
            continue;
        Onnx__StringStringEntryProto *e =
            onnx__string_string_entry_proto__unpack(NULL, uf->len - skip, uf->data + skip);
        if (!e)
            continue;
        char *best = NULL;
        if (e->key && e->value && !strcmp(e->key, "namespace")) {
            const char *p = e->value;
            size_t blen = 0;
            const char *bstart = NULL;
            while (*p) {
                size_t seg = strcspn(p, "/");
                const char *colon = memchr(p, ':', seg);
                if (colon && colon > p && strncmp(colon + 2 <= p + seg ? colon + 2 : colon, "aten.", 5)) {
                    bstart = p;
                    blen = (size_t)(colon - p);
                }
                p += seg;
                if (*p)
                    p++;
            }
            if (bstart && blen < 1024 && (best = wg_model_alloc(m, blen + 8))) {
                memcpy(best, bstart, blen);
                best[blen] = 0;
            }
        }
        onnx__string_string_entry_proto__free_unpacked(e, NULL);
        if (best)
            return best;
    }
    return legacy_node_module(m, nd);
}

static void uses_in_graph(use_ctx *c, const Onnx__GraphProto *g, const char *scope, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    wg_name_index cons;
    consumers_index(g, &cons);
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        if (!nd->op_type)
            continue;
        for (size_t k = 0; k < nd->n_input; k++) {
            if (!nd->input[k] || !*nd->input[k])
                continue;
            long ti = find_tensor(c, scope, nd->input[k]);
            if (ti < 0)
                continue;
            wg_tensor *t = &c->m->tensors[ti];
            if (t->role != WG_ROLE_OTHER)
                continue; /* first use decides */
            /* follow up to 3 pass-through ops to the real consumer */
            const Onnx__NodeProto *cn = nd;
            size_t slot = k;
            bool transposed = false;
            for (int hop = 0; hop < 3 && passthrough(cn->op_type) && cn->n_output; hop++) {
                if (!strcmp(cn->op_type, "Transpose"))
                    transposed = !transposed;
                size_t s2;
                const Onnx__NodeProto *nx = first_consumer(g, &cons, cn->output[0], &s2);
                if (!nx || !nx->op_type)
                    break;
                cn = nx;
                slot = s2;
            }
            role_from_op(t, cn->op_type, slot, transposed, cn);
            char *mod = node_module(c->m, cn);
            if (mod) {
                strcat(mod, t->role == WG_ROLE_BIAS ? ".bias" : ".weight");
                t->module = mod;
            }
        }
        for (size_t a = 0; a < nd->n_attribute; a++) {
            const Onnx__AttributeProto *at = nd->attribute[a];
            char sub[4096];
            if (at->g) {
                wg_onnx_sub_scope(sub, sizeof sub, scope, nd, i, at->name ? at->name : "g", -1);
                uses_in_graph(c, at->g, sub, depth + 1);
            }
            for (size_t k = 0; k < at->n_graphs; k++) {
                wg_onnx_sub_scope(sub, sizeof sub, scope, nd, i, at->name ? at->name : "graphs", (long)k);
                uses_in_graph(c, at->graphs[k], sub, depth + 1);
            }
        }
    }
    wg_name_index_free(&cons);
}

static wg_model *sort_model; /* qsort has no context argument in C11 */
static int cmp_idx(const void *a, const void *b)
{
    return strcmp(sort_model->tensors[*(const size_t *)a].name,
                  sort_model->tensors[*(const size_t *)b].name);
}

void wg_onnx_structural_roles(wg_model *m)
{
    Onnx__ModelProto *mp = m->in ? m->in->onnx : NULL;
    if (!mp || !m->n_tensors)
        return;
    use_ctx c = {.m = m};
    c.idx = malloc(m->n_tensors * sizeof *c.idx);
    c.names = malloc(m->n_tensors * sizeof *c.names);
    if (!c.idx || !c.names)
        goto out;
    for (size_t i = 0; i < m->n_tensors; i++)
        c.idx[i] = i;
    sort_model = m;
    qsort(c.idx, m->n_tensors, sizeof *c.idx, cmp_idx);
    for (size_t i = 0; i < m->n_tensors; i++)
        c.names[i] = m->tensors[c.idx[i]].name;
    uses_in_graph(&c, mp->graph, "", 0);
out:
    free(c.idx);
    free(c.names);
}

/* ---- graph inputs (for generating test inputs) ---- */

/* rows of the table a graph input indexes through Gather (0 if none); gathers maps each
 * Gather's index value to its node (first one) */
static int64_t gather_rows(const wg_model *m, const Onnx__GraphProto *g,
                           const wg_name_index *gathers, const char *name)
{
    size_t i;
    if (!wg_name_index_get(gathers, name, &i))
        return 0;
    const Onnx__NodeProto *nd = g->node[i];
    const wg_tensor *t = wg_model_find(m, nd->input[0]);
    if (t && t->ndim >= 1 && attr_int(nd, "axis", 0) == 0)
        return t->shape[0];
    return 0;
}

int wg_onnx_inputs(const wg_model *m, wg_io_desc **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const Onnx__ModelProto *mp = m->in ? m->in->onnx : NULL;
    if (!mp || !mp->graph)
        return WG_EINPUT;
    const Onnx__GraphProto *g = mp->graph;
    wg_io_desc *d = calloc(g->n_input + 1, sizeof *d);
    wg_name_index inits = {0}, gathers = {0};
    bool oom = !d;
    for (size_t j = 0; j < g->n_initializer && !oom; j++)
        oom = g->initializer[j]->name && wg_name_index_put(&inits, g->initializer[j]->name, j) < 0;
    for (size_t j = 0; j < g->n_node && !oom; j++) {
        const Onnx__NodeProto *nd = g->node[j];
        if (nd->op_type && !strcmp(nd->op_type, "Gather") && nd->n_input == 2 && nd->input[0] &&
            nd->input[1])
            oom = wg_name_index_put(&gathers, nd->input[1], j) < 0;
    }
    if (oom) {
        free(d);
        wg_name_index_free(&inits);
        wg_name_index_free(&gathers);
        return WG_EIO;
    }
    size_t k = 0;
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *v = g->input[i];
        size_t j;
        if (!v->name || wg_name_index_get(&inits, v->name, &j))
            continue; /* IR < 4: initializers listed as inputs */
        wg_io_desc *o = &d[k++];
        snprintf(o->name, sizeof o->name, "%s", v->name);
        const Onnx__TypeProto *tp = v->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
            o->dtype = WG_DT_UNDEFINED;
            continue;
        }
        o->dtype = (wg_dtype)tp->tensor_type->elem_type;
        const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
        o->ndim = sh ? (int)(sh->n_dim < WG_MAX_DIMS ? sh->n_dim : WG_MAX_DIMS) : -1;
        for (int j = 0; sh && j < o->ndim; j++) {
            const Onnx__TensorShapeProto__Dimension *dm = sh->dim[j];
            o->dims[j] = -1;
            if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                dm->dim_value > 0)
                o->dims[j] = dm->dim_value;
            else if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                     dm->dim_param)
                snprintf(o->dim_param[j], sizeof o->dim_param[j], "%s", dm->dim_param);
        }
        o->index_rows = gather_rows(m, g, &gathers, v->name);
    }
    wg_name_index_free(&inits);
    wg_name_index_free(&gathers);
    *out = d;
    *n = k;
    return 0;
}

/* ---- MatMul activations (calibration) ---- */

int wg_onnx_matmul_inputs(const wg_model *m, const char ***a_names, size_t **tensor, size_t *n)
{
    *a_names = NULL;
    *tensor = NULL;
    *n = 0;
    const Onnx__ModelProto *mp = m->in ? m->in->onnx : NULL;
    if (!mp || !mp->graph)
        return WG_EINPUT;
    const Onnx__GraphProto *g = mp->graph;
    const char **a = calloc(g->n_node + 1, sizeof *a);
    size_t *t = calloc(g->n_node + 1, sizeof *t), k = 0;
    if (!a || !t) {
        free(a);
        free(t);
        return WG_EIO;
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        if (!nd->op_type || strcmp(nd->op_type, "MatMul") || nd->n_input != 2 || !nd->input[0] ||
            !nd->input[1])
            continue;
        const wg_tensor *w = wg_model_find(m, nd->input[1]);
        if (!w || w->ndim != 2 || wg_model_find(m, nd->input[0]))
            continue;
        a[k] = nd->input[0];
        t[k++] = (size_t)(w - m->tensors);
    }
    *a_names = a;
    *tensor = t;
    *n = k;
    return 0;
}
