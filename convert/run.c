/* convert/run.c — `wgpack run BUNDLE (--text FILE | --tokens FILE | --prompt TEXT) [options]`:
 * run a bundle's model in a real WebGPU (headless Chromium, Node with Dawn, or Deno's wgpu) through
 * tools/web/run_model.mjs, and hold its output to the C reference forward pass of the same
 * stored (quantized) weights (verify/bundle_ref.c): NLL, largest |logit difference|, top-1
 * agreement and the greedy continuation for decoders; cosine and relative error of the last
 * hidden state for encoders; the runtime's timings. With --prompt / --prompt-file the bundle's
 * own tokenizer (verify/engine_text.c) makes the ids and gives the generated text.
 * Options, tokens and the reference here; the runner and the comparison (with the
 * tolerance's reasoning) in verify/engine.h. */
#include "../program/program.h"
#include "cli.h"
#include "plan_cli.h"
#include "../pack/pack.h"
#include "../verify/engine.h"
#include "../verify/verify.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *run_help =
    "usage: wgpack run BUNDLE (--text FILE | --tokens FILE | --prompt TEXT | --prompt-file FILE)\n"
    "                  [options]\n"
    "  runs the bundle's model in WebGPU (tools/web/run_model.mjs) and compares it with the C\n"
    "  reference forward pass of the same stored weights\n"
    "  --tokens FILE        token ids: .i64 / .i32 little-endian binary, or whitespace-separated text\n"
    "  --text FILE          raw bytes as tokens (byte-level models)\n"
    "  --prompt TEXT        text, made into ids by the bundle's own tokenizer (with the special\n"
    "                       tokens its post-processor adds); prints the generated text\n"
    "  --prompt-file FILE   the same, the prompt read from FILE (UTF-8)\n"
    "  --chat               the prompt as one user message through the bundle's chat template\n"
    "                       (add_generation_prompt)\n"
    "  --max-tokens N       use the first N tokens (default 512; cut to the position table)\n"
    "  --generate N         also generate N tokens greedily (decoders); each is checked\n"
    "                       against the reference's argmax after the runtime's own prefix\n"
    "                       (default 32 with --prompt, else 0)\n"
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
    wg_engine_opts e;         /* the bundle, engine, --generate, --max-seq, --timeout */
    const char *tokens, *ref_out, *rt_out;
    wg_text_prompt prompt;    /* text or file set: --prompt / --prompt-file */
    bool bytes, json, ref_only, no_ref, gen_given;
    int max_tokens, threads, inputs;
} run_opts;

