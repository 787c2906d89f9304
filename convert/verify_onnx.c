/* convert/verify_onnx.c — `wgpack verify ORIGINAL.onnx [QUANTIZED.onnx]`: run both models with
 * ONNX Runtime (onnxruntime-node, tools/ort/run.mjs) on the same inputs and compare every
 * output. With one model, the quantized one is exported from the plan options first (as
 * `export-onnx`). Inputs come from --inputs DIR (NAME.npy), or are generated from the input
 * signature with a fixed seed; --tokens feeds an LM's ids and adds NLL/perplexity. */
#define _GNU_SOURCE
#include "cli.h"
#include "npy.h"
#include "plan_cli.h"
#include "progress.h"
#include "db.h"
#include "report.h"
#include "verify_onnx.h"
#include "../pack/pack.h"
#include "../verify/verify.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l <= 0)
        return false;
    exe[l] = 0;
    char *s = strrchr(exe, '/');
    if (s)
        *s = 0;
    static const char *rel[] = {"tools/ort/run.mjs", "../tools/ort/run.mjs",
                                "../share/wgpack/ort/run.mjs"};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        snprintf(out, n, "%s/%s", exe, rel[i]);
        if (access(out, R_OK) == 0)
            return true;
    }
    return false;
}

int wg_ort_run(const char *model, const char *outdir, char **indirs, int ndirs, const char *work,
               wg_error *err)
{
    char runner[PATH_MAX], errpath[PATH_MAX];
    wg_progress_stage("ORT");
    if (!find_runner(runner, sizeof runner))
        return wg_fail(err, WG_EIO, NULL, "cannot find tools/ort/run.mjs (set WGPACK_ORT_RUNNER)");
    const char *node = getenv("WGPACK_NODE");
    node = node && *node ? node : "node";
    snprintf(errpath, sizeof errpath, "%s/runner.err", work);
    char **argv = calloc((size_t)ndirs + 5, sizeof *argv);
    if (!argv)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    argv[0] = (char *)node;
    argv[1] = runner;
    argv[2] = (char *)model;
    argv[3] = (char *)outdir;
    for (int i = 0; i < ndirs; i++)
        argv[4 + i] = indirs[i];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, node, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    if (rc)
        return wg_fail(err, WG_EIO, NULL, "cannot run '%s' (Node.js is needed for ONNX Runtime): "
                       "%s", node, strerror(rc));
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    char line[600] = "";
    FILE *f = fopen(errpath, "r");
    if (f) {
        char l2[600];
        while (fgets(l2, sizeof l2, f)) /* the runner's own message, else the last line */
            if (!strncmp(l2, "wgpack-runner: ", 15) || !*line) {
                snprintf(line, sizeof line, "%s", !strncmp(l2, "wgpack-runner: ", 15) ? l2 + 15 : l2);
                if (!strncmp(l2, "wgpack-runner: ", 15))
                    break;
            }
        fclose(f);
        line[strcspn(line, "\n")] = 0;
    }
    int code = WIFEXITED(st) && WEXITSTATUS(st) == 4 ? WG_EINPUT : WG_EIO;
    return wg_fail(err, code, model, "ONNX Runtime: %s", *line ? line : "runner failed");
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

/* ---------------------------------------------------------------- command */

static const char *help =
    "usage: wgpack verify ORIGINAL.onnx [QUANTIZED.onnx] [options]\n"
    "  runs both models in ONNX Runtime (onnxruntime-node, CPU) on the same inputs and compares\n"
    "  every output; with one model, the quantized one is exported from the plan options first\n"
    "  --inputs DIR          NAME.npy for every model input (else generated from the signature)\n"
    "  --samples N           generated input sets (default 2)\n"
    "  --seed S              generator seed (default 0)\n"
    "  --dim NAME=N          size of a dynamic dimension (dim_param name, or INPUT.AXIS)\n"
    "  --input NAME=VALUE    fill an input with a constant (e.g. --input sr=16000)\n"
    "  --tokens FILE | --text FILE   LM token ids for the ids input: adds NLL / perplexity\n"
    "  --max-tokens N        first N tokens (default 128)\n"
    "  --max-rel-rmse X      exit 5 when any output's relative RMSE exceeds X\n"
    "  --report DIR          write DIR/report.json and DIR/report.html (plots; one model only)\n"
    "  --sweep               also measure q8, mixed, q4, q3, q2 and the planner at 5/4/3 bits\n"
    "  --calib PATH          calibration inputs (token ids file, or a directory of NAME.npy;\n"
    "                        --calib-text FILE: raw bytes as tokens for byte-level LMs):\n"
    "                        activation mean squares per MatMul input column weight the\n"
    "                        planner and the scale search; the plan without it is measured too\n"
    "  --db FILE             append every measured plan to a SQLite results database\n"
    "  --json                machine-readable report on stdout\n"
    "  plan options          as for `wgpack quantize`, when only ORIGINAL is given\n";

static int make_workdir(char *out, size_t n, wg_error *err)
{
    const char *t = getenv("TMPDIR");
    snprintf(out, n, "%s/wgpack-verify.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(out))
        return wg_fail(err, WG_EIO, out, "cannot create a work directory: %s", strerror(errno));
    return 0;
}

static void print_report(json_t *r)
{
    char a[32];
    json_t *ex = json_object_get(r, "export");
    printf("original:   %s\n", json_string_value(json_object_get(r, "original")));
    printf("quantized:  %s", json_string_value(json_object_get(r, "quantized")));
    if (ex)
        printf(" (exported: %s, %d MatMulNBits, %d DequantizeLinear)",
               cli_bytes((unsigned long long)(json_integer_value(json_object_get(ex, "onnx_bytes")) +
                                              json_integer_value(json_object_get(ex, "data_bytes"))),
                         a, sizeof a),
               (int)json_integer_value(json_object_get(ex, "matmulnbits")),
               (int)json_integer_value(json_object_get(ex, "dequantize_linear")));
    json_t *cmp = json_object_get(r, "comparison");
    printf("\nruntime:    %s, %d input set(s)\n", json_string_value(json_object_get(cmp, "runtime")),
           (int)json_integer_value(json_object_get(r, "samples")));
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(r, "inputs"), i, o) {
        if (json_object_get(o, "from")) {
            printf("inputs:     %s\n", json_string_value(json_object_get(o, "from")));
            continue;
        }
        printf("input:      %s %s [", json_string_value(json_object_get(o, "name")),
               json_string_value(json_object_get(o, "dtype")));
        size_t j;
        json_t *d;
        json_array_foreach(json_object_get(o, "shape"), j, d)
            printf("%s%lld", j ? "," : "", (long long)json_integer_value(d));
        printf("] %s\n", json_string_value(json_object_get(o, "generated")));
    }
    json_array_foreach(json_object_get(cmp, "outputs"), i, o) {
        printf("output:     %s: max |err| %.4g, rel RMSE %.4g, cosine %.6f",
               json_string_value(json_object_get(o, "name")),
               json_real_value(json_object_get(o, "max_abs_err")),
               json_real_value(json_object_get(o, "rel_rmse")),
               json_real_value(json_object_get(o, "cosine")));
        if (json_object_get(o, "top1_agreement"))
            printf(", top-1 %.2f%%, KL %.5f (%s)",
                   100 * json_real_value(json_object_get(o, "top1_agreement")),
                   json_real_value(json_object_get(o, "kl")),
                   json_string_value(json_object_get(o, "class_axis")));
        putchar('\n');
    }
    json_t *lm = json_object_get(cmp, "lm");
    if (lm)
        printf("LM:         NLL %.5f -> %.5f nats/token (perplexity %.4f -> %.4f)\n",
               json_real_value(json_object_get(lm, "nll_original")),
               json_real_value(json_object_get(lm, "nll_quantized")),
               json_real_value(json_object_get(lm, "ppl_original")),
               json_real_value(json_object_get(lm, "ppl_quantized")));
}

/* What every measured plan shares: the model, the input sets and the original's outputs. */
typedef struct session {
    const wg_model *m;
    int threads;
    const char *work;      /* temporary directory */
    char **dirs;           /* input sets */
    int ndirs;
    const char *da;        /* the original model's outputs */
    const wg_ort_opts *oo;
    const char *dbp;       /* results database, or NULL */
} session;

/* Plan with pc, export to work/<label>.onnx, run it, compare with the original's outputs. */
static int eval_plan(const session *ss, wg_plan_cli *pc, const char *label,
                     wg_plan_entry **plan_out, json_t **prep_out, json_t **exs_out,
                     json_t **cmp_out, wg_error *err)
{
    const wg_model *m = ss->m;
    char q[PATH_MAX + 32], ob[PATH_MAX + 32];
    wg_plan_entry *plan = calloc(m->n_tensors + 1, sizeof *plan);
    if (!plan)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    *plan_out = plan;
    wg_plan_result pr;
    int rc = wg_plan_cli_run(pc, m, ss->threads, plan, &pr, err);
    if (rc)
        return rc;
    *prep_out = wg_plan_report(m, plan, pc, &pr);
    snprintf(q, sizeof q, "%s/%s.onnx", ss->work, label);
    snprintf(ob, sizeof ob, "%s/out_%s", ss->work, label);
    if ((rc = cli_emit_onnx(m, plan, q, false, pc->search, ss->threads, pc->importance, exs_out,
                            err)))
        return rc;
    json_object_set(*exs_out, "plan", json_object_get(*prep_out, "summary"));
    json_object_del(*exs_out, "onnx");
    if ((rc = wg_ort_run(q, ob, ss->dirs, ss->ndirs, ss->work, err)) ||
        (rc = wg_ort_compare(ss->da, ob, ss->ndirs, ss->oo->tokens, ss->oo->ntokens, cmp_out, err)))
        return rc;
    unlink(q);
    return 0;
}

/* Calibration: run the original model with every main-graph MatMul activation added as an
 * output, on the calibration inputs, and return per weight tensor the mean square of each input
 * column (importance[i] has K floats, NULL for tensors no MatMul reads). */
static int calibrate(const wg_model *m, const char *calib, bool bytes,
                     const wg_ort_opts *base, const char *work, int threads, float ***imp_out,
                     int *ncal, wg_error *err)
{
    const char **an = NULL;
    size_t *ti = NULL, n = 0, nu = 0;
    *imp_out = NULL;
    *ncal = 0;
    int rc = wg_onnx_matmul_inputs(m, &an, &ti, &n);
    if (rc)
        return wg_fail(err, rc, m->path, "cannot list the MatMul activations");
    const char **uniq = calloc(n + 1, sizeof *uniq);
    float **imp = calloc(m->n_tensors + 1, sizeof *imp);
    double **acc = calloc(n + 1, sizeof *acc);
    uint64_t *rows = calloc(n + 1, sizeof *rows);
    int64_t *kact = calloc(n + 1, sizeof *kact);
    wg_plan_entry *keep = calloc(m->n_tensors + 1, sizeof *keep); /* all kind RAW: unchanged */
    char **dirs = NULL;
    int ndirs = 0;
    json_t *desc = NULL, *oj = NULL;
    if (!uniq || !imp || !acc || !rows || !kact || !keep) {
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t k = 0; k < nu && !seen; k++)
            seen = !strcmp(uniq[k], an[i]);
        if (!seen)
            uniq[nu++] = an[i];
    }
    if (!nu) {
        rc = wg_fail(err, WG_EINPUT, m->path, "--calib: the model has no MatMul with a weight "
                     "initializer to calibrate");
        goto out;
    }
    char cm[PATH_MAX + 32], od[PATH_MAX + 32];
    snprintf(cm, sizeof cm, "%s/calib.onnx", work);
    snprintf(od, sizeof od, "%s/out_calib", work);
    wg_onnx_export_opts eo = {.out_path = cm, .threads = threads, .version = WGPACK_VERSION,
                              .extra_outputs = uniq, .n_extra_outputs = nu};
    wg_onnx_export_result er;
    rc = wg_onnx_export(m, keep, &eo, &er, err);
    json_decref(er.tensors);
    if (rc)
        goto out;
    wg_ort_opts co = *base;
    struct stat st;
    int32_t *tok = NULL;
    if (stat(calib, &st) == 0 && S_ISDIR(st.st_mode)) {
        co.inputs_dir = calib;
        co.tokens = NULL;
    } else {
        co.inputs_dir = NULL;
        co.samples = 1;
        if ((rc = cli_read_tokens(calib, bytes, 4096, &tok, &co.ntokens, INT32_MAX, err)))
            goto out;
        co.tokens = tok;
    }
    char cw[PATH_MAX + 32];
    snprintf(cw, sizeof cw, "%s/calib_in", work);
    mkdir(cw, 0700);
    rc = wg_ort_prepare_inputs(m, &co, cw, &dirs, &ndirs, &desc, err);
    if (!rc)
        rc = wg_ort_run(cm, od, dirs, ndirs, work, err);
    free(tok);
    if (rc)
        goto out;
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/outputs.json", od);
    json_error_t je;
    if (!(oj = json_load_file(p, 0, &je))) {
        rc = wg_fail(err, WG_EIO, p, "%s", je.text);
        goto out;
    }
    size_t oi;
    json_t *o;
    json_array_foreach(json_object_get(oj, "outputs"), oi, o) {
        const char *name = json_string_value(json_object_get(o, "name"));
        for (size_t u = 0; name && u < nu; u++) {
            if (strcmp(uniq[u], name))
                continue;
            for (int k = 0; k < ndirs && !rc; k++) {
                snprintf(p, sizeof p, "%s/%d/%zu.npy", od, k, oi);
                wg_npy a;
                if ((rc = wg_npy_read(p, &a, err)))
                    break;
                int64_t K = a.ndim ? a.dims[a.ndim - 1] : 1;
                if (!acc[u]) {
                    acc[u] = calloc((size_t)K + 1, sizeof **acc);
                    kact[u] = K;
                }
                if (K != kact[u] || K < 1) {
                    wg_npy_free(&a);
                    continue;
                }
                for (uint64_t r = 0; acc[u] && r < a.numel / (uint64_t)K; r++)
                    for (int64_t c = 0; c < K; c++) {
                        double v = a.f32[r * (uint64_t)K + (uint64_t)c];
                        acc[u][c] += v * v;
                    }
                rows[u] += a.numel / (uint64_t)K;
                wg_npy_free(&a);
            }
        }
    }
    for (size_t i = 0; !rc && i < n; i++) {
        size_t u = 0;
        while (u < nu && strcmp(uniq[u], an[i]))
            u++;
        const wg_tensor *t = &m->tensors[ti[i]];
        int64_t R, K;
        wg_tensor_matrix(t, &R, &K);
        if (u == nu || !acc[u] || !rows[u] || imp[ti[i]] || kact[u] != K)
            continue;
        float *w = malloc(sizeof(float) * (size_t)K);
        if (!w)
            break;
        for (int64_t c = 0; c < K; c++)
            w[c] = (float)(acc[u][c] / (double)rows[u]) + 1e-12f;
        imp[ti[i]] = w;
        (*ncal)++;
    }
out:
    for (size_t i = 0; acc && i < n; i++)
        free(acc[i]);
    free(acc);
    free(rows);
    free(kact);
    free(keep);
    free(uniq);
    free(an);
    free(ti);
    for (int i = 0; i < ndirs; i++)
        free(dirs[i]);
    free(dirs);
    json_decref(desc);
    json_decref(oj);
    if (rc) {
        for (size_t i = 0; imp && i < m->n_tensors; i++)
            free(imp[i]);
        free(imp);
        imp = NULL;
    }
    *imp_out = imp;
    return rc;
}

