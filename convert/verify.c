/* convert/verify.c — `wgpack verify MODEL (--tokens FILE | --text FILE) [plan options]`:
 * end-to-end cost of a quantization for Llama-family safetensors models, by running the C
 * reference forward pass twice (original weights, then the planned formats quantized and
 * dequantized) on the same tokens and comparing the logits; for BERT-family encoders
 * (verify/bert.c), the last hidden state. `--ref-logits` instead checks the
 * original forward pass against logits from another runtime (ONNX Runtime in the tests). */
#include "cli.h"
#include "plan_cli.h"
#include "progress.h"
#include "../verify/verify.h"
#include "../verify/measure.h"
#include "../program/program.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *verify_help =
    "usage: wgpack verify MODEL (--tokens FILE | --text FILE) [plan options] [--json]\n"
    "  decoders (Llama family) compare logits (NLL, KL, top-1); encoders (BERT family) compare\n"
    "  the last hidden state (cosine, max relative error); for encoders the logits options\n"
    "  below read and write the f32 last hidden state [tokens][hidden] instead\n"
    "  --tokens FILE       token ids: .i64 / .i32 little-endian binary, or whitespace-separated text\n"
    "  --text FILE         raw bytes as tokens (byte-level models)\n"
    "  --max-tokens N      use the first N tokens (default 512)\n"
    "  --logits-out FILE   write the original model's f32 logits [tokens][vocab]\n"
    "  --ref-logits FILE   f32 logits [tokens][vocab] from another runtime: compare the original\n"
    "                      forward pass with them instead of quantizing\n"
    "  --measure           measure each tensor's cost per candidate format end to end (only that\n"
    "                      tensor quantized) and plan on those costs (needs a budget); the proxy\n"
    "                      planner's plan at the same budget is measured too\n"
    "  --measure-text FILE / --measure-tokens FILE   measure on these tokens (default: the\n"
    "                      evaluation tokens)\n"
    "  --measure-all       every candidate (default: each width at the run's group size)\n"
    "  --measure-out FILE  the measured costs as JSON (reuse: --costs FILE)\n"
    "  --pixels FILE       image encoders (ViT, DeiT): pixel_values, f32 [channels][height][width]\n"
    "                      as the model's image processor makes them\n"
    "  --head              encoders with a task head (masked LM, classification): compare the\n"
    "                      head's logits ([1][labels] for a sequence classifier) instead\n"
    "  plan options        as for `wgpack quantize` (--preset, --set, --target-bits, ...)\n";

typedef struct getter {
    const wg_model *m;
    const wg_plan_entry *plan; /* NULL: original weights */
    bool search;
    int threads;
} getter;

static float *get_weight(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    getter *g = ctx;
    const wg_tensor *t = wg_model_find(g->m, name);
    if (!t)
        return NULL;
    size_t i = (size_t)(t - g->m->tensors);
    wg_tensor_matrix(t, rows, K);
    int64_t cnt = *rows * *K;
    float *out = malloc(sizeof(float) * (size_t)(cnt > 0 ? cnt : 1));
    if (!out)
        return NULL;
    const wg_plan_entry *e = g->plan ? &g->plan[i] : NULL;
    if (!e || e->fmt.kind == WG_Q_RAW) {
        if (!wg_read_rows(t, 0, *rows, out)) {
            free(out);
            return NULL;
        }
        return out;
    }
    uint8_t *buf = malloc(e->bytes ? e->bytes : 1);
    wg_qopts o = {.search = g->search, .threads = g->threads};
    wg_error err = {0};
    if (!buf || wg_quantize_tensor(t, e, &o, buf, NULL, &err) || wg_dequantize_tensor(e, buf, out)) {
        free(buf);
        free(out);
        return NULL;
    }
    free(buf);
    return out;
}

/* the program's output [n][width] for tok with g's weights (original or planned) */
static int prog_forward_out(const wg_prog *p, getter *g, const int32_t *tok, int n, bool head,
                            const float *pixels, float **out, wg_error *err)
{
    size_t count = head ? (size_t)wg_prog_head_rows(p, n) * (size_t)wg_prog_head_width(p)
                        : (size_t)n * (size_t)wg_prog_out_width(p);
    *out = malloc(sizeof(float) * count);
    if (!*out)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    wg_pinputs in = {.n = n, .input_ids = tok, .head = head, .pixel_values = pixels};
    return wg_prog_run(p, get_weight, g, &in, *out, g->threads, err);
}

