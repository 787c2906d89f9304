/* convert/export_onnx.c — `wgpack export-onnx MODEL.onnx -o OUT.onnx [plan options]`, and the
 * same step for `wgpack build --emit-onnx OUT.onnx`: an ONNX Runtime / transformers.js loadable
 * quantized model (pack/onnx_export.c) from the same plan and quantizer as a bundle. */
#include "cli.h"
#include "plan_cli.h"
#include "progress.h"
#include "../pack/pack.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *export_help =
    "usage: wgpack export-onnx MODEL.onnx -o OUT.onnx [options]\n"
    "       wgpack export-onnx MODEL.onnx --transformers-js DIR [--dtypes q4,q8] [options]\n"
    "  writes each weight as ONNX Runtime stores it compactly: MatMul weights as\n"
    "  com.microsoft::MatMulNBits (2/4/8-bit), Gather tables as GatherBlockQuantized, others as\n"
    "  DequantizeLinear of packed 4-bit or 8-bit codes, fp16-planned ones as fp16 + Cast\n"
    "  --target onnx|bundle  plan formats for the ONNX file (default) or every bundle format\n"
    "  --target-size S       the ONNX bytes on disk (file + data) stay within S (exit 3 if not)\n"
    "  --external-data       weights in OUT.onnx_data (automatic past 1.8 GB)\n"
    "  --strip-metadata      drop exporter metadata (doc strings, metadata_props); --json says\n"
    "                        how many bytes it takes either way\n"
    "  --transformers-js DIR the folder transformers.js loads: DIR/config.json (beside MODEL, or\n"
    "                        --config FILE), DIR/onnx/model.onnx (the input, linked), and per\n"
    "                        --dtypes (q4, q8, q2, fp16; default q4,q8) model_q4.onnx,\n"
    "                        model_quantized.onnx (q8), model_q2.onnx, model_fp16.onnx\n"
    "                        and the tokenizer's files beside MODEL (or from --tokenizer DIR):\n"
    "                        tokenizer.json, tokenizer_config.json, special_tokens_map.json,\n"
    "                        generation_config.json, modules.json, 1_Pooling/config.json\n"
    "  --force               with --transformers-js: replace a DIR that is not such a folder\n"
    "  --threads N           worker threads (output identical for any N)\n"
    "  --json                machine-readable summary on stdout\n"
    "  plan options          as for `wgpack quantize` (--preset, --set, --target-bits, ...)\n";

int cli_emit_onnx(const wg_model *m, const wg_plan_entry *plan, const wg_onnx_export_opts *eo,
                  json_t **summary, wg_error *err)
{
    wg_onnx_export_opts o = *eo;
    o.version = WGPACK_VERSION;
    const char *out = o.out_path;
    wg_onnx_export_result r;
    wg_progress_stage("export");
    int rc = wg_onnx_export(m, plan, &o, &r, err);
    if (rc) {
        json_decref(r.tensors);
        return rc;
    }
    *summary = json_pack("{s:s, s:I, s:I, s:I, s:b, s:i, s:i, s:i, s:i, s:i, s:I, s:b, s:o, s:o}",
                         "onnx", out, "onnx_bytes", (json_int_t)r.onnx_bytes, "data_bytes",
                         (json_int_t)r.data_bytes, "total_bytes",
                         (json_int_t)(r.onnx_bytes + r.data_bytes), "external", r.external,
                         "matmulnbits", r.matmulnbits, "gather_block_quantized",
                         r.gather_quantized, "dequantize_linear", r.dequantize, "cast_fp16",
                         r.cast_fp16, "kept_integer_planned", r.kept_int, "metadata_bytes",
                         (json_int_t)r.metadata_bytes, "metadata_stripped", r.metadata_stripped > 0,
                         "weight_sqnr_db",
                         r.sse > 0 ? json_real(10 * log10(r.ssx / r.sse)) : json_null(),
                         "tensors", r.tensors);
    if (r.external)
        json_object_set_new(*summary, "data_file", json_string(r.data_file));
    return 0;
}