/* Append one evaluated plan to the results database (when there is one). */
static int record(const session *ss, const wg_plan_entry *plan, json_t *prep, json_t *exs,
                  json_t *cmp, wg_error *err)
{
    if (!ss->dbp)
        return 0;
    json_t *r = wg_report_build(ss->m, plan, prep, exs, cmp, NULL, NULL);
    json_t *run = wg_db_run_from_report("verify", r, 0);
    int rc = wg_db_add(ss->dbp, run, err);
    json_decref(run);
    json_decref(r);
    return rc;
}

/* One sweep row: sizes from the plan, errors from the comparison (first output; LM metrics
 * when tokens were given). */
static json_t *sweep_point(const char *label, json_t *prep, json_t *exs, json_t *cmp)
{
    json_t *s = json_object_get(prep, "summary");
    json_t *o = json_array_get(json_object_get(cmp, "outputs"), 0), *lm = json_object_get(cmp, "lm");
    json_t *p = json_pack("{s:s, s:O, s:O, s:I, s:O, s:O, s:O, s:O, s:O}", "label", label,
                          "bytes", json_object_get(s, "output_bytes"), "bits_per_weight",
                          json_object_get(s, "bits_per_weight"), "onnx_bytes",
                          (json_int_t)(json_integer_value(json_object_get(exs, "onnx_bytes")) +
                                       json_integer_value(json_object_get(exs, "data_bytes"))),
                          "weight_sqnr_db", json_object_get(exs, "weight_sqnr_db"),
                          "output", json_object_get(o, "name"), "max_abs_err",
                          json_object_get(o, "max_abs_err"), "rel_rmse",
                          json_object_get(o, "rel_rmse"), "cosine", json_object_get(o, "cosine"));
    if (json_object_get(o, "kl")) {
        json_object_set(p, "top1_agreement", json_object_get(o, "top1_agreement"));
        json_object_set(p, "kl", json_object_get(o, "kl"));
    }
    if (lm) {
        json_object_set(p, "nll_original", json_object_get(lm, "nll_original"));
        json_object_set(p, "nll_quantized", json_object_get(lm, "nll_quantized"));
    }
    return p;
}