static int prog_forward(const wg_prog *p, getter *g, const int32_t *tok, int n, float **out,
                        wg_error *err)
{
    return prog_forward_out(p, g, tok, n, false, NULL, out, err);
}

/* tokens past a learned position table have no position: n is cut to the table */
static int position_room(const wg_prog *p, int n)
{
    if (wg_prog_value(p, "position_ids") < 0 || p->max_positions <= 0)
        return n;
    int64_t room = p->max_positions - (strcmp(p->positions, "padding") ? 0 : p->pad_id + 1);
    return room < n ? (int)room : n;
}

/* ---- encoders: the last hidden state of the original vs the quantized weights ---- */
typedef struct encoder_args {
    const char *tokens, *ref, *out_path, *pixels_path;
    bool bytes, json, head;       /* head: the task head's output, not the last hidden state */
    int max_tokens, threads;
    wg_plan_cli *pc;
    float *pixels;                /* image encoders: read from pixels_path */
} encoder_args;

static json_t *hidden_json(const wg_hidden_compare *c)
{
    return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f}", "positions", c->positions, "hidden_cosine",
                     c->cosine, "hidden_min_token_cosine", c->min_cosine, "hidden_max_rel_err",
                     c->max_rel_err, "hidden_max_abs_err", c->max_abs, "hidden_rel_rmse",
                     c->rel_rmse);
}

/* the "plan:" line of a quantized comparison, or the "reference:" line of a --ref-logits one */
static void print_plan_or_reference(json_t *out, const char *ref)
{
    json_t *s = json_object_get(out, "plan");
    if (s)
        printf("plan:      %s, %.3f bits/weight, %lld bytes\n",
               json_string_value(json_object_get(s, "preset")),
               json_real_value(json_object_get(s, "bits_per_weight")),
               (long long)json_integer_value(json_object_get(s, "output_bytes")));
    else
        printf("reference: %s\n", ref);
}

static void print_encoder(json_t *out, const wg_hidden_compare *c, int hidden)
{
    printf("model:     %s, %d tokens (encoder: %s [%d][%d])\n",
           json_string_value(json_object_get(out, "model")), c->positions,
           json_string_value(json_object_get(out, "output")), c->positions, hidden);
    print_plan_or_reference(out, json_string_value(json_object_get(out, "compared_with")));
    printf("hidden:    cosine %.6f (worst token %.6f), max relative error %.4g (per-token L2)\n",
           c->cosine, c->min_cosine, c->max_rel_err);
    printf("           max |diff| %.3g, rel RMSE %.4g\n", c->max_abs, c->rel_rmse);
}

/* up to count + 1 f32 values of the file at path into out (room for count + 1): *got of them,
 * so that a longer file is told from one of exactly count; 0, or the open's error */
static int read_f32_file(const char *path, float *out, size_t count, size_t *got, wg_error *err)
{
    int fd = wg_open_input(path, err);
    if (fd < 0)
        return err->code;
    FILE *f = fdopen(fd, "rb");
    *got = f ? fread(out, sizeof(float), count + 1, f) : 0;
    if (f)
        fclose(f);
    else
        close(fd);
    return 0;
}

/* --pixels: exactly channels x height x width f32, finite */
static int read_pixels(const wg_prog *p, const char *path, float **out, wg_error *err)
{
    size_t count = (size_t)(p->img_channels * p->img_height * p->img_width), got = 0;
    float *v = malloc(sizeof *v * (count + 1));
    int rc = v ? read_f32_file(path, v, count, &got, err) : wg_fail(err, WG_EIO, NULL, "out of memory");
    if (!rc && got != count)
        rc = wg_fail(err, WG_EINPUT, path, "expected exactly %zu f32 values (pixel_values [%lld][%lld][%lld])",
                     count, (long long)p->img_channels, (long long)p->img_height, (long long)p->img_width);
    for (size_t i = 0; !rc && i < count; i++)
        if (!isfinite(v[i]))
            rc = wg_fail(err, WG_EINPUT, path, "value %zu is not a finite number", i);
    if (rc)
        free(v);
    else
        *out = v;
    return rc;
}

