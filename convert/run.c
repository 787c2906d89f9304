/* convert/run.c — `wgpack run BUNDLE (--text FILE | --tokens FILE) [options]`: run a bundle's
 * model in a real WebGPU (headless Chromium, Node with Dawn, or Deno's wgpu) through
 * tools/web/run_model.mjs, and hold its output to the C reference forward pass of the same
 * stored (quantized) weights (verify/bundle_ref.c): NLL, largest |logit difference|, top-1
 * agreement and the greedy continuation for decoders; cosine and relative error of the last
 * hidden state for encoders; the runtime's timings.
 *
 * Tolerance (exit 5 beyond it). Both sides compute the same function on the same f32 weights;
 * they differ by rounding only: the runtime sums dot products in f32 in its own order (tiles,
 * subgroups), the reference in double, and both round every stored activation to f32.
 * Summing K terms in float of unit roundoff u in another order moves the result by about
 * sqrt(K) u relative (the rounding errors are of random sign: a random walk; K u is the worst
 * case). About four matrix products lie on each layer's path into the residual stream
 * (q/k/v, attention, o; gate/up, down), RMSNorm/LayerNorm keep errors relative, and the
 * residual stream adds them up over the layers, so the last hidden state is off by about
 *     eps = 16 (4 L + 1) sqrt(Kmax) u     (wg_f32_order_eps; u = 2^-24, or 2^-11 when the
 *                                          runtime reports f16 precision)
 * relative, Kmax the longest reduction (hidden, intermediate, heads x head_dim, or the number
 * of positions attention sums over). The factor 16 is not derived: it stands for what the
 * random-walk model leaves out (the layers' Jacobians amplifying an error, exp/tanh/erf a few
 * ulp off on GPUs, fused multiply-adds). Decoders fail when a logit is off by more than
 * eps x max(1, max |reference logit|), or when a greedy step picks another token than the
 * reference's argmax although the reference's top-1 leads by more than twice that; encoders
 * fail when a token's last hidden state is off by more than eps relative (L2), which also
 * bounds the cosine (>= 1 - eps^2/2). Runs on real adapters calibrate the factor. */
#define _GNU_SOURCE
#include "cli.h"
#include "plan_cli.h"
#include "../pack/pack.h"
#include "../verify/node.h"
#include "../verify/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *run_help =
    "usage: wgpack run BUNDLE (--text FILE | --tokens FILE) [options]\n"
    "  runs the bundle's model in WebGPU (tools/web/run_model.mjs) and compares it with the C\n"
    "  reference forward pass of the same stored weights\n"
    "  --tokens FILE        token ids: .i64 / .i32 little-endian binary, or whitespace-separated text\n"
    "  --text FILE          raw bytes as tokens (byte-level models)\n"
    "  --max-tokens N       use the first N tokens (default 512; cut to the position table)\n"
    "  --generate N         also generate N tokens greedily (decoders); each is checked\n"
    "                       against the reference's argmax after the runtime's own prefix\n"
    "  --engine E           chromium (default: headless Chromium, its adapter), node (Dawn)\n"
    "                       or deno (Deno's WebGPU: wgpu and naga, Firefox's stack)\n"
    "  --max-seq N          the runtime's sequence capacity (KV cache), passed to the runner\n"
    "  --timeout S          stop the runner after S seconds (default 900)\n"
    "  --threads N          threads of the C reference (results identical for any N)\n"
    "  --reference-only     no runtime: the C reference alone (its NLL, for checks)\n"
    "  --no-reference       no C reference: the runtime's outputs and timings alone\n"
    "  --reference-out FILE write the reference's f32 output [tokens][vocab or hidden]\n"
    "  --runtime-out FILE   write the runtime's f32 output [tokens][vocab or hidden]\n"
    "  --json               one JSON object on stdout\n"
    "  exit: 0 agrees, 2 bundle or input cannot run, 4 runner failed, 5 disagrees\n"
    "  env: WGPACK_TOOLS (the tools directory), WGPACK_NODE, WGPACK_DENO (the binaries)\n";

