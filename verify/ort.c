/* verify/ort.c — models run by ONNX Runtime (onnxruntime-node, or onnxruntime-web with
 * WGPACK_ORT_BACKEND=web) through tools/ort/run.mjs under Node.js: input sets generated from a
 * model's signature (or given), runs (one model, or one model with weights overridden per
 * variant), and output comparison in C (verify/compare.c). */
#define _GNU_SOURCE
#include "ort.h"
#include "npy.h"
#include "verify.h"
#include "measure.h"
#include "node.h"
#include "../quant/quant.h"
#include "../pack/pack.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- inputs */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unif(uint64_t *s) { return (double)(splitmix(s) >> 11) * 0x1.0p-53; }

static bool has(const char *name, const char *const *keys)
{
    char low[256];
    size_t i;
    for (i = 0; name[i] && i + 1 < sizeof low; i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    low[i] = 0;
    for (; *keys; keys++)
        if (strstr(low, *keys))
            return true;
    return false;
}

static const char *const K_STATE[] = {"state", "past", "cache", "hidden", NULL};
static const char *const K_AUDIO[] = {"audio", "wav", "pcm", "speech", "input_values", "waveform", NULL};
static const char *const K_RATE[] = {"sample_rate", "sampling_rate", NULL};
static const char *const K_MASK[] = {"mask", NULL};
static const char *const K_POS[] = {"position", NULL};
static const char *const K_TYPE[] = {"token_type", "segment", NULL};
static const char *const K_IDS[] = {"ids", "token", NULL};

typedef struct gen_ctx {
    const wg_ort_opts *o;
    const int32_t *tokens;
    int ntokens;
} gen_ctx;

static bool user_dim(const wg_ort_opts *o, const char *key, int64_t *v)
{
    for (int i = 0; i < o->ndims; i++) {
        const char *eq = strchr(o->dims[i], '=');
        if (eq && (size_t)(eq - o->dims[i]) == strlen(key) && !strncmp(o->dims[i], key, strlen(key))) {
            *v = atoll(eq + 1);
            return *v > 0;
        }
    }
    return false;
}

static const char *user_value(const wg_ort_opts *o, const char *name)
{
    for (int i = 0; i < o->nvalues; i++) {
        const char *eq = strchr(o->values[i], '=');
        if (eq && (size_t)(eq - o->values[i]) == strlen(name) &&
            !strncmp(o->values[i], name, strlen(name)))
            return eq + 1;
    }
    return NULL;
}

/* Shape and description of one generated input. */
static void resolve_dims(const gen_ctx *g, const wg_io_desc *d, bool ids, int64_t *dims)
{
    bool image = d->ndim == 4 && (d->dims[1] == 1 || d->dims[1] == 3 || d->dims[1] == 4);
    for (int j = 0; j < d->ndim; j++) {
        char key[320];
        dims[j] = d->dims[j];
        if (dims[j] > 0)
            continue;
        snprintf(key, sizeof key, "%s.%d", d->name, j);
        if ((d->dim_param[j][0] && user_dim(g->o, d->dim_param[j], &dims[j])) ||
            user_dim(g->o, key, &dims[j]))
            continue;
        if (ids && g->tokens && j == d->ndim - 1)
            dims[j] = g->ntokens;
        else if (image && j >= 2)
            dims[j] = 64;
        else if (j == 0 || j < d->ndim - 1 || strstr(d->dim_param[j], "batch"))
            dims[j] = 1; /* batch, or a leading axis of a state tensor */
        else if (has(d->name, K_AUDIO))
            dims[j] = 16000;
        else
            dims[j] = 32; /* sequence / time */
    }
}

static int gen_input(const gen_ctx *g, const wg_io_desc *d, uint64_t seed, const char *dir,
                     json_t *desc, wg_error *err)
{
    if (d->ndim < 0 || d->dtype == WG_DT_UNDEFINED || !wg_npy_descr(d->dtype))
        return wg_fail(err, WG_EINPUT, d->name, "input of unknown shape or type %s: give it in "
                       "--inputs DIR", wg_dtype_name(d->dtype));
    bool isint = !wg_dtype_is_float(d->dtype) && d->dtype != WG_DT_BOOL;
    bool ids = isint && (d->index_rows > 0 || has(d->name, K_IDS)) && !has(d->name, K_MASK) &&
               !has(d->name, K_POS) && !has(d->name, K_TYPE);
    int64_t dims[WG_MAX_DIMS];
    resolve_dims(g, d, ids, dims);
    uint64_t n = 1;
    for (int j = 0; j < d->ndim; j++)
        n *= (uint64_t)dims[j];
    if (n > (1u << 28))
        return wg_fail(err, WG_EINPUT, d->name, "generated input would have %llu elements: set "
                       "its dimensions with --dim", (unsigned long long)n);
    double *v = malloc(sizeof(double) * (n ? n : 1));
    if (!v)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    uint64_t s = seed;
    const char *how;
    const char *uv = user_value(g->o, d->name);
    int64_t last = d->ndim ? dims[d->ndim - 1] : 1;
    if (uv) {
        double c = atof(uv);
        for (uint64_t i = 0; i < n; i++)
            v[i] = c;
        how = "given value";
    } else if (ids && g->tokens) {
        for (uint64_t i = 0; i < n; i++)
            v[i] = g->tokens[i % (uint64_t)g->ntokens];
        how = "tokens from --tokens";
    } else if (isint && has(d->name, K_MASK)) {
        for (uint64_t i = 0; i < n; i++)
            v[i] = 1;
        how = "ones (mask)";
    } else if (isint && has(d->name, K_POS)) {
        for (uint64_t i = 0; i < n; i++)
            v[i] = (double)(i % (uint64_t)last);
        how = "0..n-1 (positions)";
    } else if (isint && has(d->name, K_TYPE)) {
        for (uint64_t i = 0; i < n; i++)
            v[i] = 0;
        how = "zeros (token types)";
    } else if (isint && (d->index_rows > 0 || ids)) {
        int64_t rows = d->index_rows;
        if (rows <= 0) {
            free(v);
            return wg_fail(err, WG_EINPUT, d->name, "token ids of unknown range: give "
                           "--tokens FILE or --inputs DIR");
        }
        for (uint64_t i = 0; i < n; i++)
            v[i] = (double)(splitmix(&s) % (uint64_t)rows);
        how = "uniform ids in [0, vocab)";
    } else if (isint && (has(d->name, K_RATE) || !strcmp(d->name, "sr"))) {
        for (uint64_t i = 0; i < n; i++)
            v[i] = 16000;
        how = "16000 (sample rate)";
    } else if (isint) {
        free(v);
        return wg_fail(err, WG_EINPUT, d->name, "integer input with no known meaning: give "
                       "--input %s=VALUE or --inputs DIR", d->name);
    } else if (d->dtype == WG_DT_BOOL) {
        for (uint64_t i = 0; i < n; i++)
            v[i] = 1;
        how = "true";
    } else if (has(d->name, K_STATE) || !strcmp(d->name, "h") || !strcmp(d->name, "c")) {
        for (uint64_t i = 0; i < n; i++)
            v[i] = 0;
        how = "zeros (state)";
    } else if (d->ndim == 4 && dims[1] <= 4) {
        /* a synthetic scene in [0,1]: light gradient, dark bars and boxes (text- and
         * object-like edges, which uniform noise lacks), slight noise */
        int64_t C = dims[1], H = dims[2], W = dims[3];
        for (int64_t b = 0; b < dims[0]; b++) {
            double g0 = 0.75 + 0.2 * unif(&s), gx = 0.1 * unif(&s), gy = 0.1 * unif(&s);
            double *img = v + (uint64_t)(b * C * H * W);
            for (int64_t c = 0; c < C; c++)
                for (int64_t y = 0; y < H; y++)
                    for (int64_t x = 0; x < W; x++)
                        img[(c * H + y) * W + x] = g0 - gx * (double)x / (double)W -
                                                   gy * (double)y / (double)H;
            int boxes = 3 + (int)(splitmix(&s) % 6);
            for (int k = 0; k < boxes; k++) {
                int64_t bw = 1 + (int64_t)(unif(&s) * (double)W * 0.6);
                int64_t bh = 1 + (int64_t)(unif(&s) * (double)H * (k % 2 ? 0.1 : 0.4));
                int64_t x0 = (int64_t)(unif(&s) * (double)(W - bw + 1));
                int64_t y0 = (int64_t)(unif(&s) * (double)(H - bh + 1));
                double col[4];
                for (int c = 0; c < 4; c++)
                    col[c] = 0.35 * unif(&s);
                for (int64_t c = 0; c < C; c++)
                    for (int64_t y = y0; y < y0 + bh && y < H; y++)
                        for (int64_t x = x0; x < x0 + bw && x < W; x++)
                            img[(c * H + y) * W + x] = col[c];
            }
        }
        for (uint64_t i = 0; i < n; i++) {
            double x = v[i] + 0.02 * (2 * unif(&s) - 1);
            v[i] = x < 0 ? 0 : x > 1 ? 1 : x;
        }
        how = "image in [0,1]: gradient, dark bars and boxes, noise";
    } else if (has(d->name, K_AUDIO) || (d->ndim == 2 && dims[1] >= 256) || d->ndim == 1) {
        /* a few tones with noise: speech-like level, inside [-1, 1] */
        double f[3] = {110 + 300 * unif(&s), 400 + 1200 * unif(&s), 1500 + 2500 * unif(&s)};
        for (uint64_t i = 0; i < n; i++) {
            double t = (double)(i % (uint64_t)last) / 16000.0, x = 0;
            for (int k = 0; k < 3; k++)
                x += 0.25 / (k + 1) * sin(2 * M_PI * f[k] * t);
            v[i] = x + 0.05 * (2 * unif(&s) - 1);
        }
        how = "audio: three tones + noise in [-1,1] at 16 kHz";
    } else {
        for (uint64_t i = 0; i < n; i++)
            v[i] = 2 * unif(&s) - 1;
        how = "uniform in [-1,1)";
    }
    uint64_t bytes;
    wg_dtype_bytes(d->dtype, n, &bytes);
    unsigned char *buf = malloc(bytes ? bytes : 1);
    for (uint64_t i = 0; buf && i < n; i++) {
        switch (d->dtype) {
        case WG_DT_F32: { float x = (float)v[i]; memcpy(buf + 4 * i, &x, 4); break; }
        case WG_DT_F64: memcpy(buf + 8 * i, &v[i], 8); break;
        case WG_DT_F16: { uint16_t x = wg_f32_to_f16((float)v[i]); memcpy(buf + 2 * i, &x, 2); break; }
        case WG_DT_I64: { int64_t x = (int64_t)v[i]; memcpy(buf + 8 * i, &x, 8); break; }
        case WG_DT_I32: { int32_t x = (int32_t)v[i]; memcpy(buf + 4 * i, &x, 4); break; }
        default: buf[i] = (unsigned char)(int)v[i]; break;
        }
    }
    free(v);
    if (!buf)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    char path[PATH_MAX];
    if (strchr(d->name, '/')) {
        free(buf);
        return wg_fail(err, WG_EINPUT, d->name, "input names with '/' cannot be files: give "
                       "--inputs DIR");
    }
    snprintf(path, sizeof path, "%s/%s.npy", dir, d->name);
    int rc = wg_npy_write(path, d->dtype, d->ndim, dims, buf, err);
    free(buf);
    if (desc && !rc) {
        json_t *shape = json_array();
        for (int j = 0; j < d->ndim; j++)
            json_array_append_new(shape, json_integer(dims[j]));
        json_array_append_new(desc, json_pack("{s:s, s:s, s:o, s:s}", "name", d->name, "dtype",
                                              wg_dtype_name(d->dtype), "shape", shape,
                                              "generated", how));
    }
    return rc;
}

int wg_ort_prepare_inputs(const wg_model *m, const wg_ort_opts *o, const char *work,
                          char ***dirs_out, int *ndirs, json_t **desc, wg_error *err)
{
    *desc = json_array();
    if (o->inputs_dir) {
        char **d = calloc(1, sizeof *d);
        d[0] = strdup(o->inputs_dir);
        *dirs_out = d;
        *ndirs = 1;
        json_array_append_new(*desc, json_pack("{s:s}", "from", o->inputs_dir));
        return 0;
    }
    wg_io_desc *io = NULL;
    size_t nio = 0;
    int rc = wg_onnx_inputs(m, &io, &nio);
    if (rc)
        return wg_fail(err, rc, m->path, "cannot read the graph inputs");
    gen_ctx g = {.o = o, .tokens = o->tokens, .ntokens = o->ntokens};
    int ns = o->samples > 0 ? o->samples : 1;
    char **dirs = calloc((size_t)ns, sizeof *dirs);
    for (int k = 0; k < ns && !rc; k++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/in%d", work, k);
        if (mkdir(p, 0700) && errno != EEXIST) {
            rc = wg_fail(err, WG_EIO, p, "mkdir: %s", strerror(errno));
            break;
        }
        dirs[k] = strdup(p);
        for (size_t i = 0; i < nio && !rc; i++)
            rc = gen_input(&g, &io[i], o->seed * 1000003u + (uint64_t)k * 7919u + i, p,
                           k == 0 ? *desc : NULL, err);
    }
    free(io);
    *dirs_out = dirs;
    *ndirs = ns;
    return rc;
}

/* ---------------------------------------------------------------- running */

static bool find_runner(char *out, size_t n)
{
    const char *env = getenv("WGPACK_ORT_RUNNER");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return access(out, R_OK) == 0;
    }
    return wg_tool_find("ort/run.mjs", NULL, out, NULL, n);
}

