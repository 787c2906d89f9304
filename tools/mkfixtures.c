/* tools/mkfixtures.c — writes the generated test fixtures: edge cases real models do not cover
 * (typed ONNX fields, subgraphs, Constant weights, external data past 4 GB in sparse files,
 * bf16 safetensors, sharded indexes) and the malformed inputs of the bad-input tests.
 * Usage: mkfixtures OUTDIR   (deterministic; sparse files need a filesystem that has holes) */
#define _GNU_SOURCE
#include "onnx.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static const char *out;

static void die(const char *what)
{
    fprintf(stderr, "mkfixtures: %s: %s\n", what, strerror(errno));
    exit(1);
}

static char *P(const char *fmt, const char *a)
{
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    char rel[2048];
    snprintf(rel, sizeof rel, fmt, a ? a : "");
    snprintf(buf[k], sizeof buf[k], "%s/%s", out, rel);
    return buf[k];
}

static void mkdirp(const char *d)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", d);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    if (mkdir(tmp, 0755) && errno != EEXIST)
        die(d);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f))
        die(path);
}

/* deterministic pseudo-weights */
static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return ((rng >> 8) / 16777216.0f - 0.5f) * 0.2f;
}

static uint16_t f2bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static uint16_t f2h(float f) /* fine for the small normal values used here */
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t s = (u >> 16) & 0x8000, e = (u >> 23) & 0xff, m = u & 0x7fffff;
    if (e < 113)
        return (uint16_t)s;
    return (uint16_t)(s | ((e - 112) << 10) | (m >> 13));
}

/* ---------------- ONNX ---------------- */