typedef struct run_opts {
    const char *dir, *tokens, *engine, *ref_out, *rt_out;
    bool bytes, json, ref_only, no_ref;
    int max_tokens, generate, max_seq, timeout_s, threads;
} run_opts;

/* what the runtime returned */
typedef struct runtime {
    json_t *result;       /* result.json */
    float *out;           /* [n][dim] */
    int32_t *gen;         /* generated ids */
    int ngen;
    double unit;          /* unit roundoff of its arithmetic */
} runtime;

/* the C reference: [n_ext][dim], n_ext = tokens + generated - 1 for decoders */
typedef struct reference {
    float *out;
    int n_ext;
} reference;

static int parse_opts(int argc, char **argv, run_opts *o)
{
    static const struct option opts[] = {
        {"tokens", required_argument, 0, 't'}, {"text", required_argument, 0, 'x'},
        {"max-tokens", required_argument, 0, 'N'}, {"generate", required_argument, 0, 'g'},
        {"engine", required_argument, 0, 'e'}, {"max-seq", required_argument, 0, 'S'},
        {"timeout", required_argument, 0, 'W'}, {"threads", required_argument, 0, 'T'},
        {"reference-only", no_argument, 0, 'R'}, {"no-reference", no_argument, 0, 'n'},
        {"reference-out", required_argument, 0, 'r'}, {"runtime-out", required_argument, 0, 'o'},
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    *o = (run_opts){.engine = "chromium", .max_tokens = 512, .timeout_s = 900,
                    .threads = wg_default_threads()};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:x:N:g:e:S:W:T:Rnr:o:jh", opts, NULL)) != -1) {
        switch (c) {
        case 't': o->tokens = optarg; o->bytes = false; break;
        case 'x': o->tokens = optarg; o->bytes = true; break;
        case 'N': o->max_tokens = atoi(optarg); break;
        case 'g': o->generate = atoi(optarg); break;
        case 'e': o->engine = optarg; break;
        case 'S': o->max_seq = atoi(optarg); break;
        case 'W': o->timeout_s = atoi(optarg); break;
        case 'T': o->threads = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 'R': o->ref_only = true; break;
        case 'n': o->no_ref = true; break;
        case 'r': o->ref_out = optarg; break;
        case 'o': o->rt_out = optarg; break;
        case 'j': o->json = true; break;
        case 'h': fputs(run_help, stdout); return -1;
        default: return cli_usage("run", "bad option");
        }
    }
    if (optind != argc - 1 || !o->tokens)
        return cli_usage("run", "expected BUNDLE and --tokens FILE or --text FILE");
    o->dir = argv[optind];
    if (o->max_tokens < 2 || o->max_tokens > 1 << 16 || o->generate < 0 || o->generate > 1 << 16 ||
        o->max_seq < 0 || o->timeout_s < 1)
        return cli_usage("run", "--max-tokens must be 2..65536, --generate 0..65536, --max-seq "
                         ">= 0 and --timeout >= 1");
    if (strcmp(o->engine, "chromium") && strcmp(o->engine, "node") && strcmp(o->engine, "deno"))
        return cli_usage("run", "--engine must be chromium, node or deno");
    if (o->ref_only && (o->no_ref || o->generate || o->rt_out))
        return cli_usage("run", "--reference-only runs no runtime (no --no-reference, "
                         "--generate or --runtime-out)");
    if (o->no_ref && o->ref_out)
        return cli_usage("run", "--no-reference writes no --reference-out");
    return 0;
}

/* ---- inputs ---- */

