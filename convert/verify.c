/* convert/verify.c — `wgpack verify MODEL (--tokens FILE | --text FILE) [plan options]`:
 * end-to-end cost of a quantization for Llama-family safetensors models, by running the C
 * reference forward pass twice (original weights, then the planned formats quantized and
 * dequantized) on the same tokens and comparing the logits. `--ref-logits` instead checks the
 * original forward pass against logits from another runtime (ONNX Runtime in the tests). */
#include "cli.h"
#include "plan_cli.h"
#include "progress.h"
#include "../verify/verify.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *verify_help =
    "usage: wgpack verify MODEL (--tokens FILE | --text FILE) [plan options] [--json]\n"
    "  --tokens FILE       token ids: .i64 / .i32 little-endian binary, or whitespace-separated text\n"
    "  --text FILE         raw bytes as tokens (byte-level models)\n"
    "  --max-tokens N      use the first N tokens (default 512)\n"
    "  --logits-out FILE   write the original model's f32 logits [tokens][vocab]\n"
    "  --ref-logits FILE   f32 logits [tokens][vocab] from another runtime: compare the original\n"
    "                      forward pass with them instead of quantizing\n"
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

int cli_read_tokens(const char *path, bool bytes, int max, int32_t **out, int *n, int vocab,
                       wg_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return wg_fail(err, WG_EINPUT, path, "cannot open token file");
    int32_t *t = malloc(sizeof(int32_t) * (size_t)max);
    int k = 0;
    size_t len = strlen(path);
    if (bytes) {
        int c;
        while (k < max && (c = fgetc(f)) != EOF)
            t[k++] = c;
    } else if (len > 4 && (!strcmp(path + len - 4, ".i64") || !strcmp(path + len - 4, ".i32"))) {
        int w = path[len - 2] == '6' ? 8 : 4;
        uint8_t b[8];
        while (k < max && fread(b, 1, (size_t)w, f) == (size_t)w) {
            int64_t v = 0;
            for (int i = w - 1; i >= 0; i--)
                v = v << 8 | b[i];
            if (w == 4)
                v = (int32_t)v;
            if (v < 0 || v >= vocab) {
                fclose(f);
                free(t);
                return wg_fail(err, WG_EINPUT, path, "token %d is %lld, outside the vocabulary "
                               "(%d)", k, (long long)v, vocab);
            }
            t[k++] = (int32_t)v;
        }
    } else {
        long v;
        while (k < max && fscanf(f, "%ld", &v) == 1) {
            if (v < 0 || v >= vocab) {
                fclose(f);
                free(t);
                return wg_fail(err, WG_EINPUT, path, "token %d is %ld, outside the vocabulary "
                               "(%d)", k, v, vocab);
            }
            t[k++] = (int32_t)v;
        }
    }
    fclose(f);
    if (k < 2) {
        free(t);
        return wg_fail(err, WG_EINPUT, path, "needs at least 2 tokens");
    }
    for (int i = 0; bytes && i < k; i++)
        if (t[i] >= vocab) {
            free(t);
            return wg_fail(err, WG_EINPUT, path, "byte %d is outside the vocabulary (%d)", i, vocab);
        }
    *out = t;
    *n = k;
    return 0;
}