/* the C reference: [n_ext][width], n_ext = tokens + generated - 1 for decoders */
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
        {"prompt", required_argument, 0, 'P'}, {"prompt-file", required_argument, 0, 'F'},
        {"chat", no_argument, 0, 'c'},
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    *o = (run_opts){.e = {.engine = "chromium", .timeout_s = 900}, .max_tokens = 512,
                    .threads = wg_default_threads()};
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:x:N:g:e:S:W:T:Rnr:o:P:F:cjh", opts, NULL)) != -1) {
        switch (c) {
        case 't': o->inputs++; o->tokens = optarg; o->bytes = false; break;
        case 'x': o->inputs++; o->tokens = optarg; o->bytes = true; break;
        case 'N': if ((rc = cli_int("run", "--max-tokens", optarg, 2, 1 << 16, &o->max_tokens))) return rc; break;
        case 'g': if ((rc = cli_int("run", "--generate", optarg, 0, 1 << 16, &o->e.generate))) return rc;
                  o->gen_given = true; break;
        case 'P': o->inputs++; o->prompt = (wg_text_prompt){.text = optarg, .name = "--prompt", .chat = o->prompt.chat}; break;
        case 'F': o->inputs++; o->prompt = (wg_text_prompt){.file = optarg, .name = optarg, .chat = o->prompt.chat}; break;
        case 'c': o->prompt.chat = true; break;
        case 'e': o->e.engine = optarg; break;
        case 'S': if ((rc = cli_int("run", "--max-seq", optarg, 0, 1 << 20, &o->e.max_seq))) return rc; break;
        case 'W': if ((rc = cli_int("run", "--timeout", optarg, 1, 1 << 30, &o->e.timeout_s))) return rc; break;
        case 'T': if ((rc = cli_int("run", "--threads", optarg, 1, 64, &o->threads))) return rc; break;
        case 'R': o->ref_only = true; break;
        case 'n': o->no_ref = true; break;
        case 'r': o->ref_out = optarg; break;
        case 'o': o->rt_out = optarg; break;
        case 'j': o->json = true; break;
        case 'h': fputs(run_help, stdout); return -1;
        default: return cli_usage("run", "bad option");
        }
    }
    bool prompt = o->prompt.text || o->prompt.file;
    if (optind != argc - 1 || o->inputs != 1)
        return cli_usage("run", "expected BUNDLE and one of --tokens FILE, --text FILE, --prompt "
                         "TEXT or --prompt-file FILE");
    if (o->prompt.chat && !prompt)
        return cli_usage("run", "--chat applies the chat template to --prompt or --prompt-file");
    o->e.dir = argv[optind];
    if (o->max_tokens < 2 || o->max_tokens > 1 << 16 || o->e.generate < 0 || o->e.generate > 1 << 16 ||
        o->e.max_seq < 0 || o->e.timeout_s < 1)
        return cli_usage("run", "--max-tokens must be 2..65536, --generate 0..65536, --max-seq "
                         ">= 0 and --timeout >= 1");
    if (strcmp(o->e.engine, "chromium") && strcmp(o->e.engine, "node") && strcmp(o->e.engine, "deno"))
        return cli_usage("run", "--engine must be chromium, node or deno");
    if (o->ref_only && (o->no_ref || o->e.generate || o->rt_out))
        return cli_usage("run", "--reference-only runs no runtime (no --no-reference, "
                         "--generate or --runtime-out)");
    if (o->no_ref && o->ref_out)
        return cli_usage("run", "--no-reference writes no --reference-out");
    return 0;
}

/* ---- inputs ---- */

/* the tokens the model's position table leaves room for, the generated ones included */
static int64_t token_room(const run_opts *o, const wg_manifest *m)
{
    const wg_prog *p = m->program;
    if (p->max_positions <= 0) /* the model's position table: learned, or what rotary was made for */
        return INT_MAX;
    return p->max_positions - (strcmp(p->positions, "padding") ? 0 : p->pad_id + 1) - o->e.generate;
}

/* --max-seq holds the run (checked before any runner starts) */
static int check_max_seq(const run_opts *o, const char *input, int n, wg_error *err)
{
    if (o->e.max_seq && !o->ref_only && o->e.max_seq < n + o->e.generate)
        return wg_fail(err, WG_EUSAGE, input, "--max-seq %d is below the %d tokens the run "
                       "needs (%d read, --generate %d): give --max-seq %d or more, or --max-tokens",
                       o->e.max_seq, n + o->e.generate, n, o->e.generate, n + o->e.generate);
    return 0;
}

/* tokens within the model's position table (and, for decoders, room for the generated ones) */
static int read_tokens(const run_opts *o, const wg_manifest *m, int32_t **tok, int *n,
                       wg_error *err)
{
    int rc = cli_read_tokens(o->tokens, o->bytes, o->max_tokens, tok, n, (int)m->program->vocab, err);
    if (rc)
        return rc;
    int64_t room = token_room(o, m);
    *n = *n < room ? *n : (int)room;
    if (*n < 2)
        return wg_fail(err, WG_EINPUT, m->path, "the model's position table leaves room for %d "
                       "tokens (at least 2 are needed, --generate %d included)", *n, o->e.generate);
    return check_max_seq(o, o->tokens, *n, err);
}