/* tokens within the model's position table (and, for decoders, room for the generated ones) */
static int read_tokens(const run_opts *o, const wg_manifest *m, int32_t **tok, int *n,
                       wg_error *err)
{
    const wg_man_forward *f = m->forward;
    int rc = cli_read_tokens(o->tokens, o->bytes, o->max_tokens, tok, n, f->vocab, err);
    if (rc)
        return rc;
    int room = INT_MAX;
    if (f->arch == WG_FWD_BERT)
        room = f->variant == 1 ? f->max_pos - f->pad_id - 1 : f->max_pos;
    else {
        if (f->max_pos)
            room = f->max_pos - o->generate;
        if (f->sliding_window) /* the reference attends to every position: stay inside */
            room = room < f->sliding_window - o->generate ? room : f->sliding_window - o->generate;
    }
    *n = *n < room ? *n : room;
    if (*n < 2)
        return wg_fail(err, WG_EINPUT, m->path, "the model's position table leaves room for %d "
                       "tokens (at least 2 are needed, --generate %d included)", *n, o->generate);
    return 0;
}

static int write_i32(const char *path, const int32_t *v, int n, wg_error *err)
{
    FILE *f = fopen(path, "wb");
    for (int i = 0; f && i < n; i++) {
        uint32_t u = (uint32_t)v[i];
        unsigned char b[4] = {u & 255, u >> 8 & 255, u >> 16 & 255, u >> 24};
        fwrite(b, 1, 4, f);
    }
    if (!f || ferror(f) | fclose(f))
        return wg_fail(err, WG_EIO, path, "cannot write");
    return 0;
}

static int write_f32(const char *path, const float *v, size_t n, wg_error *err)
{
    wg_atomic_file f;
    int rc = wg_atomic_open(&f, path, err);
    if (!rc && (rc = wg_atomic_write(&f, v, n * sizeof *v, err)))
        wg_atomic_abort(&f);
    return rc ? rc : wg_atomic_commit(&f, err);
}

/* ---- the runtime ---- */

/* the runner's failure: its own error line, else its log's; 2 when the bundle cannot run */
static int runner_failed(const run_opts *o, const char *work, json_t *res, int st, wg_error *err)
{
    char line[600], log[PATH_MAX];
    const char *e = json_string_value(json_object_get(res, "error"));
    snprintf(log, sizeof log, "%s/runner.log", work);
    if (e)
        snprintf(line, sizeof line, "%s", e);
    else
        wg_node_log_line(log, NULL, line, sizeof line);
    if (!*line)
        snprintf(line, sizeof line, "the runner %s %d without a result",
                 WIFSIGNALED(st) ? "was killed by signal" : "exited with status",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    line[strcspn(line, "\r\n")] = 0;
    static const char *const cannot[] = {"integrity check failed", "unsupported", "cannot run"};
    bool input = json_is_true(json_object_get(res, "cannot_run"));
    for (size_t i = 0; i < sizeof cannot / sizeof *cannot; i++)
        input |= strstr(line, cannot[i]) != NULL;
    return wg_fail(err, input ? WG_EINPUT : WG_EIO, o->dir, "the runtime (%s) failed: %s",
                   o->engine, line);
}

/* exactly count f32 from path (a regular file) */
static float *read_f32(const char *path, size_t count, wg_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    float *v = NULL;
    if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size == count * sizeof(float) && (v = malloc(count * sizeof *v + 1))) {
        size_t got = 0;
        ssize_t r = 1;
        while (got < count * sizeof *v && (r = read(fd, (char *)v + got, count * sizeof *v - got)) > 0)
            got += (size_t)r;
        if (got != count * sizeof *v) {
            free(v);
            v = NULL;
        }
    }
    if (fd >= 0)
        close(fd);
    if (!v)
        wg_fail(err, WG_EIO, path, "the runner's output is not %zu f32 values", count);
    return v;
}