void cli_print_onnx(json_t *s)
{
    char a[32];
    printf("onnx:       %s (%s%s), %d MatMulNBits, %d GatherBlockQuantized, %d "
           "DequantizeLinear, %d fp16 + Cast",
           json_string_value(json_object_get(s, "onnx")),
           cli_bytes((unsigned long long)json_integer_value(json_object_get(s, "total_bytes")),
                     a, sizeof a),
           json_is_true(json_object_get(s, "external")) ? ", external data" : "",
           (int)json_integer_value(json_object_get(s, "matmulnbits")),
           (int)json_integer_value(json_object_get(s, "gather_block_quantized")),
           (int)json_integer_value(json_object_get(s, "dequantize_linear")),
           (int)json_integer_value(json_object_get(s, "cast_fp16")));
    int kept = (int)json_integer_value(json_object_get(s, "kept_integer_planned"));
    if (kept)
        printf(", %d planned integer tensors kept as float (see --json)", kept);
    putchar('\n');
    char b[32];
    json_int_t md = json_integer_value(json_object_get(s, "metadata_bytes"));
    if (md)
        printf("metadata:   %s of exporter metadata kept (--strip-metadata drops it)\n",
               cli_bytes((unsigned long long)md, b, sizeof b));
}

typedef struct export_args {
    wg_plan_cli pc;
    const char *out, *tjs_dir, *dtypes, *config, *tokenizer;
    bool json, force;
    int threads;
    wg_onnx_export_opts eo;
} export_args;

static int parse_args(int argc, char **argv, export_args *a)
{
    enum { O_EXT = 420, O_STRIP, O_TJS, O_DTYPES, O_CONFIG, O_FORCE, O_TOKENIZER };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"json", no_argument, 0, 'j'},
        {"threads", required_argument, 0, 'T'}, {"help", no_argument, 0, 'h'},
        {"external-data", no_argument, 0, O_EXT}, {"strip-metadata", no_argument, 0, O_STRIP},
        {"transformers-js", required_argument, 0, O_TJS}, {"dtypes", required_argument, 0, O_DTYPES},
        {"config", required_argument, 0, O_CONFIG}, {"force", no_argument, 0, O_FORCE},
        {"tokenizer", required_argument, 0, O_TOKENIZER},
        WG_PLAN_LONG_OPTIONS, {0, 0, 0, 0}};
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:jT:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': a->out = optarg; break;
        case 'j': a->json = true; break;
        case 'T':
            if ((rc = cli_int("export-onnx", "--threads", optarg, 1, 64, &a->threads)))
                return rc;
            break;
        case 'h': fputs(export_help, stdout); return -1;
        case O_EXT: a->eo.external = true; break;
        case O_STRIP: a->eo.strip_metadata = true; break;
        case O_TJS: a->tjs_dir = optarg; break;
        case O_DTYPES: a->dtypes = optarg; break;
        case O_CONFIG: a->config = optarg; break;
        case O_FORCE: a->force = true; break;
        case O_TOKENIZER: a->tokenizer = optarg; break;
        default:
            if ((rc = wg_plan_cli_option(&a->pc, c, optarg, "export-onnx")) != 0)
                return rc;
        }
    }
    if (optind != argc - 1 || !a->out == !a->tjs_dir)
        return cli_usage("export-onnx", "expected MODEL.onnx and one of -o OUT.onnx, "
                         "--transformers-js DIR");
    if (a->tjs_dir && (a->pc.target_size || a->pc.target_bits))
        return cli_usage("export-onnx", "--transformers-js writes one file per --dtypes entry: "
                         "a budget applies to one file (use -o)");
    a->eo.search = a->pc.search;
    a->eo.threads = a->threads;
    a->eo.out_path = a->out;
    a->pc.onnx_eo = a->eo;
    return 0;
}

static void print_summary(const wg_model *m, json_t *s, json_t *rep)
{
    char a[32];
    printf("model:      %s (%s)\n", m->path, m->family);
    printf("input:      %s\n", cli_bytes((unsigned long long)json_integer_value(json_object_get(
                                              json_object_get(rep, "summary"), "input_bytes")),
                                          a, sizeof a));
    cli_print_onnx(s);
    json_t *q = json_object_get(s, "weight_sqnr_db");
    if (json_is_real(q))
        printf("weights:    SQNR %.2f dB over the quantized tensors\n", json_real_value(q));
    json_t *ps = json_object_get(rep, "summary");
    if (json_object_get(ps, "budget_bytes"))
        printf("budget:     %s for the ONNX file and its data (%s planner)\n",
               cli_bytes((unsigned long long)json_integer_value(json_object_get(ps, "budget_bytes")),
                         a, sizeof a), json_string_value(json_object_get(ps, "planner")));
}

