/* pack/onnx_export.c — a quantized ONNX model that ONNX Runtime (and transformers.js) loads.
 *
 * The input model's graph is copied; every weight (initializer, or Constant node as older
 * exporters write them, in the main graph or in If/Loop bodies) is written in the form
 * onnx_store.c decides from its plan entry and its consumers, by onnx_emit.c: MatMulNBits,
 * GatherBlockQuantized, a DequantizeLinear chain, fp16 + Cast, or kept byte for byte.
 * The quantized bytes come from wg_quantize_tensor with the same plan and options as a bundle.
 * New messages are allocated from an arena and only point into the input's unpacked proto, so
 * the input model is never modified. Large models (or --external-data) put every initializer
 * of 1 kB or more into "<output>_data" (transformers.js' name); onnx_files.c makes the .onnx
 * and its data file appear together. */
#define _GNU_SOURCE
#include "onnx_internal.h"
#include "../formats/model_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXTERNAL_MIN 1024
#define EMBED_LIMIT (1800ull << 20) /* protobuf messages must stay under 2 GiB */

void ox_set_bytes(ox *x, Onnx__TensorProto *tp, const void *bytes, uint64_t n);

static void note(ox *x, const wg_tensor *t, const wg_plan_entry *e, const char *how_s)
{
    char fn[32];
    wg_qformat_name(&e->fmt, fn, sizeof fn);
    if (x->res->tensors)
        json_object_set_new(x->res->tensors, t->name, json_pack("{s:s, s:s}", "onnx", how_s,
                                                                "format", e->fmt.kind == WG_Q_RAW
                                                                              ? "raw" : fn));
}

static const wg_tensor *lookup(ox *x, const char *scope, const char *name, size_t *idx)
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
static Onnx__TensorProto *keep_tensor(ox *x, Onnx__TensorProto *tp, const wg_tensor *t)
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
    Onnx__TensorProto *c = ox_alloc(x, sizeof *c);
    if (!c)
        return NULL;
    *c = *tp;
    ox_set_bytes(x, c, t->data, t->nbytes);
    return c;
}

/* The form a weight takes here, and why (for --json). */
static wg_onnx_form choose(ox *x, const Onnx__GraphProto *g, const char *name,
                           const wg_tensor *t, const wg_plan_entry *e, bool as_input)
{
    wg_onnx_uses u = wg_onnx_find_uses(g, name);
    wg_onnx_use use = wg_onnx_use_of(t, &u, x->opset);
    wg_onnx_form f = as_input ? WG_ONNX_KEEP : wg_onnx_form_for(t, use, &e->fmt);
    const char *why = wg_onnx_form_name(f);
    if (f == WG_ONNX_KEEP)
        why = as_input ? "kept: a graph input (measuring)"
              : e->fmt.kind == WG_Q_INT && use == WG_ONNX_USE_NONE
                  ? (x->opset < 6 ? "kept: opset below 6 (Reshape/Cast take attributes there)"
                                  : "kept: not a float tensor")
              : e->fmt.kind == WG_Q_F16 ? "kept: already fp16, or too small for a Cast"
                                        : "kept: planned as a float format";
    note(x, t, e, why);
    if (f == WG_ONNX_KEEP && e->fmt.kind == WG_Q_INT)
        x->res->kept_int++;
    return f;
}