/* result.json agrees with what was asked: arch, tokens, dim, generated ids in the vocabulary */
static int check_result(const wg_manifest *m, const run_opts *o, int n, int dim, runtime *rt,
                        wg_error *err)
{
    json_t *r = rt->result, *g = json_object_get(r, "generated"), *v;
    const char *arch = json_string_value(json_object_get(r, "arch"));
    bool llama = m->forward->arch == WG_FWD_LLAMA;
    if (!arch || strcmp(arch, llama ? "llama" : "bert") ||
        json_integer_value(json_object_get(r, "tokens")) != n ||
        json_integer_value(json_object_get(r, "dim")) != dim ||
        (llama && o->generate && json_array_size(g) != (size_t)o->generate))
        return wg_fail(err, WG_EIO, o->dir, "the runtime (%s): its result.json does not describe "
                       "%d tokens of a %s of output width %d%s", o->engine, n,
                       llama ? "llama" : "bert", dim, o->generate ? " and the tokens generated" : "");
    rt->ngen = llama && o->generate ? o->generate : 0;
    if (!(rt->gen = malloc(sizeof *rt->gen * ((size_t)rt->ngen + 1))))
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    for (int i = 0; i < rt->ngen; i++) {
        v = json_array_get(g, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= m->forward->vocab)
            return wg_fail(err, WG_EIO, o->dir, "the runtime (%s): generated token %d is not "
                           "an id of the vocabulary", o->engine, i);
        rt->gen[i] = (int32_t)json_integer_value(v);
    }
    const char *prec = json_string_value(json_object_get(r, "precision"));
    rt->unit = prec && !strcmp(prec, "f16") ? ldexp(1, -11) : ldexp(1, -24);
    return 0;
}

/* node tools/web/run_model.mjs --engine E --bundle DIR --tokens F --out D [...] in work/ */
/* the engine's runner: node for chromium and node; Deno ($WGPACK_DENO, else the npm package's,
 * else deno on PATH) running the same script for deno */
static int spawn_engine(const run_opts *o, char **args, const char *root, const char *log,
                        int *st, wg_error *err)
{
    if (strcmp(o->engine, "deno"))
        return wg_node_run(args, root, log, o->timeout_s, st, err);
    static const char *const env[] = {"DENO_NO_PACKAGE_JSON=1", NULL};
    char deno[PATH_MAX], *dargs[24] = {"run", "--unstable-webgpu", "--no-config", "-A"};
    const char *d = getenv("WGPACK_DENO");
    snprintf(deno, sizeof deno, "%s/node_modules/.bin/deno", root);
    if (d && *d)
        snprintf(deno, sizeof deno, "%s", d);
    else if (access(deno, X_OK))
        snprintf(deno, sizeof deno, "deno");
    for (int i = 0; args[i] && i < 19; i++)
        dargs[4 + i] = args[i];
    return wg_tool_run(deno, dargs, env, root, log, o->timeout_s, st, err);
}

/* RUNNER tools/web/run_model.mjs --engine E --bundle DIR --tokens F --out D [...] in work/ */
static int spawn_runtime(const run_opts *o, const char *work, int *st, wg_error *err)
{
    char script[PATH_MAX], root[PATH_MAX], bundle[PATH_MAX], tok[PATH_MAX], out[PATH_MAX],
         log[PATH_MAX], gen[16], seq[16];
    if (!wg_tool_find("web/run_model.mjs", getenv("WGPACK_TOOLS"), script, root, sizeof script))
        return wg_fail(err, WG_EIO, NULL, "cannot find tools/web/run_model.mjs beside the wgpack "
                       "executable (set WGPACK_TOOLS to the tools directory)");
    if (!realpath(o->dir, bundle))
        return wg_fail(err, WG_EINPUT, o->dir, "%s", strerror(errno));
    snprintf(tok, sizeof tok, "%s/tokens.i32", work);
    snprintf(out, sizeof out, "%s/out", work);
    snprintf(log, sizeof log, "%s/runner.log", work);
    snprintf(gen, sizeof gen, "%d", o->generate);
    snprintf(seq, sizeof seq, "%d", o->max_seq);
    char *args[16] = {script, "--engine", (char *)o->engine, "--bundle", bundle, "--tokens", tok,
                      "--out", out};
    int a = 9;
    if (o->generate) {
        args[a++] = "--generate";
        args[a++] = gen;
    }
    if (o->max_seq) {
        args[a++] = "--max-seq";
        args[a++] = seq;
    }
    if (mkdir(out, 0700))
        return wg_fail(err, WG_EIO, out, "cannot create: %s", strerror(errno));
    return spawn_engine(o, args, root, log, st, err);
}