/* the reference (original weights) forward pass; n is cut to the model's position table */
static int encoder_original(const wg_prog *p, encoder_args *va, getter *g0,
                            int32_t **tokens, int *n, float **ha, wg_error *err)
{
    int rc;
    if (p->img_tokens) {
        if ((rc = read_pixels(p, va->pixels_path, &va->pixels, err)))
            return rc;
        *n = (int)p->img_tokens;
    } else {
        if ((rc = cli_read_tokens(va->tokens, va->bytes, va->max_tokens, tokens, n, (int)p->vocab, err)))
            return rc;
        *n = position_room(p, *n);
    }
    if ((rc = prog_forward_out(p, g0, *tokens, *n, va->head, va->pixels, ha, err)))
        return rc;
    if (va->out_path) {
        wg_atomic_file f;
        size_t count = va->head ? (size_t)wg_prog_head_rows(p, *n) * (size_t)wg_prog_head_width(p)
                                : (size_t)*n * (size_t)p->hidden;
        if ((rc = wg_atomic_open(&f, va->out_path, err)) ||
            (rc = wg_atomic_write(&f, *ha, sizeof(float) * count, err)) ||
            (rc = wg_atomic_commit(&f, err)))
            return rc;
    }
    return 0;
}

/* --ref-logits for encoders: exactly n x hidden f32 from another runtime */
static int read_ref_hidden(const char *path, float *out, size_t count, wg_error *err)
{
    size_t got = 0;
    int rc = read_f32_file(path, out, count, &got, err);
    if (rc)
        return rc;
    if (got != count)
        return wg_fail(err, WG_EINPUT, path, "expected exactly %zu f32 values (tokens x hidden)",
                       count);
    return 0;
}

static int verify_encoder(const wg_prog *p, const wg_model *m, encoder_args *va, wg_error *err)
{
    int32_t *tokens = NULL;
    float *ha = NULL, *hb = NULL;
    wg_plan_entry *plan = NULL;
    json_t *out = NULL;
    int n = 0, rc;
    getter g0 = {m, NULL, va->pc->search, va->threads};
    if ((rc = encoder_original(p, va, &g0, &tokens, &n, &ha, err)))
        goto done;
    int H = (int)(va->head ? wg_prog_head_width(p) : p->hidden),
        rows = va->head ? wg_prog_head_rows(p, n) : n;
    size_t count = (size_t)rows * H;
    const char *what = va->head ? p->head.name : p->output_name;
    wg_hidden_compare cmp;
    if (va->ref) {
        if (!(hb = malloc(sizeof(float) * (count + 1)))) {
            rc = wg_fail(err, WG_EIO, NULL, "out of memory");
            goto done;
        }
        if ((rc = read_ref_hidden(va->ref, hb, count, err)))
            goto done;
        wg_hidden_compare_run(hb, ha, rows, H, &cmp);
        out = json_pack("{s:s, s:s, s:s, s:s, s:o}", "model", m->path, "family", m->family, "output",
                        what, "compared_with", va->ref, "metrics", hidden_json(&cmp));
    } else {
        wg_plan_result pr;
        if (!(plan = calloc(m->n_tensors, sizeof *plan))) {
            rc = wg_fail(err, WG_EIO, NULL, "out of memory");
            goto done;
        }
        getter g1 = {m, plan, va->pc->search, va->threads};
        if ((rc = wg_plan_cli_run(va->pc, m, va->threads, plan, &pr, err)) ||
            (rc = prog_forward_out(p, &g1, tokens, n, va->head, va->pixels, &hb, err)))
            goto done;
        wg_hidden_compare_run(ha, hb, rows, H, &cmp);
        json_t *rep = wg_plan_report(m, plan, va->pc, &pr);
        out = json_pack("{s:s, s:s, s:s, s:O, s:o}", "model", m->path, "family", m->family, "output",
                        what, "plan", json_object_get(rep, "summary"), "metrics", hidden_json(&cmp));
        json_decref(rep);
    }
    if (va->json) {
        json_dumpf(out, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        print_encoder(out, &cmp, H);
    }
done:
    json_decref(out);
    free(tokens);
    free(va->pixels);
    free(ha);
    free(hb);
    free(plan);
    return rc;
}

static json_t *compare_json(const wg_lm_compare *c)
{
    return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "positions",
                     c->positions, "nll_original", c->nll_a, "nll_quantized", c->nll_b,
                     "ppl_original", exp(c->nll_a), "ppl_quantized", exp(c->nll_b), "kl", c->kl,
                     "top1_agreement", c->top1_agree, "logits_max_abs_err", c->max_abs,
                     "logits_rel_rmse", c->rel_rmse, "logits_cosine", c->cosine);
}