/* Plan with a's options and write one file; *s describes it (with the plan summary). */
static int export_one(const wg_model *m, wg_plan_cli *pc, const wg_onnx_export_opts *eo,
                      int threads, json_t **s, json_t **rep, wg_error *err)
{
    wg_plan_entry *plan = calloc(m->n_tensors + 1, sizeof *plan);
    if (!plan)
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    pc->onnx_eo = *eo;
    wg_plan_result pr;
    int rc = wg_plan_cli_run(pc, m, threads, plan, &pr, err);
    if (!rc)
        rc = cli_emit_onnx(m, plan, eo, s, err);
    if (!rc) {
        *rep = wg_plan_report(m, plan, pc, &pr);
        json_object_set(*s, "plan", json_object_get(*rep, "summary"));
    }
    free(plan);
    return rc;
}

/* ---------------------------------------------------------------- transformers.js folder */

static const struct { const char *dtype, *suffix; wg_preset preset; } tjs_dtypes[] = {
    {"q4", "_q4", WG_PRESET_Q4}, {"q8", "_quantized", WG_PRESET_Q8},
    {"q2", "_q2", WG_PRESET_Q2}, {"fp16", "_fp16", WG_PRESET_FP16}};

static int tjs_config(const wg_model *m, const char *given, json_t **out, wg_error *err)
{
    char p[4200];
    if (given)
        snprintf(p, sizeof p, "%s", given);
    else {
        const char *sl = strrchr(m->path, '/');
        snprintf(p, sizeof p, "%.*sconfig.json", sl ? (int)(sl - m->path + 1) : 0, m->path);
    }
    json_error_t je;
    *out = wg_json_load(p, JSON_REJECT_DUPLICATES, &je);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return given ? wg_fail(err, WG_EINPUT, p, "not a JSON object: %s", je.text)
                     : wg_fail(err, WG_EUSAGE, m->path, "no config.json beside the model: give "
                               "--config FILE (transformers.js needs it)");
    }
    return 0;
}

/* The input model as onnx/model.onnx, its external data files beside it under their names. */
static int tjs_original(const wg_model *m, const char *onnx_dir, wg_error *err)
{
    char to[4200];
    int rc = 0;
    for (size_t i = 0; !rc && i < m->n_sources; i++) {
        const char *b = strrchr(m->sources[i].path, '/');
        snprintf(to, sizeof to, "%s/%s", onnx_dir, i ? (b ? b + 1 : m->sources[i].path)
                                                    : "model.onnx");
        rc = wg_link_or_copy(m->sources[i].path, to, err);
    }
    return rc;
}

static int tjs_files(const wg_model *m, wg_plan_cli *pc, const char *tmp, const char *dtypes,
                     const wg_onnx_export_opts *eo, int threads, json_t *files, json_t *ext,
                     wg_error *err)
{
    char list[256], path[4200];
    snprintf(list, sizeof list, "%s", dtypes);
    int rc = 0;
    for (char *sv = NULL, *tok = strtok_r(list, ",", &sv); !rc && tok; tok = strtok_r(NULL, ",", &sv)) {
        size_t k = 0, nk = sizeof tjs_dtypes / sizeof *tjs_dtypes;
        while (k < nk && strcmp(tjs_dtypes[k].dtype, tok))
            k++;
        if (k == nk)
            return wg_fail(err, WG_EUSAGE, NULL, "--dtypes: unknown dtype '%s' (q4, q8, q2, fp16)",
                           tok);
        wg_plan_cli v = *pc;
        v.o.preset = tjs_dtypes[k].preset;
        wg_onnx_export_opts o = *eo;
        snprintf(path, sizeof path, "%s/onnx/model%s.onnx", tmp, tjs_dtypes[k].suffix);
        o.out_path = path;
        json_t *s = NULL, *rep = NULL;
        if (!(rc = export_one(m, &v, &o, threads, &s, &rep, err))) {
            char name[64];
            snprintf(name, sizeof name, "model%s.onnx", tjs_dtypes[k].suffix);
            if (json_is_true(json_object_get(s, "external")))
                json_object_set_new(ext, name, json_integer(1));
            json_object_del(s, "tensors");
            json_object_set_new(s, "onnx", json_sprintf("onnx/%s", name));
            json_object_set_new(s, "dtype", json_string(tok));
            json_array_append(files, s);
        }
        json_decref(s);
        json_decref(rep);
    }
    return rc;
}