static int run_runtime(const run_opts *o, const wg_manifest *m, const char *work,
                       const int32_t *tok, int n, runtime *rt, wg_error *err)
{
    char path[PATH_MAX];
    int st = 0, dim = m->forward->arch == WG_FWD_LLAMA ? m->forward->vocab : m->forward->hidden;
    snprintf(path, sizeof path, "%s/tokens.i32", work);
    int rc = write_i32(path, tok, n, err);
    if (rc || (rc = spawn_runtime(o, work, &st, err)))
        return rc;
    snprintf(path, sizeof path, "%s/out/result.json", work);
    rt->result = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    if (!WIFEXITED(st) || WEXITSTATUS(st) || !json_is_true(json_object_get(rt->result, "ok")))
        return runner_failed(o, work, rt->result, st, err);
    if ((rc = check_result(m, o, n, dim, rt, err)))
        return rc;
    snprintf(path, sizeof path, "%s/out/out.f32", work);
    if (!(rt->out = read_f32(path, (size_t)n * (size_t)dim, err)))
        return err->code;
    return o->rt_out ? write_f32(o->rt_out, rt->out, (size_t)n * (size_t)dim, err) : 0;
}

/* ---- the reference ---- */

/* decoders run tokens + the runtime's generated ones but the last (n_ext positions): the
 * first n rows are the plain forward pass (causal), the rest check each greedy step */
static int run_reference(const run_opts *o, const wg_manifest *m, const int32_t *tok, int n,
                         const runtime *rt, reference *ref, wg_error *err)
{
    const wg_man_forward *f = m->forward;
    bool llama = f->arch == WG_FWD_LLAMA;
    int dim = llama ? f->vocab : f->hidden, rc;
    ref->n_ext = n + (rt->ngen > 1 ? rt->ngen - 1 : 0);
    int32_t *ext = malloc(sizeof *ext * (size_t)ref->n_ext);
    ref->out = malloc(sizeof(float) * (size_t)ref->n_ext * (size_t)dim);
    if (!ext || !ref->out) {
        free(ext);
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    }
    memcpy(ext, tok, sizeof *ext * (size_t)n);
    if (ref->n_ext > n)
        memcpy(ext + n, rt->gen, sizeof *ext * (size_t)(ref->n_ext - n));
    wg_llama lm;
    wg_bert b;
    if (llama && !(rc = wg_llama_from_forward(&lm, o->dir, m, err))) {
        if (wg_llama_forward(&lm, ext, ref->n_ext, ref->out, o->threads))
            rc = wg_fail(err, WG_EIO, NULL, "reference forward pass failed (out of memory)");
        wg_llama_free(&lm);
    } else if (!llama && !(rc = wg_bert_from_forward(&b, o->dir, m, err))) {
        if (wg_bert_forward(&b, ext, NULL, NULL, n, ref->out, o->threads))
            rc = wg_fail(err, WG_EIO, NULL, "reference forward pass failed (out of memory)");
        wg_bert_free(&b);
    }
    free(ext);
    if (!rc && o->ref_out)
        rc = write_f32(o->ref_out, ref->out, (size_t)n * (size_t)dim, err);
    return rc;
}

/* ---- comparison and report ---- */

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *runner_field(const runtime *rt, const char *key)
{
    json_t *v = json_object_get(rt->result, key);
    return v ? json_incref(v) : json_null();
}