static Onnx__TensorProto *tensor(const char *name, int dt, int nd, const int64_t *dims)
{
    Onnx__TensorProto *t = calloc(1, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = strdup(name);
    t->has_data_type = 1;
    t->data_type = dt;
    t->n_dims = (size_t)nd;
    t->dims = malloc(sizeof(int64_t) * (nd ? (size_t)nd : 1));
    memcpy(t->dims, dims, sizeof(int64_t) * (size_t)nd);
    return t;
}

static void raw(Onnx__TensorProto *t, size_t n)
{
    float *v = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        v[i] = frand();
    t->has_raw_data = 1;
    t->raw_data.len = n * 4;
    t->raw_data.data = (uint8_t *)v;
}

static void external(Onnx__TensorProto *t, const char *loc, const char *off, const char *len)
{
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    const char *kv[3][2] = {{"location", loc}, {"offset", off}, {"length", len}};
    t->external_data = calloc(3, sizeof *t->external_data);
    for (int i = 0; i < 3; i++) {
        if (!kv[i][1])
            continue;
        Onnx__StringStringEntryProto *e = calloc(1, sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = strdup(kv[i][0]);
        e->value = strdup(kv[i][1]);
        t->external_data[t->n_external_data++] = e;
    }
}

static Onnx__NodeProto *node(const char *op, const char *name, const char *in0, const char *in1,
                             const char *outn)
{
    Onnx__NodeProto *n = calloc(1, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = strdup(op);
    n->name = strdup(name);
    n->input = calloc(2, sizeof(char *));
    if (in0)
        n->input[n->n_input++] = strdup(in0);
    if (in1)
        n->input[n->n_input++] = strdup(in1);
    n->output = calloc(1, sizeof(char *));
    n->output[n->n_output++] = strdup(outn);
    return n;
}

static Onnx__GraphProto *graph(const char *name)
{
    Onnx__GraphProto *g = calloc(1, sizeof *g);
    onnx__graph_proto__init(g);
    g->name = strdup(name);
    g->initializer = calloc(16, sizeof *g->initializer);
    g->node = calloc(16, sizeof *g->node);
    return g;
}

static void write_model(const char *path, Onnx__GraphProto *g)
{
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.graph = g;
    m.producer_name = "wgpack-mkfixtures";
    Onnx__OperatorSetIdProto op;
    onnx__operator_set_id_proto__init(&op);
    op.domain = "";
    op.has_version = 1;
    op.version = 17;
    Onnx__OperatorSetIdProto *ops[1] = {&op};
    m.n_opset_import = 1;
    m.opset_import = ops;
    size_t n = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(n);
    onnx__model_proto__pack(&m, buf);
    write_file(path, buf, n);
    free(buf);
}

/* Main graph: typed float_data weight used by MatMul, a Constant fp16 weight (int32_data), and
 * an If whose branches hold raw_data initializers used by Gemm and Conv. */
static void onnx_subgraph(void)
{
    mkdirp(P("onnx-sub", NULL));
    Onnx__GraphProto *g = graph("main");
    int64_t d2[2] = {64, 32};
    Onnx__TensorProto *w = tensor("proj.weight", 1, 2, d2);
    w->n_float_data = 64 * 32;
    w->float_data = malloc(sizeof(float) * w->n_float_data);
    for (size_t i = 0; i < w->n_float_data; i++)
        w->float_data[i] = frand();
    g->initializer[g->n_initializer++] = w;
    g->node[g->n_node++] = node("MatMul", "mm", "x", "proj.weight", "y");
    /* Constant holding an fp16 weight in int32_data */
    Onnx__NodeProto *cn = node("Constant", "const_w", NULL, NULL, "table");
    int64_t d3[2] = {16, 32};
    Onnx__TensorProto *ct = tensor("", 10, 2, d3);
    ct->n_int32_data = 16 * 32;
    ct->int32_data = malloc(sizeof(int32_t) * ct->n_int32_data);
    for (size_t i = 0; i < ct->n_int32_data; i++)
        ct->int32_data[i] = f2h(frand());
    Onnx__AttributeProto *ca = calloc(1, sizeof *ca);
    onnx__attribute_proto__init(ca);
    ca->name = strdup("value");
    ca->has_type = 1;
    ca->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    ca->t = ct;
    cn->attribute = calloc(1, sizeof *cn->attribute);
    cn->attribute[cn->n_attribute++] = ca;
    g->node[g->n_node++] = cn;
    g->node[g->n_node++] = node("Gather", "emb", "table", "ids", "e");
    /* If with two branches */
    Onnx__NodeProto *ifn = node("If", "branch", "cond", NULL, "z");
    ifn->attribute = calloc(2, sizeof *ifn->attribute);
    const char *bn[2] = {"then_branch", "else_branch"};
    for (int b = 0; b < 2; b++) {
        Onnx__GraphProto *sg = graph(bn[b]);
        int64_t dg[2] = {48, 32};
        Onnx__TensorProto *gw = tensor("fc.weight", 1, 2, dg);
        raw(gw, 48 * 32);
        sg->initializer[sg->n_initializer++] = gw;
        Onnx__NodeProto *gm = node("Gemm", "fc", "y", "fc.weight", "z");
        Onnx__AttributeProto *tb = calloc(1, sizeof *tb);
        onnx__attribute_proto__init(tb);
        tb->name = strdup("transB");
        tb->has_type = 1;
        tb->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        tb->has_i = 1;
        tb->i = 1;
        gm->attribute = calloc(1, sizeof *gm->attribute);
        gm->attribute[gm->n_attribute++] = tb;
        sg->node[sg->n_node++] = gm;
        int64_t dc[3] = {8, 4, 3};
        Onnx__TensorProto *cw = tensor("conv.weight", 1, 3, dc);
        raw(cw, 8 * 4 * 3);
        sg->initializer[sg->n_initializer++] = cw;
        sg->node[sg->n_node++] = node("Conv", "conv", "a", "conv.weight", "c");
        Onnx__AttributeProto *ga = calloc(1, sizeof *ga);
        onnx__attribute_proto__init(ga);
        ga->name = strdup(bn[b]);
        ga->has_type = 1;
        ga->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
        ga->g = sg;
        ifn->attribute[ifn->n_attribute++] = ga;
    }
    g->node[g->n_node++] = ifn;
    write_model(P("onnx-sub/model.onnx", NULL), g);
}

/* External data: three tensors in weights.bin, the last one past 4 GiB in a sparse file. */
static void onnx_external(const char *dir, bool big)
{
    mkdirp(P("%s", dir));
    Onnx__GraphProto *g = graph("main");
    int64_t d[2] = {32, 64};
    const char *offs[3] = {"0", "8192", big ? "4563402752" : "16384"}; /* 4.25 GiB */
    char name[32];
    int fd = open(P("%s/weights.bin", dir), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0)
        die("weights.bin");
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "layers.%d.mlp.w", i);
        Onnx__TensorProto *t = tensor(name, 1, 2, d);
        external(t, "weights.bin", offs[i], "8192");
        g->initializer[g->n_initializer++] = t;
        g->node[g->n_node++] = node("MatMul", name, "x", name, name);
        float v[32 * 64];
        for (int k = 0; k < 32 * 64; k++)
            v[k] = frand();
        if (pwrite(fd, v, sizeof v, (off_t)strtoll(offs[i], NULL, 10)) != (ssize_t)sizeof v)
            die("pwrite");
    }
    close(fd);
    char mp[4096];
    snprintf(mp, sizeof mp, "%s/model.onnx", dir);
    write_model(P("%s", mp), g);
}

/* One-tensor ONNX models with a bad external reference. */
static void onnx_bad_external(const char *dir, const char *loc, const char *off, const char *len)
{
    mkdirp(P("%s", dir));
    Onnx__GraphProto *g = graph("main");
    int64_t d[2] = {4, 4};
    Onnx__TensorProto *t = tensor("w", 1, 2, d);
    external(t, loc, off, len);
    g->initializer[g->n_initializer++] = t;
    char mp[4096];
    snprintf(mp, sizeof mp, "%s/model.onnx", dir);
    write_model(P("%s", mp), g);
}

static void onnx_bad_tensor(const char *file, int dt, int nd, const int64_t *dims, size_t raw_n)
{
    Onnx__GraphProto *g = graph("main");
    Onnx__TensorProto *t = tensor("w", dt, nd, dims);
    t->has_raw_data = 1;
    t->raw_data.len = raw_n;
    t->raw_data.data = calloc(1, raw_n ? raw_n : 1);
    g->initializer[g->n_initializer++] = t;
    write_model(P("%s", file), g);
}

/* ---------------- safetensors ---------------- */

static void st_write(const char *path, const char *header, const void *data, size_t n,
                     uint64_t claimed_len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path);
    uint64_t hl = claimed_len ? claimed_len : strlen(header);
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(hl >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (n)
        fwrite(data, 1, n, f);
    if (fclose(f))
        die(path);
}

static void safetensors_fixtures(void)
{
    mkdirp(P("st-bf16", NULL));
    uint16_t bf[2 * 64 * 64];
    for (int i = 0; i < 2 * 64 * 64; i++)
        bf[i] = f2bf16(frand());
    st_write(P("st-bf16/model.safetensors", NULL),
             "{\"__metadata__\":{\"format\":\"pt\"},"
             "\"model.layers.0.mlp.up_proj.weight\":{\"dtype\":\"BF16\",\"shape\":[64,64],\"data_offsets\":[0,8192]},"
             "\"model.layers.0.mlp.down_proj.weight\":{\"dtype\":\"BF16\",\"shape\":[64,64],\"data_offsets\":[8192,16384]}}",
             bf, sizeof bf, 0);
    /* sharded, with config.json */
    mkdirp(P("st-sharded", NULL));
    st_write(P("st-sharded/a.safetensors", NULL),
             "{\"model.embed_tokens.weight\":{\"dtype\":\"BF16\",\"shape\":[64,64],\"data_offsets\":[0,8192]}}",
             bf, 8192, 0);
    st_write(P("st-sharded/b.safetensors", NULL),
             "{\"lm_head.weight\":{\"dtype\":\"BF16\",\"shape\":[64,64],\"data_offsets\":[0,8192]},"
             "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8192,8192]}}",
             bf, 8192, 0);
    const char *idx = "{\"metadata\":{\"total_size\":16384},\"weight_map\":{"
                      "\"model.embed_tokens.weight\":\"a.safetensors\",\"lm_head.weight\":\"b.safetensors\","
                      "\"model.norm.weight\":\"b.safetensors\"}}";
    write_file(P("st-sharded/model.safetensors.index.json", NULL), idx, strlen(idx));
    const char *cfg = "{\"model_type\":\"qwen2\",\"architectures\":[\"Qwen2ForCausalLM\"],"
                      "\"num_hidden_layers\":1,\"hidden_size\":64,\"num_attention_heads\":4,"
                      "\"num_key_value_heads\":2,\"vocab_size\":64,\"tie_word_embeddings\":false,"
                      "\"sliding_window\":4096}";
    write_file(P("st-sharded/config.json", NULL), cfg, strlen(cfg));
    /* a tensor whose bytes start past 4 GiB (sparse hole before it) */
    mkdirp(P("st-big", NULL));
    char hdr[512];
    snprintf(hdr, sizeof hdr,
             "{\"pad\":{\"dtype\":\"U8\",\"shape\":[4563402752],\"data_offsets\":[0,4563402752]},"
             "\"lm_head.weight\":{\"dtype\":\"BF16\",\"shape\":[64,64],\"data_offsets\":[4563402752,4563410944]}}");
    st_write(P("st-big/model.safetensors", NULL), hdr, NULL, 0, 0);
    int fd = open(P("st-big/model.safetensors", NULL), O_WRONLY);
    if (fd < 0 || pwrite(fd, bf, 8192, (off_t)(8 + strlen(hdr)) + 4563402752LL) != 8192)
        die("st-big");
    close(fd);

    /* a weight with NaN and Inf in it (valid file, but integer formats cannot hold it) */
    mkdirp(P("st-nan", NULL));
    float nanw[64 * 64];
    for (int i = 0; i < 64 * 64; i++)
        nanw[i] = frand();
    nanw[100] = 0.0f / 0.0f;
    nanw[200] = 1.0f / 0.0f;
    st_write(P("st-nan/model.safetensors", NULL),
             "{\"model.layers.0.mlp.up_proj.weight\":{\"dtype\":\"F32\",\"shape\":[64,64],\"data_offsets\":[0,16384]}}",
             nanw, sizeof nanw, 0);

    /* ---- malformed ---- */
    mkdirp(P("bad", NULL));
    const char *okh = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    float f4[4] = {1, 2, 3, 4};
    write_file(P("bad/short.safetensors", NULL), "\x10\0\0", 3);
    st_write(P("bad/hlen-too-big.safetensors", NULL), okh, f4, 16, 1000000);
    st_write(P("bad/not-object.safetensors", NULL), "[1,2,3]", NULL, 0, 0);
    st_write(P("bad/bad-json.safetensors", NULL), "{\"w\":{\"dtype\":", NULL, 0, 0);
    st_write(P("bad/out-of-file.safetensors", NULL),
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", f4, 8, 0);
    st_write(P("bad/overlap.safetensors", NULL),
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", f4, 16, 0);
    st_write(P("bad/size-mismatch.safetensors", NULL),
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,16]}}", f4, 16, 0);
    st_write(P("bad/overflow.safetensors", NULL),
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,16]}}",
             f4, 16, 0);
    st_write(P("bad/negative-dim.safetensors", NULL),
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,4],\"data_offsets\":[0,16]}}", f4, 16, 0);
    st_write(P("bad/bad-dtype.safetensors", NULL),
             "{\"w\":{\"dtype\":\"F17\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", f4, 16, 0);
    st_write(P("bad/duplicate.safetensors", NULL),
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", f4, 16, 0);
    st_write(P("bad/hole.safetensors", NULL),
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", f4, 16, 0);
    st_write(P("bad/huge-claim.safetensors", NULL),
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[25000000000],\"data_offsets\":[0,100000000000]}}",
             f4, 16, 0);
    mkdirp(P("bad/index-escape", NULL));
    const char *bi = "{\"weight_map\":{\"w\":\"../../etc/passwd\"}}";
    write_file(P("bad/index-escape/model.safetensors.index.json", NULL), bi, strlen(bi));
    /* bad ONNX */
    write_file(P("bad/garbage.onnx", NULL), "this is not a protobuf at all \xff\xff\xff\xff", 34);
    int64_t d[2] = {4, 4};
    onnx_bad_tensor("bad/raw-size.onnx", 1, 2, d, 60);
    int64_t dn[2] = {-4, 4};
    onnx_bad_tensor("bad/negative-dim.onnx", 1, 2, dn, 64);
    int64_t dov[3] = {1LL << 40, 1LL << 40, 1LL << 40};
    onnx_bad_tensor("bad/dims-overflow.onnx", 1, 3, dov, 64);
    onnx_bad_tensor("bad/bad-dtype.onnx", 99, 2, d, 64);
    onnx_bad_external("bad/ext-absolute", "/etc/passwd", "0", "64");
    onnx_bad_external("bad/ext-dotdot", "../outside.bin", "0", "64");
    onnx_bad_external("bad/ext-range", "data.bin", "32", "64");
    write_file(P("bad/ext-range/data.bin", NULL), bf, 64);
    onnx_bad_external("bad/ext-length", "data.bin", "0", "60");
    write_file(P("bad/ext-length/data.bin", NULL), bf, 64);
    onnx_bad_external("bad/ext-missing", "nothere.bin", "0", "64");
    onnx_bad_external("bad/ext-symlink", "data.bin", "0", "64");
    write_file(P("bad/outside.bin", NULL), bf, 64);
    unlink(P("bad/ext-symlink/data.bin", NULL));
    if (symlink("../outside.bin", P("bad/ext-symlink/data.bin", NULL)))
        die("symlink");
    onnx_bad_external("bad/ext-fifo", "pipe", "0", "64");
    unlink(P("bad/ext-fifo/pipe", NULL));
    if (mkfifo(P("bad/ext-fifo/pipe", NULL), 0644))
        die("mkfifo");
    onnx_bad_external("bad/ext-device", "null", "0", "64");
    unlink(P("bad/ext-device/null", NULL));
    if (symlink("/dev/null", P("bad/ext-device/null", NULL)))
        die("symlink");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkfixtures OUTDIR\n");
        return 1;
    }
    out = argv[1];
    mkdirp(out);
    onnx_subgraph();
    onnx_external("onnx-ext", false);
    onnx_external("onnx-ext-big", true);
    safetensors_fixtures();
    /* truncated copy of a valid model */
    FILE *f = fopen(P("onnx-sub/model.onnx", NULL), "rb");
    if (!f)
        die("onnx-sub");
    uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_file(P("bad/truncated.onnx", NULL), buf, n / 2);
    return 0;
}