typedef struct measure_args {
    bool on, all, bytes;
    const char *src, *out;
} measure_args;

/* Per-tensor costs by the C reference on the measuring tokens; into *ms (owned by the caller). */
static int measure_llama(const wg_prog *p, wg_plan_cli *pc, const wg_model *m, const measure_args *ma,
                         const int32_t *tok, int n, const float *la, int vocab, int maxn,
                         int threads, wg_plan_measured *ms, json_t **out, wg_error *err)
{
    int32_t *mt = NULL;
    int mn = n;
    float *ml = NULL;
    wg_plan_scores *sc = NULL;
    int rc = 0;
    if (ma->src) { /* other tokens than the evaluation's: their own original logits */
        getter g0 = {m, NULL, pc->search, threads};
        if (!(rc = cli_read_tokens(ma->src, ma->bytes, maxn, &mt, &mn, vocab, err)))
            rc = prog_forward(p, &g0, mt, mn = position_room(p, mn), &ml, err);
    }
    if (!rc)
        rc = wg_plan_cli_scores(pc, m, threads, &sc, err);
    if (!rc && wg_measure_pick(sc, m->n_tensors, pc->o.group, ma->all, &ms->mv, &ms->n))
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
    if (!rc)
        rc = wg_measure_program(p, m, ma->src ? mt : tok, mn, ma->src ? ml : la, pc->search, threads,
                              ms->mv, ms->n, err);
    if (!rc) {
        *out = wg_measure_json(m, ms->mv, ms->n, "kl", sc);
        json_object_set_new(*out, "inputs", json_string(ma->src ? ma->src : "the evaluation tokens"));
        json_object_set_new(*out, "pairs", json_integer((json_int_t)ms->n));
        ms->metric = "kl";
        ms->max_damage = pc->max_damage;
    }
    if (!rc && ma->out && (rc = cli_write_json(ma->out, *out, JSON_INDENT(1) | JSON_PRESERVE_ORDER, err))) {
        json_decref(*out); /* the caller has nothing to free on failure */
        *out = NULL;
    }
    wg_plan_scores_free(sc);
    free(mt);
    free(ml);
    return rc;
}