/* the report's frame: what ran where, and the runtime's timings */
static json_t *report_base(const run_opts *o, const wg_manifest *m, int n, const runtime *rt)
{
    static const char *const timing[] = {"adapter", "load_ms", "first_layer_ms", "prefill_ms",
                                         "prefill_tokens_per_s", "decode_tokens_per_s",
                                         "bytes_fetched", "precision"};
    json_t *j = json_pack("{s:s, s:s, s:o, s:i, s:i}", "bundle", o->dir, "arch",
                          m->forward->arch == WG_FWD_LLAMA ? "llama" : "bert", "engine",
                          o->ref_only ? json_null() : json_string(o->engine), "tokens", n,
                          "layers", m->forward->layers);
    for (size_t i = 0; i < sizeof timing / sizeof *timing; i++)
        json_object_set_new(j, timing[i], runner_field(rt, timing[i]));
    return j;
}

static bool all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

static int64_t kmax_of(const wg_man_forward *f, int n)
{
    int64_t k = f->hidden > f->inter ? f->hidden : f->inter;
    k = k > (int64_t)f->heads * f->head_dim ? k : (int64_t)f->heads * f->head_dim;
    return k > n ? k : n;
}

/* the greedy steps: generated[k] against the reference's argmax at position n-1+k */
static void greedy_check(json_t *j, const reference *ref, const runtime *rt, int n, int V,
                         double tol, int *decided)
{
    int match = 0;
    for (int k = 0; k < rt->ngen; k++) {
        const float *z = ref->out + (size_t)(n - 1 + k) * (size_t)V;
        bool same = wg_argmax(z, V) == rt->gen[k];
        match += same;
        *decided += !same && wg_top1_margin(z, V) > 2 * tol;
    }
    json_object_set_new(j, "greedy_first_token_matches",
                        rt->ngen ? json_boolean(wg_argmax(ref->out + (size_t)(n - 1) * V, V) ==
                                                rt->gen[0]) : json_null());
    json_object_set_new(j, "greedy_matches", rt->ngen ? json_integer(match) : json_null());
}

static bool compare_llama(json_t *j, const wg_manifest *m, int n,
                          const int32_t *tok, const runtime *rt, const reference *ref)
{
    const wg_man_forward *f = m->forward;
    int V = f->vocab, decided = 0;
    wg_lm_compare c;
    const float *a = ref->out ? ref->out : rt->out, *b = rt->out ? rt->out : ref->out;
    wg_lm_compare_logits(a, b, tok, n, V, &c);
    bool both = ref->out && rt->out, finite = !rt->out || all_finite(rt->out, (size_t)n * V);
    double zmax = 0, eps = wg_f32_order_eps(f->layers, kmax_of(f, ref->n_ext), rt->unit);
    for (size_t i = 0; ref->out && i < (size_t)n * V; i++)
        zmax = fabs(ref->out[i]) > zmax ? fabs(ref->out[i]) : zmax;
    double tol = eps * (zmax > 1 ? zmax : 1);
    json_object_set_new(j, "nll", rt->out && finite ? num(c.nll_b) : json_null());
    json_object_set_new(j, "reference_nll", ref->out ? num(c.nll_a) : json_null());
    json_object_set_new(j, "max_abs_logit_diff", both ? num(c.max_abs) : json_null());
    json_object_set_new(j, "top1_agreement", both ? num(c.top1_agree) : json_null());
    json_object_set_new(j, "kl", both ? num(c.kl) : json_null());
    if (both)
        decided = wg_decided_disagreements(ref->out, rt->out, n, V, tol);
    json_object_set_new(j, "generated", runner_field(rt, "generated"));
    if (both)
        greedy_check(j, ref, rt, n, V, tol, &decided);
    json_object_set_new(j, "decided_disagreements", both ? json_integer(decided) : json_null());
    json_object_set_new(j, "tolerance", both ? json_pack("{s:f, s:f, s:f}", "unit_roundoff",
                        rt->unit, "eps", eps, "logit_abs", tol) : json_null());
    static const char *const enc_keys[] = {"cosine", "min_cosine", "max_rel_err", "max_abs"};
    for (size_t i = 0; i < sizeof enc_keys / sizeof *enc_keys; i++)
        json_object_set_new(j, enc_keys[i], json_null());
    bool ok = finite && (!both || (c.max_abs <= tol && !decided));
    json_object_set_new(j, "agrees", both || !finite ? json_boolean(ok) : json_null());
    return ok;
}