/* the prompt's ids from the bundle's own tokenizer: all of them, never cut */
static int prompt_tokens(const run_opts *o, const wg_manifest *m, int32_t **tok, int *n,
                         wg_error *err)
{
    wg_text_prompt p = o->prompt;
    char path[PATH_MAX];
    struct stat st;
    if (p.file && (!realpath(p.file, path) || stat(path, &st)))
        return wg_fail(err, WG_EINPUT, p.file, "%s", strerror(errno));
    if (p.file && !S_ISREG(st.st_mode)) /* never waited on (a FIFO) */
        return wg_fail(err, WG_EINPUT, p.file, "the prompt file is not a regular file (%s)",
                       S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : "a device or special file");
    if (p.file)
        p.file = path;
    int rc = wg_text_encode(o->e.dir, m, &p, o->e.timeout_s, tok, n, err);
    int64_t room = token_room(o, m);
    if (!rc && *n > o->max_tokens)
        rc = wg_fail(err, WG_EINPUT, p.name, "the prompt makes %d tokens, more than --max-tokens "
                     "%d", *n, o->max_tokens);
    else if (!rc && *n > room)
        rc = wg_fail(err, WG_EINPUT, p.name, "the prompt makes %d tokens and the model's position "
                     "table leaves room for %lld (--generate %d included)", *n,
                     (long long)(room > 0 ? room : 0), o->e.generate);
    return rc ? rc : check_max_seq(o, p.name, *n, err);
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

/* ---- the reference ---- */

/* decoders run tokens + the runtime's generated ones but the last (n_ext positions): the
 * first n rows are the plain forward pass (causal), the rest check each greedy step */
static int run_reference(const run_opts *o, const wg_manifest *m, const int32_t *tok, int n,
                         const wg_engine_out *rt, reference *ref, wg_error *err)
{
    const wg_prog *p = m->program;
    bool llama = !strcmp(p->task, "causal-lm");
    int dim = (int)wg_prog_out_width(p), rc;
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
    wg_pinputs in = {.n = llama ? ref->n_ext : n, .input_ids = ext};
    rc = wg_bundle_program_run(o->e.dir, m, &in, ref->out, o->threads, err);
    free(ext);
    if (!rc && o->ref_out)
        rc = write_f32(o->ref_out, ref->out, (size_t)n * (size_t)dim, err);
    return rc;
}

/* ---- comparison and report ---- */

static json_t *runner_field(const wg_engine_out *rt, const char *key)
{
    json_t *v = json_object_get(rt->result, key);
    return v ? json_incref(v) : json_null();
}

/* the report's frame: what ran where, and the runtime's timings */
static json_t *report_base(const run_opts *o, const wg_manifest *m, int n, const wg_engine_out *rt)
{
    static const char *const timing[] = {"adapter", "load_ms", "first_layer_ms", "prefill_ms",
                                         "prefill_tokens_per_s", "decode_tokens_per_s",
                                         "bytes_fetched", "precision"};
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:i, s:i}", "bundle", o->e.dir, "task",
                          m->program->task, "model_type", m->program->model_type, "engine",
                          o->ref_only ? json_null() : json_string(o->e.engine), "tokens", n,
                          "layers", wg_prog_layers(m->program));
    for (size_t i = 0; i < sizeof timing / sizeof *timing; i++)
        json_object_set_new(j, timing[i], runner_field(rt, timing[i]));
    return j;
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
    bool llama = !strcmp(json_string_value(json_object_get(j, "task")), "causal-lm");
    printf("bundle:    %s (%s %s, %d layers), %d tokens\n", json_string_value(json_object_get(j, "bundle")),
           json_string_value(json_object_get(j, "model_type")), llama ? "decoder" : "encoder",
           (int)jnum(j, "layers"), (int)jnum(j, "tokens"));
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

/* the prompt's and the generation's ids, and the generated text (--prompt) */
static int add_text(const run_opts *o, const int32_t *tok, int n, const wg_engine_out *rt,
                    json_t *j, wg_error *err)
{
    json_t *ids = json_array(), *gen = json_array(), *t = NULL, *tps;
    for (int i = 0; i < n; i++)
        json_array_append_new(ids, json_integer(tok[i]));
    for (int i = 0; i < rt->ngen; i++)
        json_array_append_new(gen, json_integer(rt->gen[i]));
    json_object_set_new(j, "prompt_ids", ids);
    json_object_set_new(j, "generated_ids", gen);
    int rc = rt->ngen ? wg_text_decode(o->e.dir, rt->gen, rt->ngen, o->e.timeout_s, &t, err) : 0;
    json_object_set(j, "text", t ? json_object_get(t, "text") : json_null());
    json_object_set(j, "finish_reason", t ? json_object_get(t, "finish_reason") : json_null());
    tps = json_object_get(rt->result, "decode_tokens_per_s");
    json_object_set_new(j, "tokens_per_s", json_is_number(tps) ? json_incref(tps) : json_null());
    json_decref(t);
    return rc;
}