/* node run.mjs [--variants LIST] MODEL OUTDIR INDIR... */
static int spawn_runner(const char *variants, const char *model, const char *outdir,
                        char **indirs, int ndirs, const char *work, wg_error *err)
{
    char runner[PATH_MAX], errpath[PATH_MAX];
    if (!find_runner(runner, sizeof runner))
        return wg_fail(err, WG_EIO, NULL, "cannot find tools/ort/run.mjs (set WGPACK_ORT_RUNNER)");
    snprintf(errpath, sizeof errpath, "%s/runner.err", work);
    char **argv = calloc((size_t)ndirs + 7, sizeof *argv);
    if (!argv)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    int a = 0, st;
    argv[a++] = runner;
    if (variants) {
        argv[a++] = (char *)"--variants";
        argv[a++] = (char *)variants;
    }
    argv[a++] = (char *)model;
    argv[a++] = (char *)outdir;
    for (int i = 0; i < ndirs; i++)
        argv[a++] = indirs[i];
    int rc = wg_node_run(argv, NULL, errpath, 0, &st, err);
    free(argv);
    if (rc)
        return rc;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    char line[600];
    wg_node_log_line(errpath, "wgpack-runner: ", line, sizeof line);
    int code = WIFEXITED(st) && WEXITSTATUS(st) == 4 ? WG_EINPUT : WG_EIO;
    return wg_fail(err, code, model, "ONNX Runtime: %s", *line ? line : "runner failed");
}