/* A variant of the plan options, measured: its sweep row in *point, recorded in the database
 * when `rec`, its plan handed back in *keep_plan when that is not NULL. */
static int measure(const session *ss, wg_plan_cli *v, const char *wlabel, const char *label,
                   bool rec, json_t **point, wg_plan_entry **keep_plan, wg_error *err)
{
    wg_plan_entry *pl = NULL;
    json_t *pr = NULL, *ex = NULL, *cm = NULL;
    int rc = eval_plan(ss, v, wlabel, &pl, &pr, &ex, &cm, err);
    if (!rc && rec)
        rc = record(ss, pl, pr, ex, cm, err);
    if (!rc)
        *point = sweep_point(label, pr, ex, cm);
    if (!rc && keep_plan)
        *keep_plan = pl;
    else
        free(pl);
    json_decref(pr);
    json_decref(ex);
    json_decref(cm);
    return rc;
}

int cmd_verify_onnx(int argc, char **argv)
{
    enum { O_INPUTS = 500, O_SAMPLES, O_SEED, O_DIM, O_INPUT, O_TOKENS, O_TEXT, O_MAXTOK,
           O_MAXRR, O_REPORT, O_SWEEP, O_DB, O_CALIB, O_CALIBTEXT };
    static const struct option opts[] = {
        {"inputs", required_argument, 0, O_INPUTS}, {"samples", required_argument, 0, O_SAMPLES},
        {"seed", required_argument, 0, O_SEED}, {"dim", required_argument, 0, O_DIM},
        {"input", required_argument, 0, O_INPUT}, {"tokens", required_argument, 0, O_TOKENS},
        {"text", required_argument, 0, O_TEXT}, {"max-tokens", required_argument, 0, O_MAXTOK},
        {"max-rel-rmse", required_argument, 0, O_MAXRR},
        {"report", required_argument, 0, O_REPORT}, {"sweep", no_argument, 0, O_SWEEP},
        {"db", required_argument, 0, O_DB}, {"calib", required_argument, 0, O_CALIB},
        {"calib-text", required_argument, 0, O_CALIBTEXT},
        {"json", no_argument, 0, 'j'}, {"threads", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'}, WG_PLAN_LONG_OPTIONS, {0, 0, 0, 0}};
    wg_plan_cli pc;
    wg_plan_cli_init(&pc);
    wg_ort_opts oo = {.samples = 2};
    const char *tokfile = NULL, *report_dir = NULL, *dbp = NULL, *calib = NULL;
    float **imp = NULL;
    int ncal = 0;
    bool calib_bytes = false;
    bool bytes = false, json = false, sweep = false;
    double max_rr = -1;
    int maxtok = 128, threads = wg_default_threads(), c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jT:h", opts, NULL)) != -1) {
        switch (c) {
        case O_INPUTS: oo.inputs_dir = optarg; break;
        case O_SAMPLES:
            oo.samples = atoi(optarg);
            if (oo.samples < 1 || oo.samples > 256)
                return cli_usage("verify", "--samples must be 1..256");
            break;
        case O_SEED: oo.seed = strtoull(optarg, NULL, 10); break;
        case O_DIM:
        case O_INPUT:
            if (!strchr(optarg, '=') || (c == O_DIM ? oo.ndims : oo.nvalues) >= WG_ORT_MAX_OPTS)
                return cli_usage("verify", "--%s expects NAME=VALUE", c == O_DIM ? "dim" : "input");
            if (c == O_DIM)
                oo.dims[oo.ndims++] = optarg;
            else
                oo.values[oo.nvalues++] = optarg;
            break;
        case O_TOKENS: tokfile = optarg; bytes = false; break;
        case O_TEXT: tokfile = optarg; bytes = true; break;
        case O_MAXTOK:
            maxtok = atoi(optarg);
            if (maxtok < 2 || maxtok > 65536)
                return cli_usage("verify", "--max-tokens must be 2..65536");
            break;
        case O_MAXRR: max_rr = atof(optarg); break;
        case O_REPORT: report_dir = optarg; break;
        case O_SWEEP: sweep = true; break;
        case O_DB: dbp = optarg; break;
        case O_CALIB: calib = optarg; calib_bytes = false; break;
        case O_CALIBTEXT: calib = optarg; calib_bytes = true; break;
        case 'j': json = true; break;
        case 'T': threads = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 'h': fputs(help, stdout); return 0;
        default:
            if ((rc = wg_plan_cli_option(&pc, c, optarg, "verify")) != 0)
                return rc;
        }
    }
    int npos = argc - optind;
    if (npos < 1 || npos > 2)
        return cli_usage("verify", "expected ORIGINAL.onnx [QUANTIZED.onnx]");
    const char *orig = argv[optind], *quant = npos == 2 ? argv[optind + 1] : NULL;
    if (quant && (report_dir || sweep || dbp || calib))
        return cli_usage("verify", "--report, --sweep, --db and --calib take one model (the quantized ones are "
                         "made from the plan options)");
    wg_error err = {0};
    wg_model *m = NULL;
    wg_plan_entry *plan = NULL;
    json_t *report = NULL, *exs = NULL, *desc = NULL, *cmp = NULL, *prep = NULL, *sweep_out = NULL;
    json_t *calj = NULL;                /* the calibration section */
    wg_plan_entry *calplan = NULL;      /* the plan without calibration */
    char work[PATH_MAX] = "", da[PATH_MAX + 8], db[PATH_MAX + 8];
    char **dirs = NULL;
    int ndirs = 0;
    int32_t *tokens = NULL;
    wg_open_opts mo = {.rules_path = pc.rules};
    if ((rc = wg_model_open(orig, &mo, &m, &err)))
        goto fail;
    wg_bar_begin(m);
    if (m->kind != WG_IN_ONNX) {
        rc = wg_fail(&err, WG_EUSAGE, orig, "not an ONNX model");
        goto fail;
    }
    if (quant && access(quant, R_OK)) {
        rc = wg_fail(&err, WG_EINPUT, quant, "cannot read: %s", strerror(errno));
        goto fail;
    }
    if ((rc = make_workdir(work, sizeof work, &err)))
        goto fail;
    if (tokfile) {
        int64_t vocab = m->config.vocab_size > 0 ? m->config.vocab_size : 0;
        wg_io_desc *io = NULL;
        size_t nio = 0;
        if (!wg_onnx_inputs(m, &io, &nio))
            for (size_t i = 0; i < nio; i++)
                vocab = io[i].index_rows > 0 ? io[i].index_rows : vocab;
        free(io);
        if ((rc = cli_read_tokens(tokfile, bytes, maxtok, &tokens, &oo.ntokens,
                                  vocab > 0 ? (int)vocab : INT32_MAX, &err)))
            goto fail;
        oo.tokens = tokens;
        oo.samples = 1;
    }
    if ((rc = wg_ort_prepare_inputs(m, &oo, work, &dirs, &ndirs, &desc, &err)))
        goto fail;
    snprintf(da, sizeof da, "%s/outA", work);
    if ((rc = wg_ort_run(orig, da, dirs, ndirs, work, &err)))
        goto fail;
    session ss = {.m = m, .threads = threads, .work = work, .dirs = dirs, .ndirs = ndirs,
                  .da = da, .oo = &oo, .dbp = dbp};
    if (calib) {
        if ((rc = calibrate(m, calib, calib_bytes, &oo, work, threads, &imp, &ncal, &err)))
            goto fail;
        pc.importance = (const float *const *)imp;
        /* the same plan without calibration, for the report */
        wg_plan_cli v = pc;
        v.importance = NULL;
        json_t *without = NULL;
        if ((rc = measure(&ss, &v, "nocalib", "without calibration", false, &without, &calplan,
                          &err)))
            goto fail;
        calj = json_pack("{s:s, s:i, s:o}", "source", calib, "tensors", ncal, "without", without);
    }
    if (!quant) {
        if ((rc = eval_plan(&ss, &pc, "main", &plan, &prep, &exs, &cmp, &err)) ||
            (rc = record(&ss, plan, prep, exs, cmp, &err)))
            goto fail;
    } else {
        snprintf(db, sizeof db, "%s/outB", work);
        if ((rc = wg_ort_run(quant, db, dirs, ndirs, work, &err)) ||
            (rc = wg_ort_compare(da, db, ndirs, tokens, oo.ntokens, &cmp, &err)))
            goto fail;
    }
    if (calj && plan && calplan) {
        int changed = 0;
        for (size_t i = 0; i < m->n_tensors; i++)
            changed += memcmp(&plan[i].fmt, &calplan[i].fmt, sizeof plan[i].fmt) != 0;
        json_object_set_new(calj, "with", sweep_point("with calibration", prep, exs, cmp));
        json_object_set_new(calj, "formats_changed", json_integer(changed));
    }
    if (sweep) {
        static const struct { const char *label; wg_preset p; double bits; } pts[] = {
            {"q8", WG_PRESET_Q8, 0}, {"mixed", WG_PRESET_MIXED, 0}, {"q4", WG_PRESET_Q4, 0},
            {"q3", WG_PRESET_Q3, 0}, {"q2", WG_PRESET_Q2, 0}, {"planner 5 bits", WG_PRESET_MIXED, 5},
            {"planner 4 bits", WG_PRESET_MIXED, 4}, {"planner 3 bits", WG_PRESET_MIXED, 3}};
        sweep_out = json_array();
        for (size_t k = 0; k < sizeof pts / sizeof *pts; k++) {
            wg_plan_cli v = pc;
            v.o.preset = pts[k].p;
            v.target_bits = pts[k].bits;
            v.target_size = 0;
            char lab[32];
            json_t *point = NULL;
            snprintf(lab, sizeof lab, "s%zu", k);
            if ((rc = measure(&ss, &v, lab, pts[k].label, true, &point, NULL, &err)))
                goto fail;
            json_array_append_new(sweep_out, point);
        }
    }
    report = json_pack("{s:s, s:s, s:i, s:i, s:O, s:O}", "original", orig, "quantized",
                       quant ? quant : "(exported from the plan)", "samples", ndirs,
                       "seed", (int)oo.seed, "inputs", desc, "comparison", cmp);
    if (sweep_out)
        json_object_set(report, "sweep", sweep_out);
    if (calj)
        json_object_set(report, "calibration", calj);
    if (report_dir) {
        json_t *pareto = NULL;
        if ((rc = wg_plan_pareto(&pc, m, threads, 24, &pareto, &err)))
            goto fail;
        json_t *rj = wg_report_build(m, plan, prep, exs, cmp, pareto, sweep_out);
        json_object_set(rj, "inputs", desc);
        if (json_object_get(report, "calibration"))
            json_object_set(rj, "calibration", json_object_get(report, "calibration"));
        rc = wg_report_write(report_dir, rj, &err);
        json_decref(rj);
        json_decref(pareto);
        if (rc)
            goto fail;
        json_object_set_new(report, "report", json_string(report_dir));
    }
    if (exs)
        json_object_set(report, "export", exs);
    wg_bar_end();
    if (json) {
        json_dumpf(report, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else
        print_report(report);
    rc = 0;
    if (max_rr >= 0) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(cmp, "outputs"), i, o)
            if (json_real_value(json_object_get(o, "rel_rmse")) > max_rr) {
                fprintf(stderr, "wgpack: %s: output '%s' relative RMSE %.4g exceeds %.4g\n",
                        quant ? quant : orig,
                        json_string_value(json_object_get(o, "name")),
                        json_real_value(json_object_get(o, "rel_rmse")), max_rr);
                rc = WG_EVERIFY;
            }
    }
    goto done;
fail:
    rc = cli_report(&err);
done:
    for (int i = 0; i < ndirs; i++)
        free(dirs[i]);
    free(dirs);
    if (*work)
        wg_rm_rf(work);
    json_decref(report);
    json_decref(exs);
    json_decref(desc);
    json_decref(cmp);
    json_decref(prep);
    json_decref(sweep_out);
    json_decref(calj);
    free(calplan);
    for (size_t i = 0; imp && i < m->n_tensors; i++)
        free(imp[i]);
    free(imp);
    free(tokens);
    free(plan);
    wg_model_free(m);
    return rc;
}