/* The plan's end-to-end metrics: quantized forward pass against the original logits la. */
static int eval_plan(const wg_prog *p, wg_plan_cli *pc, const wg_model *m, const int32_t *tok, int n,
                     const float *la, int vocab, int threads, json_t **rep, json_t **metrics,
                     wg_error *err)
{
    wg_plan_entry *plan = calloc(m->n_tensors + 1, sizeof *plan);
    float *lb = NULL;
    wg_plan_result pr;
    wg_progress_stage("plan");
    int rc = !plan ? wg_fail(err, WG_EIO, NULL, "out of memory")
                          : wg_plan_cli_run(pc, m, threads, plan, &pr, err);
    getter g1 = {m, plan, pc->search, threads};
    if (!rc) {
        wg_progress_stage("forward");
        rc = prog_forward(p, &g1, tok, n, &lb, err);
    }
    if (!rc) {
        wg_lm_compare cmp;
        wg_lm_compare_logits(la, lb, tok, n, vocab, &cmp);
        *metrics = compare_json(&cmp);
        *rep = wg_plan_report(m, plan, pc, &pr);
    }
    free(lb);
    free(plan);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    /* ONNX models go to ONNX Runtime (verify_onnx.c); safetensors to the C reference */
    for (int i = 1; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (argv[i][0] != '-' && l > 5 && !strcmp(argv[i] + l - 5, ".onnx"))
            return cmd_verify_onnx(argc, argv);
    }
    static const struct option opts[] = {
        {"tokens", required_argument, 0, 't'}, {"text", required_argument, 0, 'x'},
        {"max-tokens", required_argument, 0, 'N'}, {"ref-logits", required_argument, 0, 'R'},
        {"json", no_argument, 0, 'j'}, {"threads", required_argument, 0, 'T'},
        {"logits-out", required_argument, 0, 'L'}, {"measure", no_argument, 0, 'M'},
        {"measure-all", no_argument, 0, 'A'}, {"measure-text", required_argument, 0, 'E'},
        {"measure-tokens", required_argument, 0, 'K'}, {"measure-out", required_argument, 0, 'O'},
        {"head", no_argument, 0, 'H'}, {"pixels", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'}, WG_PLAN_LONG_OPTIONS, {0, 0, 0, 0}};
    measure_args ma = {0};
    wg_plan_cli pc;
    wg_plan_cli_init(&pc);
    const char *tok = NULL, *ref = NULL, *logits_out = NULL, *pixels = NULL;
    bool bytes = false, json = false, head = false;
    int maxn = 512, threads = wg_default_threads(), c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:x:N:R:L:jT:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': tok = optarg; bytes = false; break;
        case 'x': tok = optarg; bytes = true; break;
        case 'N': if ((rc = cli_int("verify", "--max-tokens", optarg, 2, 1 << 16, &maxn))) return rc; break;
        case 'R': ref = optarg; break;
        case 'L': logits_out = optarg; break;
        case 'M': ma.on = true; break;
        case 'A': ma.on = ma.all = true; break;
        case 'E': ma.on = ma.bytes = true; ma.src = optarg; break;
        case 'K': ma.on = true; ma.bytes = false; ma.src = optarg; break;
        case 'O': ma.out = optarg; break;
        case 'j': json = true; break;
        case 'H': head = true; break;
        case 'P': pixels = optarg; break;
        case 'T': if ((rc = cli_int("verify", "--threads", optarg, 1, 64, &threads))) return rc; break;
        case 'h': fputs(verify_help, stdout); return 0;
        default:
            if ((rc = wg_plan_cli_option(&pc, c, optarg, "verify")) != 0)
                return rc;
        }
    }
    if (optind != argc - 1 || !tok == !pixels)
        return cli_usage("verify", "expected MODEL and --tokens FILE, --text FILE or (image encoders) --pixels FILE");
    if (maxn < 2 || maxn > 1 << 16)
        return cli_usage("verify", "--max-tokens must be 2..65536");
    if (ma.on && (ref || !(pc.target_size || pc.target_bits)))
        return cli_usage("verify", "--measure plans at a budget (--target-size or --target-bits), "
                         "without --ref-logits");
    wg_error err = {0};
    wg_model *m = NULL;
    wg_prog *p = NULL;
    int32_t *tokens = NULL;
    float *la = NULL, *lb = NULL;
    wg_plan_measured ms = {0};
    wg_plan_entry *plan = NULL;
    json_t *out = NULL;
    int n = 0;
    wg_open_opts oo = {.rules_path = pc.rules};
    if ((rc = wg_model_open(argv[optind], &oo, &m, &err)))
        goto fail;
    char why[512] = "";
    if (!(p = wg_prog_build(m, why, sizeof why))) {
        rc = wg_fail(&err, WG_EINPUT, m->path, "cannot verify: %s", why);
        goto fail;
    }
    if (head && !p->head.task[0]) {
        rc = wg_fail(&err, WG_EINPUT, m->path, "--head: the checkpoint has no task head (config.json's "
                     "architectures names none that wgpack implements)");
        goto fail;
    }
    if (!p->img_tokens != !pixels) {
        rc = wg_fail(&err, WG_EINPUT, m->path, p->img_tokens ? "an image encoder: give its input with --pixels FILE"
                                                                 : "--pixels: the model is not an image encoder");
        goto fail;
    }
    if (!strcmp(p->task, "encoder")) {
        encoder_args va = {tok, ref, logits_out, pixels, bytes, json, head, maxn, threads, &pc, NULL};
        if ((rc = verify_encoder(p, m, &va, &err)))
            goto fail;
        goto done;
    }
    wg_bar_begin(m);
    wg_progress_stage("forward");
    getter g0 = {m, NULL, pc.search, threads};
    int V = (int)wg_prog_out_width(p);
    if ((rc = cli_read_tokens(tok, bytes, maxn, &tokens, &n, (int)p->vocab, &err)))
        goto fail;
    n = position_room(p, n);
    lb = malloc(sizeof(float) * ((size_t)n * V + 1)); /* + 1: a longer file is told apart */
    if (!lb) {
        rc = wg_fail(&err, WG_EIO, NULL, "out of memory");
        goto fail;
    }
    if ((rc = prog_forward(p, &g0, tokens, n, &la, &err)))
        goto fail;
    if (logits_out) {
        wg_atomic_file lf;
        if ((rc = wg_atomic_open(&lf, logits_out, &err)) ||
            (rc = wg_atomic_write(&lf, la, sizeof(float) * (size_t)n * V, &err)) ||
            (rc = wg_atomic_commit(&lf, &err)))
            goto fail;
    }
    wg_lm_compare cmp;
    if (ref) {
        size_t got = 0;
        if ((rc = read_f32_file(ref, lb, (size_t)n * V, &got, &err)))
            goto fail;
        if (got != (size_t)n * V) {
            rc = wg_fail(&err, WG_EINPUT, ref, "expected exactly %d x %d f32 logits", n, V);
            goto fail;
        }
        wg_lm_compare_logits(lb, la, tokens, n, V, &cmp);
        out = json_pack("{s:s, s:s, s:o}", "model", m->path, "compared_with", ref, "metrics",
                        compare_json(&cmp));
    } else {
        json_t *rep = NULL, *met = NULL, *mj = NULL;
        if (ma.on) {
            if ((rc = measure_llama(p, &pc, m, &ma, tokens, n, la, V, maxn, threads, &ms,
                                    &mj, &err)))
                goto fail;
            pc.measured = &ms;
        }
        if ((rc = eval_plan(p, &pc, m, tokens, n, la, V, threads, &rep, &met, &err))) {
            json_decref(mj);
            goto fail;
        }
        out = json_pack("{s:s, s:O, s:o}", "model", m->path, "plan",
                        json_object_get(rep, "summary"), "metrics", met);
        json_decref(rep);
        if (mj) { /* and the proxy planner at the same budget */
            wg_plan_cli v = pc;
            v.measured = NULL;
            v.costs_path = NULL;
            json_t *prep = NULL, *pmet = NULL;
            if ((rc = eval_plan(p, &v, m, tokens, n, la, V, threads, &prep, &pmet, &err))) {
                json_decref(mj);
                goto fail;
            }
            json_t *msum = json_object_get(json_object_get(out, "plan"), "measured");
            json_object_set(mj, "rank_agreement_spearman",
                            json_object_get(msum, "rank_agreement_spearman"));
            json_object_set(mj, "excluded", json_object_get(msum, "excluded"));
            json_object_set_new(out, "measured", mj);
            json_object_set_new(out, "proxy", json_pack("{s:O, s:o}", "plan",
                                                        json_object_get(prep, "summary"),
                                                        "metrics", pmet));
            json_decref(prep);
        }
        plan = NULL;
    }
    wg_bar_end();
    if (json) {
        json_dumpf(out, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        printf("model:     %s, %d tokens\n", m->path, n);
        print_plan_or_reference(out, ref);
        json_t *mt = json_object_get(out, "metrics");
        printf("NLL:       %.5f -> %.5f nats/token (perplexity %.4f -> %.4f)\n",
               json_real_value(json_object_get(mt, "nll_original")),
               json_real_value(json_object_get(mt, "nll_quantized")),
               json_real_value(json_object_get(mt, "ppl_original")),
               json_real_value(json_object_get(mt, "ppl_quantized")));
        printf("KL:        %.6f nats/token, top-1 agreement %.2f%%\n",
               json_real_value(json_object_get(mt, "kl")),
               100 * json_real_value(json_object_get(mt, "top1_agreement")));
        printf("logits:    max |diff| %.3g, rel RMSE %.4g, cosine %.6f\n",
               json_real_value(json_object_get(mt, "logits_max_abs_err")),
               json_real_value(json_object_get(mt, "logits_rel_rmse")),
               json_real_value(json_object_get(mt, "logits_cosine")));
        json_t *px = json_object_get(json_object_get(out, "proxy"), "metrics");
        if (px)
            printf("proxy:     the proxy planner at the same budget: KL %.6f, top-1 %.2f%% "
                   "(measured costs, rank agreement %.3f)\n",
                   json_real_value(json_object_get(px, "kl")),
                   100 * json_real_value(json_object_get(px, "top1_agreement")),
                   json_real_value(json_object_get(json_object_get(out, "measured"),
                                                   "rank_agreement_spearman")));
    }
    rc = 0;
    goto done;
fail:
    rc = cli_report(&err);
done:
    json_decref(out);
    wg_prog_free(p);
    free(tokens);
    free(la);
    free(lb);
    free(plan);
    free(ms.mv);
    wg_plan_cli_free(&pc);
    wg_model_free(m);
    return rc;
}