int wg_ort_run(const char *model, const char *outdir, char **indirs, int ndirs, const char *work,
               wg_error *err)
{
    wg_progress_stage("ORT");
    return spawn_runner(NULL, model, outdir, indirs, ndirs, work, err);
}

/* ---------------------------------------------------------------- comparing */

static json_t *load_json(const char *dir, wg_error *err)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/outputs.json", dir);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j)
        wg_fail(err, WG_EIO, p, "runner wrote no output list: %s", je.text);
    return j;
}

int wg_ort_compare(const char *dir_a, const char *dir_b, int nsamples, const int32_t *tokens,
                   int ntokens, json_t **out, wg_error *err)
{
    json_t *ja = load_json(dir_a, err), *jb = ja ? load_json(dir_b, err) : NULL;
    int rc = 0;
    if (!ja || !jb) {
        json_decref(ja);
        return WG_EIO;
    }
    json_t *oa = json_object_get(ja, "outputs"), *ob = json_object_get(jb, "outputs");
    if (json_array_size(oa) != json_array_size(ob)) {
        json_decref(ja);
        json_decref(jb);
        return wg_fail(err, WG_EVERIFY, NULL, "the models have different outputs (%zu vs %zu)",
                       json_array_size(oa), json_array_size(ob));
    }
    json_t *res = json_array(), *lm = NULL;
    size_t i;
    json_t *o;
    json_array_foreach(oa, i, o) {
        const char *name = json_string_value(json_object_get(o, "name"));
        wg_out_compare c = {0};
        json_t *shape = NULL;
        for (int k = 0; k < nsamples && !rc; k++) {
            char pa[PATH_MAX], pb[PATH_MAX];
            snprintf(pa, sizeof pa, "%s/%d/%zu.npy", dir_a, k, i);
            snprintf(pb, sizeof pb, "%s/%d/%zu.npy", dir_b, k, i);
            wg_npy a, b;
            if ((rc = wg_npy_read(pa, &a, err)))
                break;
            if ((rc = wg_npy_read(pb, &b, err))) {
                wg_npy_free(&a);
                break;
            }
            if (a.numel != b.numel || a.ndim != b.ndim) {
                rc = wg_fail(err, WG_EVERIFY, NULL, "output '%s': shapes differ", name);
            } else {
                int64_t last = a.ndim ? a.dims[a.ndim - 1] : 1;
                int ck = wg_class_axis(name, a.f32, a.numel, last);
                wg_out_compare_add(&c, a.f32, b.f32, a.numel, last, ck);
                if (!shape) {
                    shape = json_array();
                    for (int j = 0; j < a.ndim; j++)
                        json_array_append_new(shape, json_integer(a.dims[j]));
                }
                /* causal LM with tokens: NLL of both (logits [1, n, V]) */
                if (tokens && ck == 1 && k == 0 && a.ndim == 3 && a.dims[1] == ntokens && !lm) {
                    wg_lm_compare lc;
                    wg_lm_compare_logits(a.f32, b.f32, tokens, ntokens, (int)a.dims[2], &lc);
                    lm = json_pack("{s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "output", name,
                                   "positions", lc.positions, "nll_original", lc.nll_a,
                                   "nll_quantized", lc.nll_b, "ppl_original", exp(lc.nll_a),
                                   "ppl_quantized", exp(lc.nll_b), "kl", lc.kl,
                                   "top1_agreement", lc.top1_agree);
                }
            }
            wg_npy_free(&a);
            wg_npy_free(&b);
        }
        if (rc)
            break;
        json_t *r = json_pack("{s:s, s:o, s:f, s:f, s:f, s:I}", "name", name, "shape",
                              shape ? shape : json_array(), "max_abs_err", c.max_abs, "rel_rmse",
                              wg_out_rel_rmse(&c), "cosine", wg_out_cosine(&c),
                              "nonfinite_mismatch", (json_int_t)c.nonfinite);
        if (c.class_kind) {
            json_object_set_new(r, "class_axis", json_string(c.class_kind == 1 ? "logits"
                                                                                : "probabilities"));
            json_object_set_new(r, "top1_agreement", json_real((double)c.agree / (double)c.rows));
            json_object_set_new(r, "kl", json_real(c.kl_sum / (double)c.rows));
        }
        json_array_append_new(res, r);
    }
    if (!rc) {
        *out = json_pack("{s:O, s:o, s:o}", "runtime", json_object_get(ja, "runtime"),
                         "seconds", json_pack("{s:O, s:O}", "original", json_object_get(ja, "seconds"),
                                              "quantized", json_object_get(jb, "seconds")),
                         "outputs", res);
        if (lm)
            json_object_set_new(*out, "lm", lm);
    } else {
        json_decref(res);
        json_decref(lm);
    }
    json_decref(ja);
    json_decref(jb);
    return rc;
}