static int cli_write_tjs(const wg_model *m, wg_plan_cli *pc, const char *dir, const char *dtypes,
                         const char *config, const char *tokenizer, bool force,
                         const wg_onnx_export_opts *eo, int threads, json_t **summary,
                         wg_error *err)
{
    char tmp[4200], sub[4300];
    json_t *cfg = NULL, *files = json_array(), *ext = json_object();
    int rc = tjs_config(m, config, &cfg, err);
    bool staged = false;
    if (!rc && !(rc = wg_dir_stage(dir, tmp, sizeof tmp, err))) {
        staged = true;
        snprintf(sub, sizeof sub, "%s/onnx", tmp);
        if (mkdir(sub, 0755))
            rc = wg_fail(err, WG_EIO, sub, "mkdir: %s", strerror(errno));
    }
    if (!rc) /* the text side first: a bad tokenizer file fails before the quantizing */
        rc = wg_text_copy_model(m, tokenizer, tmp, err);
    if (!rc && !(rc = tjs_original(m, sub, err)))
        rc = tjs_files(m, pc, tmp, dtypes, eo, threads, files, ext, err);
    if (!rc && json_object_size(ext)) { /* transformers.js asks for X.onnx_data only if told */
        json_t *tc = json_object_get(cfg, "transformers.js_config");
        if (!json_is_object(tc))
            json_object_set_new(cfg, "transformers.js_config", tc = json_object());
        json_object_set(tc, "use_external_data_format", ext);
    }
    snprintf(sub, sizeof sub, "%s/config.json", tmp);
    if (!rc && json_dump_file(cfg, sub, JSON_INDENT(2) | JSON_PRESERVE_ORDER))
        rc = wg_fail(err, WG_EIO, sub, "cannot write");
    if (!rc && !(rc = wg_dir_commit(tmp, dir, force, "onnx/model.onnx", err)))
        staged = false;
    if (staged)
        wg_rm_rf(tmp);
    if (!rc)
        *summary = json_pack("{s:s, s:s, s:O}", "transformers_js", dir, "model", "onnx/model.onnx",
                             "files", files);
    json_decref(files);
    json_decref(ext);
    json_decref(cfg);
    return rc;
}

static void cli_print_tjs(json_t *s)
{
    printf("folder:     %s (transformers.js: config.json, onnx/model.onnx)\n",
           json_string_value(json_object_get(s, "transformers_js")));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(s, "files"), i, f) {
        printf("dtype %-5s", json_string_value(json_object_get(f, "dtype")));
        cli_print_onnx(f);
    }
}

int cmd_export_onnx(int argc, char **argv)
{
    export_args a = {.threads = wg_default_threads(), .dtypes = "q4,q8"};
    wg_plan_cli_init_for(&a.pc, WG_TARGET_ONNX);
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    wg_error err = {0};
    wg_model *m = NULL;
    json_t *rep = NULL, *s = NULL;
    wg_open_opts oo = {.rules_path = a.pc.rules};
    if ((rc = wg_model_open(argv[optind], &oo, &m, &err)))
        goto fail;
    wg_bar_begin(m);
    if (m->kind != WG_IN_ONNX) {
        rc = wg_fail(&err, WG_EUSAGE, m->path, "export-onnx needs an ONNX model (this is "
                     "safetensors: use build or quantize)");
        goto fail;
    }
    if (a.tjs_dir)
        rc = cli_write_tjs(m, &a.pc, a.tjs_dir, a.dtypes, a.config, a.tokenizer, a.force, &a.eo,
                           a.threads, &s, &err);
    else
        rc = export_one(m, &a.pc, &a.eo, a.threads, &s, &rep, &err);
    if (rc)
        goto fail;
    wg_bar_end();
    if (a.json) {
        json_dumpf(s, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else if (a.tjs_dir)
        cli_print_tjs(s);
    else
        print_summary(m, s, rep);
    goto done;
fail:
    rc = cli_report(&err);
done:
    json_decref(s);
    json_decref(rep);
    wg_plan_cli_free(&a.pc);
    wg_model_free(m);
    return rc;
}