static bool compare_bert(json_t *j, const wg_manifest *m, int n, const runtime *rt,
                         const reference *ref)
{
    const wg_man_forward *f = m->forward;
    int H = f->hidden;
    bool both = ref->out && rt->out, finite = !rt->out || all_finite(rt->out, (size_t)n * H);
    wg_hidden_compare c = {0};
    if (both && finite)
        wg_hidden_compare_run(ref->out, rt->out, n, H, &c);
    double eps = wg_f32_order_eps(f->layers, kmax_of(f, n), rt->unit);
    static const char *const lm_keys[] = {"nll", "reference_nll", "max_abs_logit_diff",
                                          "top1_agreement", "kl", "generated"};
    for (size_t i = 0; i < sizeof lm_keys / sizeof *lm_keys; i++)
        json_object_set_new(j, lm_keys[i], json_null());
    bool cmp = both && finite;
    json_object_set_new(j, "cosine", cmp ? num(c.cosine) : json_null());
    json_object_set_new(j, "min_cosine", cmp ? num(c.min_cosine) : json_null());
    json_object_set_new(j, "max_rel_err", cmp ? num(c.max_rel_err) : json_null());
    json_object_set_new(j, "max_abs", cmp ? num(c.max_abs) : json_null());
    json_object_set_new(j, "tolerance", both ? json_pack("{s:f, s:f}", "unit_roundoff", rt->unit,
                                                         "eps", eps) : json_null());
    bool ok = finite && (!both || c.max_rel_err <= eps);
    json_object_set_new(j, "agrees", both || !finite ? json_boolean(ok) : json_null());
    return ok;
}

static double jnum(json_t *j, const char *k) { return json_number_value(json_object_get(j, k)); }

static void print_value(const char *label, json_t *j, const char *k, const char *fmt)
{
    json_t *v = json_object_get(j, k);
    printf("%s", label);
    if (json_is_number(v))
        printf(fmt, json_number_value(v));
    else
        printf("-");
}

static void print_report(json_t *j)
{
    bool llama = !strcmp(json_string_value(json_object_get(j, "arch")), "llama");
    printf("bundle:    %s (%s, %d layers), %d tokens\n", json_string_value(json_object_get(j, "bundle")),
           llama ? "decoder" : "encoder", (int)jnum(j, "layers"), (int)jnum(j, "tokens"));
    if (json_is_string(json_object_get(j, "engine"))) {
        printf("runtime:   %s on %s\n", json_string_value(json_object_get(j, "engine")),
               json_is_string(json_object_get(j, "adapter")) ? json_string_value(json_object_get(j, "adapter")) : "?");
        print_value("timings:   load ", j, "load_ms", "%.0f ms");
        print_value(" (first layer ", j, "first_layer_ms", "%.0f ms");
        print_value("), prefill ", j, "prefill_tokens_per_s", "%.1f tokens/s");
        print_value(", decode ", j, "decode_tokens_per_s", "%.1f tokens/s");
        printf("\n");
    }
    if (llama) {
        print_value("NLL:       runtime ", j, "nll", "%.6f");
        print_value(", C reference ", j, "reference_nll", "%.6f");
        printf(" nats/token\n");
        if (json_is_number(json_object_get(j, "max_abs_logit_diff"))) {
            print_value("logits:    max |diff| ", j, "max_abs_logit_diff", "%.3g");
            print_value(" (tolerance ", json_object_get(j, "tolerance"), "logit_abs", "%.3g");
            printf("), top-1 agreement %.2f%%, KL %.3g\n", 100 * jnum(j, "top1_agreement"), jnum(j, "kl"));
        }
        if (json_is_integer(json_object_get(j, "greedy_matches")))
            printf("generate:  %d of %d greedy tokens are the reference's argmax\n",
                   (int)jnum(j, "greedy_matches"), (int)json_array_size(json_object_get(j, "generated")));
    } else if (json_is_number(json_object_get(j, "cosine"))) {
        printf("hidden:    cosine %.8f (worst token %.8f), max relative error %.3g (tolerance "
               "%.3g), max |diff| %.3g\n", jnum(j, "cosine"), jnum(j, "min_cosine"),
               jnum(j, "max_rel_err"), jnum(json_object_get(j, "tolerance"), "eps"), jnum(j, "max_abs"));
    }
    json_t *ag = json_object_get(j, "agrees");
    if (json_is_boolean(ag))
        printf("verdict:   %s\n", json_is_true(ag) ? "agrees with the C reference of the same weights"
                                                    : "DISAGREES with the C reference beyond the tolerance");
}