static void print_text(json_t *j)
{
    json_t *t = json_object_get(j, "text");
    printf("prompt:    %zu tokens (the bundle's tokenizer)\n", json_array_size(json_object_get(j, "prompt_ids")));
    if (!json_is_string(t))
        return;
    printf("text:      %zu tokens generated (%s)", json_array_size(json_object_get(j, "generated_ids")),
           json_string_value(json_object_get(j, "finish_reason")));
    print_value(", ", j, "tokens_per_s", "%.1f tokens/s");
    printf("\n%s\n", json_string_value(t));
}

static int open_bundle(const run_opts *o, wg_manifest *m, wg_error *err)
{
    int rc = wg_manifest_read(o->e.dir, m, err);
    if (rc) {
        err->code = err->code == WG_EIO ? WG_EIO : WG_EINPUT; /* a bad manifest is bad input */
        return err->code;
    }
    if (!m->program)
        return wg_fail(err, WG_EINPUT, m->path, "this bundle's model cannot run: %s",
                       m->program_missing ? m->program_missing : "the manifest has no program "
                       "section (built by an older wgpack?)");
    if (o->e.generate && strcmp(m->program->task, "causal-lm"))
        return wg_fail(err, WG_EUSAGE, NULL, "run: --generate needs a decoder (this bundle's "
                       "model is an encoder)");
    return 0;
}

/* the runtime (unless --reference-only), then the reference (unless --no-reference) */
static int run_both(const run_opts *o, const wg_manifest *m, const int32_t *tok, int n,
                    wg_engine_out *rt, reference *ref, wg_error *err)
{
    int rc = 0, width = (int)wg_prog_out_width(m->program);
    if (!o->ref_only && !(rc = wg_engine_run(&o->e, m, tok, n, rt, err)) && o->rt_out)
        rc = write_f32(o->rt_out, rt->out, (size_t)n * (size_t)width, err);
    if (!rc && !o->no_ref)
        rc = run_reference(o, m, tok, n, rt, ref, err);
    return rc;
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
    wg_engine_out rt = {.unit = ldexp(1, -24)};
    reference ref = {0};
    json_t *j = NULL;
    bool prompt = o.prompt.text || o.prompt.file;
    if ((rc = open_bundle(&o, &m, &err)))
        goto out;
    if (prompt && !o.gen_given && !o.ref_only && !strcmp(m.program->task, "causal-lm"))
        o.e.generate = 32;
    if ((rc = prompt ? prompt_tokens(&o, &m, &tok, &n, &err) : read_tokens(&o, &m, &tok, &n, &err)) ||
        (rc = run_both(&o, &m, tok, n, &rt, &ref, &err)))
        goto out;
    j = report_base(&o, &m, n, &rt);
    bool ok = wg_engine_compare(j, &m, tok, n, ref.out, ref.n_ext, &rt);
    if (prompt && (rc = add_text(&o, tok, n, &rt, j, &err)))
        goto out;
    if (o.json) {
        json_dumpf(j, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        print_report(j);
        if (prompt)
            print_text(j);
    }
    fflush(stdout);
    if (!ok)
        rc = wg_fail(&err, WG_EVERIFY, o.e.dir, "the runtime (%s) disagrees with the C reference "
                     "of the same weights beyond the f32 tolerance", o.e.engine);
out:
    wg_manifest_free(&m);
    json_decref(j);
    wg_engine_out_free(&rt);
    free(ref.out);
    free(tok);
    return rc ? cli_report(&err) : 0;
}