/* A graph input for a weight that each run feeds (measuring). */
static Onnx__ValueInfoProto *input_for(ox *x, const Onnx__TensorProto *tp)
{
    Onnx__ValueInfoProto *vi = ox_alloc(x, sizeof *vi);
    Onnx__TypeProto *ty = ox_alloc(x, sizeof *ty);
    Onnx__TypeProto__Tensor *tt = ox_alloc(x, sizeof *tt);
    Onnx__TensorShapeProto *sh = ox_alloc(x, sizeof *sh);
    Onnx__TensorShapeProto__Dimension *dv = ox_alloc(x, sizeof *dv * (tp->n_dims + 1));
    Onnx__TensorShapeProto__Dimension **dp = ox_alloc(x, sizeof *dp * (tp->n_dims + 1));
    if (!vi || !ty || !tt || !sh || !dv || !dp)
        return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(ty);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (size_t d = 0; d < tp->n_dims; d++) {
        onnx__tensor_shape_proto__dimension__init(&dv[d]);
        dv[d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dv[d].dim_value = tp->dims[d];
        dp[d] = &dv[d];
    }
    sh->n_dim = tp->n_dims;
    sh->dim = dp;
    tt->has_elem_type = 1;
    tt->elem_type = tp->data_type;
    tt->shape = sh;
    ty->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ty->tensor_type = tt;
    vi->name = tp->name;
    vi->type = ty;
    return vi;
}

/* What one graph's rewrite collects. */
typedef struct gstate {
    ox_tensors inits;
    ox_nodes pre, nodes;
    ox_repl r;
    const char **removed;     /* replaced initializers (IR < 4 lists them among the inputs) */
    size_t nremoved;
    Onnx__ValueInfoProto **new_inputs;
    size_t n_new_inputs;
    bool *dropped;            /* Constant nodes replaced */
} gstate;

/* One weight (initializer tp, or the tensor of Constant node ci when ci >= 0). */
static void weight(ox *x, const Onnx__GraphProto *g, gstate *s, Onnx__TensorProto *tp,
                   const wg_tensor *t, size_t ti, long ci, bool main_graph)
{
    bool as_input = main_graph && x->o->as_inputs && x->o->as_inputs[ti];
    wg_onnx_form f = choose(x, g, tp->name, t, &x->plan[ti], as_input);
    if (as_input) { /* no initializer, no Constant: the run feeds it */
        if (ci >= 0)
            s->dropped[ci] = true;
    } else if (f == WG_ONNX_KEEP) {
        if (ci < 0)
            OX_PUSH(x, &s->inits, keep_tensor(x, tp, t));
    } else {
        if (ci >= 0)
            s->dropped[ci] = true;
        else
            s->removed[s->nremoved++] = tp->name;
        ox_emit(x, g, tp, t, &x->plan[ti], f, &s->inits, &s->pre, &s->r);
    }
    if (as_input) {
        bool listed = false; /* IR < 4: already a graph input */
        for (size_t i = 0; i < g->n_input && !listed; i++)
            listed = g->input[i]->name && !strcmp(g->input[i]->name, tp->name);
        if (!listed)
            s->new_inputs[s->n_new_inputs++] = input_for(x, tp);
    }
}

static int weights(ox *x, const Onnx__GraphProto *g, const char *scope, gstate *s)
{
    for (size_t i = 0; !x->rc && i < g->n_initializer; i++) {
        Onnx__TensorProto *tp = g->initializer[i];
        size_t ti = 0;
        const wg_tensor *t = tp->name ? lookup(x, scope, tp->name, &ti) : NULL;
        if (t)
            weight(x, g, s, tp, t, ti, -1, !*scope);
        else
            OX_PUSH(x, &s->inits, keep_tensor(x, tp, NULL));
    }
    for (size_t i = 0; !x->rc && i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        size_t ti = 0;
        const wg_tensor *t = wg_onnx_is_constant_weight(nd) && nd->output[0]
                                 ? lookup(x, scope, nd->output[0], &ti) : NULL;
        if (!t)
            continue;
        Onnx__TensorProto *tp = ox_alloc(x, sizeof *tp);
        if (!tp)
            break;
        *tp = *nd->attribute[0]->t;
        tp->name = nd->output[0];
        weight(x, g, s, tp, t, ti, (long)i, !*scope);
    }
    return x->rc;
}

static Onnx__GraphProto *rewrite(ox *x, const Onnx__GraphProto *g, const char *scope, int depth);

/* A node with subgraphs: a copy whose subgraphs are rewritten too. */
static Onnx__NodeProto *with_subgraphs(ox *x, Onnx__NodeProto *nd, size_t i, const char *scope,
                                       int depth)
{
    Onnx__NodeProto *c = ox_alloc(x, sizeof *c);
    Onnx__AttributeProto **av = ox_alloc(x, sizeof *av * (nd->n_attribute + 1));
    if (!c || !av)
        return NULL;
    *c = *nd;
    for (size_t a = 0; a < nd->n_attribute; a++) {
        const Onnx__AttributeProto *at = nd->attribute[a];
        av[a] = (Onnx__AttributeProto *)at;
        if (!at->g && !at->n_graphs)
            continue;
        Onnx__AttributeProto *ac = ox_alloc(x, sizeof *ac);
        if (!ac)
            return NULL;
        *ac = *at;
        char sub[4096];
        if (at->g) {
            wg_onnx_sub_scope(sub, sizeof sub, scope, nd, i, at->name ? at->name : "g", -1);
            if (!(ac->g = rewrite(x, at->g, sub, depth + 1)))
                return NULL;
        }
        if (at->n_graphs && !(ac->graphs = ox_alloc(x, sizeof *ac->graphs * at->n_graphs)))
            return NULL;
        for (size_t k = 0; k < at->n_graphs; k++) {
            wg_onnx_sub_scope(sub, sizeof sub, scope, nd, i, at->name ? at->name : "graphs",
                              (long)k);
            if (!(ac->graphs[k] = rewrite(x, at->graphs[k], sub, depth + 1)))
                return NULL;
        }
        av[a] = ac;
    }
    c->attribute = av;
    return c;
}

/* The new node list: the weights' chains first, then the graph's nodes (replaced ones swapped,
 * dropped Constants left out, subgraphs rewritten). */
static int collect_nodes(ox *x, const Onnx__GraphProto *g, const char *scope, int depth,
                         gstate *s)
{
    for (size_t i = 0; i < s->pre.n; i++)
        OX_PUSH(x, &s->nodes, s->pre.v[i]);
    for (size_t i = 0; !x->rc && i < g->n_node; i++) {
        Onnx__NodeProto *nd = g->node[i];
        if (s->dropped[i])
            continue;
        for (size_t k = 0; k < s->r.n; k++)
            if (s->r.from[k] == nd) {
                nd = s->r.to[k];
                break;
            }
        bool has_sub = false;
        for (size_t a = 0; a < nd->n_attribute; a++)
            has_sub |= nd->attribute[a]->g || nd->attribute[a]->n_graphs;
        if (has_sub && !(nd = with_subgraphs(x, nd, i, scope, depth)))
            return x->rc ? x->rc : WG_EIO;
        OX_PUSH(x, &s->nodes, nd);
    }
    return x->rc;
}

static Onnx__GraphProto *rewrite(ox *x, const Onnx__GraphProto *g, const char *scope, int depth)
{
    Onnx__GraphProto *ng = ox_alloc(x, sizeof *ng);
    gstate s = {0};
    size_t nn = g->n_node + 1, ni = g->n_initializer + g->n_node + 1;
    if (!ng || depth > 32 || !(s.r.from = ox_alloc(x, sizeof *s.r.from * nn)) ||
        !(s.r.to = ox_alloc(x, sizeof *s.r.to * nn)) ||
        !(s.removed = ox_alloc(x, sizeof *s.removed * ni)) ||
        !(s.new_inputs = ox_alloc(x, sizeof *s.new_inputs * ni)) ||
        !(s.dropped = ox_alloc(x, sizeof *s.dropped * nn)))
        return NULL;
    *ng = *g;
    if (weights(x, g, scope, &s) || collect_nodes(x, g, scope, depth, &s))
        return NULL;
    Onnx__ValueInfoProto **inputs = ox_alloc(x, sizeof *inputs * (g->n_input + s.n_new_inputs + 1));
    size_t nin = 0;
    for (size_t i = 0; inputs && i < g->n_input; i++) {
        bool drop = false; /* IR < 4 lists initializers among the inputs: drop replaced ones */
        for (size_t k = 0; k < s.nremoved && !drop; k++)
            drop = g->input[i]->name && !strcmp(g->input[i]->name, s.removed[k]);
        if (!drop)
            inputs[nin++] = g->input[i];
    }
    for (size_t i = 0; inputs && i < s.n_new_inputs; i++)
        if (!(inputs[nin++] = s.new_inputs[i]))
            return NULL;
    if (x->rc || !inputs)
        return NULL;
    ng->n_initializer = s.inits.n;
    ng->initializer = s.inits.v;
    ng->n_node = s.nodes.n;
    ng->node = s.nodes.v;
    ng->n_input = nin;
    ng->input = inputs;
    return ng;
}

/* ---------------------------------------------------------------- exporter metadata */

/* Fields newer than the schema we compile (ONNX 1.12) arrive as unknown fields: the
 * metadata_props of NodeProto (9), ValueInfoProto (4), GraphProto and TensorProto (16). */
static void strip_unknown(ox *x, ProtobufCMessage *msg, uint32_t tag)
{
    ProtobufCMessageUnknownField *u = ox_alloc(x, sizeof *u * (msg->n_unknown_fields + 1));
    unsigned n = 0;
    for (unsigned i = 0; u && i < msg->n_unknown_fields; i++)
        if (msg->unknown_fields[i].tag != tag)
            u[n++] = msg->unknown_fields[i];
    if (u) {
        msg->unknown_fields = n ? u : NULL;
        msg->n_unknown_fields = n;
    }
}

static Onnx__ValueInfoProto **strip_values(ox *x, Onnx__ValueInfoProto **v, size_t n)
{
    Onnx__ValueInfoProto **c = ox_alloc(x, sizeof *c * (n + 1));
    for (size_t i = 0; c && i < n; i++) {
        if (!(c[i] = ox_copy(x, v[i], sizeof *v[i])))
            return NULL;
        c[i]->doc_string = NULL;
        strip_unknown(x, &c[i]->base, 4);
    }
    return c;
}

/* A stripped deep copy of *gp (the input's messages are shared, never changed): no doc
 * strings, no metadata_props, in g, its values, initializers, nodes and subgraphs. */
static int strip_graph(ox *x, Onnx__GraphProto **gp, int depth)
{
    Onnx__GraphProto *g = ox_copy(x, *gp, sizeof **gp);
    if (!g || depth > 32)
        return WG_EIO;
    *gp = g;
    g->doc_string = NULL;
    strip_unknown(x, &g->base, 16);
    if (!(g->input = strip_values(x, g->input, g->n_input)) ||
        !(g->output = strip_values(x, g->output, g->n_output)) ||
        !(g->value_info = strip_values(x, g->value_info, g->n_value_info)) ||
        !(g->initializer = ox_copy(x, g->initializer, sizeof *g->initializer * g->n_initializer)) ||
        !(g->node = ox_copy(x, g->node, sizeof *g->node * g->n_node)))
        return WG_EIO;
    for (size_t i = 0; i < g->n_initializer; i++) {
        Onnx__TensorProto *t = ox_copy(x, g->initializer[i], sizeof *t);
        if (!(g->initializer[i] = t))
            return WG_EIO;
        t->doc_string = NULL;
        strip_unknown(x, &t->base, 16);
    }
    for (size_t i = 0; i < g->n_node; i++) {
        Onnx__NodeProto *nd = ox_copy(x, g->node[i], sizeof *nd);
        if (!(g->node[i] = nd) ||
            !(nd->attribute = ox_copy(x, nd->attribute, sizeof *nd->attribute * nd->n_attribute)))
            return WG_EIO;
        nd->doc_string = NULL;
        strip_unknown(x, &nd->base, 9);
        for (size_t a = 0; a < nd->n_attribute; a++) {
            Onnx__AttributeProto *at = nd->attribute[a];
            if (!at->g && !at->n_graphs)
                continue;
            if (!(nd->attribute[a] = at = ox_copy(x, at, sizeof *at)) ||
                (at->g && strip_graph(x, &at->g, depth + 1)) ||
                (at->n_graphs &&
                 !(at->graphs = ox_copy(x, at->graphs, sizeof *at->graphs * at->n_graphs))))
                return WG_EIO;
            for (size_t k = 0; k < at->n_graphs; k++)
                if (strip_graph(x, &at->graphs[k], depth + 1))
                    return WG_EIO;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- model and output */

static int add_outputs(ox *x, Onnx__GraphProto *g)
{
    const wg_onnx_export_opts *o = x->o;
    if (!o->n_extra_outputs) /* calibration: activations as extra graph outputs */
        return 0;
    Onnx__ValueInfoProto **outs = ox_alloc(x, sizeof *outs * (g->n_output + o->n_extra_outputs));
    Onnx__ValueInfoProto *vi = ox_alloc(x, sizeof *vi * o->n_extra_outputs);
    if (!outs || !vi)
        return WG_EIO;
    memcpy(outs, g->output, sizeof *outs * g->n_output);
    for (size_t i = 0; i < o->n_extra_outputs; i++) {
        onnx__value_info_proto__init(&vi[i]);
        vi[i].name = (char *)o->extra_outputs[i];
        outs[g->n_output + i] = &vi[i];
    }
    g->output = outs;
    g->n_output += o->n_extra_outputs;
    return 0;
}

static int add_ms_opset(ox *x, const Onnx__ModelProto *mp, Onnx__ModelProto *nm)
{
    for (size_t i = 0; i < mp->n_opset_import; i++)
        if (mp->opset_import[i]->domain && !strcmp(mp->opset_import[i]->domain, "com.microsoft"))
            return 0;
    Onnx__OperatorSetIdProto **ops = ox_alloc(x, sizeof *ops * (mp->n_opset_import + 1));
    Onnx__OperatorSetIdProto *ms = ox_alloc(x, sizeof *ms);
    if (!ops || !ms)
        return WG_EIO;
    memcpy(ops, mp->opset_import, sizeof *ops * mp->n_opset_import);
    onnx__operator_set_id_proto__init(ms);
    ms->domain = (char *)"com.microsoft";
    ms->has_version = 1;
    ms->version = 1;
    ops[mp->n_opset_import] = ms;
    nm->opset_import = ops;
    nm->n_opset_import = mp->n_opset_import + 1;
    return 0;
}

/* The rewritten model (arena-owned) in *out, metadata measured and stripped if asked. */
static int build_model(ox *x, const Onnx__ModelProto *mp, Onnx__ModelProto *out)
{
    *out = *mp;
    Onnx__GraphProto *g = rewrite(x, mp->graph, "", 0);
    if (!g)
        return x->rc ? x->rc : wg_fail(x->err, WG_EIO, NULL, "out of memory");
    out->graph = g;
    if (add_outputs(x, g) || (x->need_ms && add_ms_opset(x, mp, out)))
        return wg_fail(x->err, WG_EIO, NULL, "out of memory");
    out->producer_name = (char *)"wgpack";
    out->producer_version = (char *)(x->o->version ? x->o->version : "");
    size_t full = onnx__model_proto__get_packed_size(out);
    Onnx__GraphProto *sg = g;
    if (strip_graph(x, &sg, 0))
        return wg_fail(x->err, WG_EIO, NULL, "out of memory");
    Onnx__ModelProto stripped = *out;
    stripped.graph = sg;
    stripped.doc_string = NULL;
    size_t bare = onnx__model_proto__get_packed_size(&stripped);
    x->res->metadata_bytes = full - bare;
    if (x->o->strip_metadata) {
        *out = stripped;
        x->res->metadata_stripped = full - bare;
        x->res->metadata_bytes = 0;
    }
    return 0;
}

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

static int pack_model(void *ctx, wg_atomic_file *f, wg_error *err)
{
    file_buffer fb = {.base = {.append = fb_append}, .f = f, .err = err};
    onnx__model_proto__pack_to_buffer(ctx, &fb.base);
    return fb.rc;
}

struct wg_onnx_staged {
    bool external;
    wg_onnx_pair pair;    /* external: both models and the data written, renames pending */
    wg_atomic_file file;  /* embedded: finished, rename pending */
};

int wg_onnx_staged_commit(wg_onnx_staged *s, wg_error *err)
{
    return s->external ? wg_onnx_pair_swap(&s->pair, err) : wg_atomic_rename(&s->file, err);
}

void wg_onnx_staged_discard(wg_onnx_staged *s)
{
    if (!s)
        return;
    if (s->external)
        wg_onnx_pair_abort(&s->pair);
    else
        wg_atomic_abort(&s->file);
    free(s);
}

/* everything written and synced into s, nothing renamed */
static int stage_out(ox *x, Onnx__ModelProto *nm)
{
    wg_onnx_staged *s = calloc(1, sizeof *s);
    if (!s)
        return wg_fail(x->err, WG_EIO, NULL, "out of memory");
    s->file.fd = -1;
    int rc;
    if ((s->external = x->external)) {
        rc = wg_onnx_pair_stage(&x->pair, pack_model, nm, x->location, sizeof x->location, x->err);
        if (!rc) {
            s->pair = x->pair; /* now s's to commit or remove */
            x->pair.open = false;
            x->res->onnx_bytes = onnx__model_proto__get_packed_size(nm);
        }
    } else if (!(rc = wg_atomic_open(&s->file, x->o->out_path, x->err))) {
        if ((rc = pack_model(nm, &s->file, x->err)))
            wg_atomic_abort(&s->file);
        else
            rc = wg_atomic_finish(&s->file, x->err);
    }
    if (rc) {
        free(s);
        return rc;
    }
    *x->o->stage = s;
    return 0;
}

static int write_out(ox *x, Onnx__ModelProto *nm)
{
    const wg_onnx_export_opts *o = x->o;
    if (o->stage)
        return stage_out(x, nm);
    if (x->external) {
        int rc = wg_onnx_pair_commit(&x->pair, pack_model, nm, x->location, sizeof x->location,
                                     x->err);
        if (!rc)
            x->res->onnx_bytes = onnx__model_proto__get_packed_size(nm);
        return rc;
    }
    wg_atomic_file f;
    int rc = wg_atomic_open(&f, o->out_path, x->err);
    if (!rc && (rc = pack_model(nm, &f, x->err)))
        wg_atomic_abort(&f);
    if (!rc)
        rc = wg_atomic_commit(&f, x->err);
    return rc;
}

static void arena_free(ox *x)
{
    while (x->arena) {
        ox_arena *n = x->arena->next;
        free(x->arena);
        x->arena = n;
    }
}

int wg_onnx_export(const wg_model *m, const wg_plan_entry *plan, const wg_onnx_export_opts *o,
                   wg_onnx_export_result *res, wg_error *err)
{
    memset(res, 0, sizeof *res);
    res->tensors = json_object();
    const Onnx__ModelProto *mp = m->in ? m->in->onnx : NULL;
    if (m->kind != WG_IN_ONNX || !mp)
        return wg_fail(err, WG_EUSAGE, m->path, "--emit-onnx needs an ONNX input model");
    ox x = {.m = m, .plan = plan, .o = o, .res = res, .err = err, .opset = wg_onnx_opset(mp)};
    uint64_t total = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        total += m->tensors[i].nbytes;
    x.external = o->external || total > EMBED_LIMIT;
    if (x.external) {
        if (!o->dry_run && (x.rc = wg_onnx_pair_open(&x.pair, o->out_path, err)))
            goto out;
        const char *base = strrchr(o->out_path, '/');
        snprintf(x.location, sizeof x.location, "%s_data", base ? base + 1 : o->out_path);
        snprintf(res->data_file, sizeof res->data_file, "%s", x.location);
        if (!o->dry_run) /* while committing, the data is under its temporary name */
            snprintf(x.location, sizeof x.location, "%s", x.pair.tmp_name);
    }
    Onnx__ModelProto nm;
    if ((x.rc = build_model(&x, mp, &nm)))
        goto out;
    size_t sz = onnx__model_proto__get_packed_size(&nm);
    if (sz > (2ull << 30) - 1) {
        x.rc = wg_fail(err, WG_EINPUT, o->out_path, "the model proto would be %zu bytes (over "
                       "protobuf's 2 GiB): use --external-data", sz);
        goto out;
    }
    res->onnx_bytes = sz;
    res->data_bytes = x.external ? x.data_off : 0;
    res->external = x.external;
    if (o->dry_run)
        goto out;
    x.rc = write_out(&x, &nm);
out:
    if (x.rc && x.external && !o->dry_run)
        wg_onnx_pair_abort(&x.pair);
    arena_free(&x);
    return x.rc;
}