static json_t *compare_json(const wg_lm_compare *c)
{
    return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "positions",
                     c->positions, "nll_original", c->nll_a, "nll_quantized", c->nll_b,
                     "ppl_original", exp(c->nll_a), "ppl_quantized", exp(c->nll_b), "kl", c->kl,
                     "top1_agreement", c->top1_agree, "logits_max_abs_err", c->max_abs,
                     "logits_rel_rmse", c->rel_rmse, "logits_cosine", c->cosine);
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
        {"logits-out", required_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'}, WG_PLAN_LONG_OPTIONS, {0, 0, 0, 0}};
    wg_plan_cli pc;
    wg_plan_cli_init(&pc);
    const char *tok = NULL, *ref = NULL, *logits_out = NULL;
    bool bytes = false, json = false;
    int maxn = 512, threads = wg_default_threads(), c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:x:N:R:L:jT:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': tok = optarg; bytes = false; break;
        case 'x': tok = optarg; bytes = true; break;
        case 'N': maxn = atoi(optarg); break;
        case 'R': ref = optarg; break;
        case 'L': logits_out = optarg; break;
        case 'j': json = true; break;
        case 'T': threads = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 'h': fputs(verify_help, stdout); return 0;
        default:
            if ((rc = wg_plan_cli_option(&pc, c, optarg, "verify")) != 0)
                return rc;
        }
    }
    if (optind != argc - 1 || !tok)
        return cli_usage("verify", "expected MODEL and --tokens FILE or --text FILE");
    if (maxn < 2 || maxn > 1 << 16)
        return cli_usage("verify", "--max-tokens must be 2..65536");
    wg_error err = {0};
    wg_model *m = NULL;
    wg_llama a = {0}, b = {0};
    int32_t *tokens = NULL;
    float *la = NULL, *lb = NULL;
    wg_plan_entry *plan = NULL;
    json_t *out = NULL;
    int n = 0;
    wg_open_opts oo = {.rules_path = pc.rules};
    if ((rc = wg_model_open(argv[optind], &oo, &m, &err)))
        goto fail;
    wg_bar_begin(m);
    wg_progress_stage("forward");
    getter g0 = {m, NULL, pc.search, threads};
    if ((rc = wg_llama_load(&a, m, get_weight, &g0, &err)))
        goto fail;
    if ((rc = cli_read_tokens(tok, bytes, maxn, &tokens, &n, a.vocab, &err)))
        goto fail;
    la = malloc(sizeof(float) * (size_t)n * a.vocab);
    lb = malloc(sizeof(float) * (size_t)n * a.vocab);
    if (!la || !lb || wg_llama_forward(&a, tokens, n, la, threads)) {
        rc = wg_fail(&err, WG_EIO, NULL, "forward pass failed (out of memory?)");
        goto fail;
    }
    if (logits_out) {
        wg_atomic_file lf;
        if ((rc = wg_atomic_open(&lf, logits_out, &err)) ||
            (rc = wg_atomic_write(&lf, la, sizeof(float) * (size_t)n * a.vocab, &err)) ||
            (rc = wg_atomic_commit(&lf, &err)))
            goto fail;
    }
    wg_lm_compare cmp;
    if (ref) {
        FILE *f = fopen(ref, "rb");
        size_t got = f ? fread(lb, sizeof(float), (size_t)n * a.vocab + 1, f) : 0;
        if (f)
            fclose(f);
        if (got != (size_t)n * a.vocab) {
            rc = wg_fail(&err, WG_EINPUT, ref, "expected exactly %d x %d f32 logits", n, a.vocab);
            goto fail;
        }
        wg_lm_compare_logits(lb, la, tokens, n, a.vocab, &cmp);
        out = json_pack("{s:s, s:s, s:o}", "model", m->path, "compared_with", ref, "metrics",
                        compare_json(&cmp));
    } else {
        plan = calloc(m->n_tensors, sizeof *plan);
        wg_plan_result pr;
        if (!plan) {
            rc = wg_fail(&err, WG_EIO, NULL, "out of memory");
            goto fail;
        }
        wg_progress_stage("plan");
        if ((rc = wg_plan_cli_run(&pc, m, threads, plan, &pr, &err)))
            goto fail;
        getter g1 = {m, plan, pc.search, threads};
        wg_progress_stage("quantize");
        if ((rc = wg_llama_load(&b, m, get_weight, &g1, &err)))
            goto fail;
        wg_progress_stage("forward");
        if (wg_llama_forward(&b, tokens, n, lb, threads)) {
            rc = wg_fail(&err, WG_EIO, NULL, "forward pass failed");
            goto fail;
        }
        wg_lm_compare_logits(la, lb, tokens, n, a.vocab, &cmp);
        json_t *rep = wg_plan_report(m, plan, &pc, &pr);
        out = json_pack("{s:s, s:O, s:o}", "model", m->path, "plan",
                        json_object_get(rep, "summary"), "metrics", compare_json(&cmp));
        json_decref(rep);
    }
    wg_bar_end();
    if (json) {
        json_dumpf(out, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        json_t *s = json_object_get(out, "plan");
        printf("model:     %s, %d tokens\n", m->path, n);
        if (s)
            printf("plan:      %s, %.3f bits/weight, %lld bytes\n",
                   json_string_value(json_object_get(s, "preset")),
                   json_real_value(json_object_get(s, "bits_per_weight")),
                   (long long)json_integer_value(json_object_get(s, "output_bytes")));
        else
            printf("reference: %s\n", ref);
        printf("NLL:       %.5f -> %.5f nats/token (perplexity %.4f -> %.4f)\n", cmp.nll_a,
               cmp.nll_b, exp(cmp.nll_a), exp(cmp.nll_b));
        printf("KL:        %.6f nats/token, top-1 agreement %.2f%%\n", cmp.kl, 100 * cmp.top1_agree);
        printf("logits:    max |diff| %.3g, rel RMSE %.4g, cosine %.6f\n", cmp.max_abs,
               cmp.rel_rmse, cmp.cosine);
    }
    rc = 0;
    goto done;
fail:
    rc = cli_report(&err);
done:
    json_decref(out);
    wg_llama_free(&a);
    wg_llama_free(&b);
    free(tokens);
    free(la);
    free(lb);
    free(plan);
    wg_model_free(m);
    return rc;
}