double wg_ort_cost(json_t *cmp, const char **metric)
{
    json_t *lm = json_object_get(cmp, "lm"), *outs = json_object_get(cmp, "outputs");
    json_t *o0 = json_array_get(outs, 0);
    if (lm || json_object_get(o0, "kl")) {
        *metric = "kl";
        return json_real_value(json_object_get(lm ? lm : o0, "kl"));
    }
    *metric = "rel_mse";
    double s = 0;
    size_t i;
    json_t *o;
    json_array_foreach(outs, i, o) {
        double r = json_real_value(json_object_get(o, "rel_rmse"));
        s += r * r;
    }
    return json_array_size(outs) ? s / (double)json_array_size(outs) : 0;
}

/* ---------------------------------------------------------------- measuring */

/* The weight of pair k as .npy under dir, in the tensor's own shape and dtype. */
static int write_variant(const wg_ort_measure *c, const wg_plan_measure *p, const char *path,
                         wg_error *err)
{
    const wg_tensor *t = &c->m->tensors[p->tensor];
    float *v = wg_measure_values(t, &p->fmt, c->search, c->threads);
    if (!v)
        return wg_fail(err, WG_EIO, t->name, "cannot quantize for measuring");
    void *data = v;
    uint16_t *h = NULL;
    if (t->dtype == WG_DT_F16 && (h = malloc(t->numel * 2 + 2))) {
        for (uint64_t i = 0; i < t->numel; i++)
            h[i] = wg_f32_to_f16(v[i]);
        data = h;
    }
    int rc = t->dtype == WG_DT_F16 && !h ? wg_fail(err, WG_EIO, NULL, "out of memory")
             : wg_npy_write(path, t->dtype == WG_DT_F16 ? WG_DT_F16 : WG_DT_F32, t->ndim,
                            t->shape, data, err);
    free(h);
    free(v);
    return rc;
}