/* a temporary work directory for the runner's files */
static int make_work(char *work, size_t n, wg_error *err)
{
    const char *t = getenv("TMPDIR");
    snprintf(work, n, "%s/wgpack-run-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(work))
        return wg_fail(err, WG_EIO, work, "cannot create a work directory: %s", strerror(errno));
    return 0;
}

static int open_bundle(const run_opts *o, wg_manifest *m, wg_error *err)
{
    int rc = wg_manifest_read(o->dir, m, err);
    if (rc) {
        err->code = err->code == WG_EIO ? WG_EIO : WG_EINPUT; /* a bad manifest is bad input */
        return err->code;
    }
    if (!m->forward)
        return wg_fail(err, WG_EINPUT, m->path, "this bundle's model cannot run: %s",
                       m->forward_missing ? m->forward_missing : "the manifest has no forward "
                       "section (built by an older wgpack?)");
    if (o->generate && m->forward->arch != WG_FWD_LLAMA)
        return wg_fail(err, WG_EUSAGE, NULL, "run: --generate needs a decoder (this bundle's "
                       "model is an encoder)");
    return 0;
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc = parse_opts(argc, argv, &o), n = 0;
    if (rc)
        return rc < 0 ? 0 : rc;
    wg_error err = {0};
    wg_manifest m;
    int32_t *tok = NULL;
    runtime rt = {.unit = ldexp(1, -24)};
    reference ref = {0};
    json_t *j = NULL;
    char work[PATH_MAX] = "";
    bool ok = true;
    if ((rc = open_bundle(&o, &m, &err)) || (rc = read_tokens(&o, &m, &tok, &n, &err)))
        goto out;
    if (!o.ref_only && ((rc = make_work(work, sizeof work, &err)) ||
                        (rc = run_runtime(&o, &m, work, tok, n, &rt, &err))))
        goto out;
    if (!o.no_ref && (rc = run_reference(&o, &m, tok, n, &rt, &ref, &err)))
        goto out;
    j = report_base(&o, &m, n, &rt);
    ok = m.forward->arch == WG_FWD_LLAMA ? compare_llama(j, &m, n, tok, &rt, &ref)
                                         : compare_bert(j, &m, n, &rt, &ref);
    if (o.json) {
        json_dumpf(j, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else
        print_report(j);
    fflush(stdout);
    if (!ok)
        rc = wg_fail(&err, WG_EVERIFY, o.dir, "the runtime (%s) disagrees with the C reference "
                     "of the same weights beyond the f32 tolerance", o.engine);
out:
    if (*work)
        wg_rm_rf(work);
    wg_manifest_free(&m);
    json_decref(j);
    json_decref(rt.result);
    free(rt.out);
    free(rt.gen);
    free(ref.out);
    free(tok);
    return rc ? cli_report(&err) : 0;
}
