/* convert/export_onnx.c — `wgpack export-onnx MODEL.onnx -o OUT.onnx [plan options]`, and the
 * same step for `wgpack build --emit-onnx OUT.onnx`: an ONNX Runtime / transformers.js loadable
 * quantized model (pack/onnx_export.c) from the same plan and quantizer as a bundle. */
#include "cli.h"
#include "plan_cli.h"
#include "progress.h"
#include "../pack/pack.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *export_help =
    "usage: wgpack export-onnx MODEL.onnx -o OUT.onnx [options]\n"
    "  writes MatMul weights in grouped 2/4/8-bit formats as com.microsoft::MatMulNBits and\n"
    "  other integer-planned weights (Gather, Conv, ...) as DequantizeLinear; the rest unchanged\n"
    "  --external-data       weights in OUT.onnx.data (automatic past 1.8 GB)\n"
    "  --threads N           worker threads (output identical for any N)\n"
    "  --json                machine-readable summary on stdout\n"
    "  plan options          as for `wgpack quantize` (--preset, --set, --target-bits, ...)\n";

int cli_emit_onnx(const wg_model *m, const wg_plan_entry *plan, const char *out, bool external,
                  bool search, int threads, const float *const *importance, json_t **summary,
                  wg_error *err)
{
    wg_onnx_export_opts eo = {.out_path = out, .external = external, .search = search,
                              .threads = threads, .version = WGPACK_VERSION,
                              .importance = importance};
    wg_onnx_export_result r;
    wg_progress_stage("export");
    int rc = wg_onnx_export(m, plan, &eo, &r, err);
    if (rc) {
        json_decref(r.tensors);
        return rc;
    }
    *summary = json_pack("{s:s, s:I, s:I, s:b, s:i, s:i, s:i, s:o, s:o}", "onnx", out,
                         "onnx_bytes", (json_int_t)r.onnx_bytes, "data_bytes",
                         (json_int_t)r.data_bytes, "external", r.external, "matmulnbits",
                         r.matmulnbits, "dequantize_linear", r.dequantize, "kept_integer_planned",
                         r.kept_int, "weight_sqnr_db",
                         r.sse > 0 ? json_real(10 * log10(r.ssx / r.sse)) : json_null(),
                         "tensors", r.tensors);
    return 0;
}

void cli_print_onnx(json_t *s)
{
    char a[32];
    printf("onnx:       %s (%s%s), %d MatMulNBits, %d DequantizeLinear",
           json_string_value(json_object_get(s, "onnx")),
           cli_bytes((unsigned long long)(json_integer_value(json_object_get(s, "onnx_bytes")) +
                                          json_integer_value(json_object_get(s, "data_bytes"))),
                     a, sizeof a),
           json_is_true(json_object_get(s, "external")) ? ", external data" : "",
           (int)json_integer_value(json_object_get(s, "matmulnbits")),
           (int)json_integer_value(json_object_get(s, "dequantize_linear")));
    int kept = (int)json_integer_value(json_object_get(s, "kept_integer_planned"));
    if (kept)
        printf(", %d planned integer tensors kept as float (see --json)", kept);
    putchar('\n');
}

int cmd_export_onnx(int argc, char **argv)
{
    enum { O_EXT = 420 };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"json", no_argument, 0, 'j'},
        {"threads", required_argument, 0, 'T'}, {"help", no_argument, 0, 'h'},
        {"external-data", no_argument, 0, O_EXT}, WG_PLAN_LONG_OPTIONS, {0, 0, 0, 0}};
    wg_plan_cli pc;
    wg_plan_cli_init(&pc);
    const char *out = NULL;
    bool json = false, external = false;
    int threads = wg_default_threads(), c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:jT:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'j': json = true; break;
        case 'T':
            threads = atoi(optarg);
            if (threads < 1 || threads > 64)
                return cli_usage("export-onnx", "--threads must be 1..64");
            break;
        case 'h': fputs(export_help, stdout); return 0;
        case O_EXT: external = true; break;
        default:
            if ((rc = wg_plan_cli_option(&pc, c, optarg, "export-onnx")) != 0)
                return rc;
        }
    }
    if (optind != argc - 1 || !out)
        return cli_usage("export-onnx", "expected MODEL.onnx and -o OUT.onnx");
    wg_error err = {0};
    wg_model *m = NULL;
    wg_plan_entry *plan = NULL;
    json_t *rep = NULL, *s = NULL;
    wg_open_opts oo = {.rules_path = pc.rules};
    if ((rc = wg_model_open(argv[optind], &oo, &m, &err)))
        goto fail;
    wg_bar_begin(m);
    if (m->kind != WG_IN_ONNX) {
        rc = wg_fail(&err, WG_EUSAGE, m->path, "export-onnx needs an ONNX model (this is "
                     "safetensors: use build or quantize)");
        goto fail;
    }
    if (!(plan = calloc(m->n_tensors + 1, sizeof *plan))) {
        rc = wg_fail(&err, WG_EIO, NULL, "out of memory");
        goto fail;
    }
    wg_plan_result pr;
    if ((rc = wg_plan_cli_run(&pc, m, threads, plan, &pr, &err)))
        goto fail;
    if ((rc = cli_emit_onnx(m, plan, out, external, pc.search, threads, NULL, &s, &err)))
        goto fail;
    rep = wg_plan_report(m, plan, &pc, &pr);
    json_object_set(s, "plan", json_object_get(rep, "summary"));
    wg_bar_end();
    if (json) {
        json_dumpf(s, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        char a[32];
        printf("model:      %s (%s)\n", m->path, m->family);
        printf("input:      %s\n", cli_bytes((unsigned long long)json_integer_value(
            json_object_get(json_object_get(rep, "summary"), "input_bytes")), a, sizeof a));
        cli_print_onnx(s);
        json_t *q = json_object_get(s, "weight_sqnr_db");
        if (json_is_real(q))
            printf("weights:    SQNR %.2f dB over the quantized tensors\n", json_real_value(q));
    }
    goto done;
fail:
    rc = cli_report(&err);
done:
    json_decref(s);
    json_decref(rep);
    free(plan);
    wg_model_free(m);
    return rc;
}