/* The original value of every weight the measurement model takes as an input, written once:
 * the runner feeds them to every variant. */
static int write_base(const wg_ort_measure *c, const wg_plan_measure *mv, size_t n,
                      json_t **base, wg_error *err)
{
    char p[PATH_MAX + 64];
    bool *done = calloc(c->m->n_tensors + 1, sizeof *done);
    int rc = done ? 0 : wg_fail(err, WG_EIO, NULL, "out of memory");
    *base = json_array();
    for (size_t k = 0; !rc && k < n; k++) {
        const wg_tensor *t = &c->m->tensors[mv[k].tensor];
        if (done[mv[k].tensor])
            continue;
        done[mv[k].tensor] = true;
        snprintf(p, sizeof p, "%s/base%zu.npy", c->work, mv[k].tensor);
        rc = wg_npy_write(p, t->dtype, t->ndim, t->shape, t->data, err);
        json_array_append_new(*base, json_pack("{s:s, s:s}", "name", t->name, "npy", p));
    }
    free(done);
    return rc;
}

/* Pairs [k0, k1): weights written, one runner for all, each compared with the original. */
static int measure_chunk(const wg_ort_measure *c, json_t *base, wg_plan_measure *mv, size_t k0,
                         size_t k1, const char **metric, wg_error *err)
{
    char list[PATH_MAX], dir[PATH_MAX], p[PATH_MAX + 64];
    snprintf(list, sizeof list, "%s/variants.json", c->work);
    snprintf(dir, sizeof dir, "%s/measure", c->work);
    mkdir(dir, 0700);
    json_t *vl = json_array();
    int rc = 0;
    for (size_t k = k0; !rc && k < k1; k++) {
        snprintf(p, sizeof p, "%s/w%zu.npy", dir, k - k0);
        rc = write_variant(c, &mv[k], p, err);
        json_array_append_new(vl, json_pack("{s:s, s:s}", "name", c->m->tensors[mv[k].tensor].name,
                                            "npy", p));
    }
    json_t *doc = json_pack("{s:O, s:o}", "base", base, "variants", vl);
    if (!rc && json_dump_file(doc, list, JSON_COMPACT))
        rc = wg_fail(err, WG_EIO, list, "cannot write");
    json_decref(doc);
    if (!rc)
        rc = spawn_runner(list, c->model, dir, c->dirs, c->ndirs, c->work, err);
    for (size_t k = k0; !rc && k < k1; k++) {
        json_t *cmp = NULL;
        snprintf(p, sizeof p, "%s/v%zu", dir, k - k0);
        if (!(rc = wg_ort_compare(c->ref_dir, p, c->ndirs, c->tokens, c->ntokens, &cmp, err)))
            mv[k].cost = wg_ort_cost(cmp, metric);
        json_decref(cmp);
    }
    wg_rm_rf(dir);
    return rc;
}

int wg_ort_measure_costs(const wg_ort_measure *c, wg_plan_measure *mv, size_t n,
                         const char **metric, wg_error *err)
{
    json_t *base = NULL;
    int rc = write_base(c, mv, n, &base, err);
    *metric = "kl";
    for (size_t k0 = 0; !rc && k0 < n; k0 += 64)
        rc = measure_chunk(c, base, mv, k0, k0 + 64 < n ? k0 + 64 : n, metric, err);
    json_decref(base);
    return rc;
}
