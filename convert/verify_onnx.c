/* convert/verify_onnx.c — `wgpack verify ORIGINAL.onnx [QUANTIZED.onnx]`: run both models with
 * ONNX Runtime (onnxruntime-node, tools/ort/run.mjs) on the same inputs and compare every
 * output. With one model, the quantized one is exported from the plan options first (as
 * `export-onnx`). Inputs come from --inputs DIR (NAME.npy), or are generated from the input
 * signature with a fixed seed; --tokens feeds an LM's ids and adds NLL/perplexity. */
#define _GNU_SOURCE
#include "cli.h"
#include "../verify/npy.h"
#include "plan_cli.h"
#include "progress.h"
#include "db.h"
#include "report.h"
#include "../verify/ort.h"
#include "../verify/measure.h"
#include "../pack/pack.h"
#include "../verify/verify.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
    "  --db FILE             append every measured plan to a SQLite results database (with\n"
    "                        --measure: the measured costs too, for --costs FILE later)\n"
    "  --measure             per tensor and candidate format: the end-to-end cost of quantizing\n"
    "                        that tensor alone, in ONNX Runtime; the plan at the budget is made on\n"
    "                        these costs (the proxy interpolated where not run) and compared with\n"
    "                        the proxy planner's at the same budget (needs --target-size/-bits)\n"
    "  --measure-text FILE | --measure-on FILE|DIR   measure on other inputs than the evaluation's\n"
    "                        (bytes as tokens; a token file; a directory of NAME.npy)\n"
    "  --measure-all         every candidate (default: each width at the run's group size)\n"
    "  --measure-out FILE    the measured costs as JSON (reuse: --costs FILE)\n"
    "  --costs FILE|DB       plan on costs measured before (JSON, report, or results database)\n"
    "  --max-damage X        no tensor takes a format whose (measured) cost exceeds X\n"
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
    const char *orig;      /* the original model file */
    int threads;
    const char *work;      /* temporary directory */
    char **dirs;           /* input sets */
    int ndirs;
    const char *da;        /* the original model's outputs */
    const wg_ort_opts *oo;
    const char *dbp;       /* results database, or NULL */
    json_t *measured;      /* measured costs, recorded with a plan they made (or NULL) */
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
    snprintf(q, sizeof q, "%s/%s.onnx", ss->work, label);
    pc->onnx_eo = (wg_onnx_export_opts){.out_path = q, .search = pc->search,
                                        .threads = ss->threads, .importance = pc->importance,
                                        .strip_metadata = true}; /* what --strip-metadata writes */
    int rc = wg_plan_cli_run(pc, m, ss->threads, plan, &pr, err);
    if (rc)
        return rc;
    *prep_out = wg_plan_report(m, plan, pc, &pr);
    snprintf(q, sizeof q, "%s/%s.onnx", ss->work, label);
    snprintf(ob, sizeof ob, "%s/out_%s", ss->work, label);
    wg_onnx_export_opts eo = pc->onnx_eo;
    if ((rc = cli_emit_onnx(m, plan, &eo, exs_out, err)))
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
    if (!(oj = wg_json_load(p, 0, &je))) {
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
    json_t *ps = json_object_get(prep, "summary");
    const char *planner = json_string_value(json_object_get(ps, "planner"));
    if (ss->measured && planner && !strcmp(planner, "measured")) { /* for later builds */
        json_t *rows = json_deep_copy(json_object_get(ss->measured, "costs")), *row;
        size_t i;
        json_array_foreach(rows, i, row)
            json_object_set(row, "metric", json_object_get(ss->measured, "metric"));
        json_object_set_new(run, "measured", rows);
    }
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

/* ---------------------------------------------------------------- measuring */

typedef struct measure_req {
    const char *src;       /* tokens file, .npy directory, or NULL: the evaluation inputs */
    bool bytes, all;
    int maxtok;
} measure_req;

/* The inputs to measure on, and the original's outputs on them. */
static int measure_inputs(const session *ss, const measure_req *q, char ***dirs, int *ndirs,
                          char *ref, size_t refn, int32_t **tok, int *ntok, json_t **desc,
                          wg_error *err)
{
    *tok = NULL;
    *ntok = 0;
    if (!q->src) {
        snprintf(ref, refn, "%s", ss->da);
        *dirs = ss->dirs;
        *ndirs = ss->ndirs;
        *desc = json_string("the evaluation inputs");
        return 0;
    }
    wg_ort_opts co = *ss->oo;
    struct stat st;
    int rc = 0;
    if (stat(q->src, &st) == 0 && S_ISDIR(st.st_mode)) {
        co.inputs_dir = q->src;
        co.tokens = NULL;
    } else {
        co.inputs_dir = NULL;
        co.samples = 1;
        if ((rc = cli_read_tokens(q->src, q->bytes, q->maxtok, tok, ntok, INT32_MAX, err)))
            return rc;
        co.tokens = *tok;
        co.ntokens = *ntok;
    }
    char w[PATH_MAX + 32];
    snprintf(w, sizeof w, "%s/measure_in", ss->work);
    mkdir(w, 0700);
    json_t *d = NULL;
    if (!(rc = wg_ort_prepare_inputs(ss->m, &co, w, dirs, ndirs, &d, err))) {
        snprintf(ref, refn, "%s/out_mref", ss->work);
        rc = wg_ort_run(ss->orig, ref, *dirs, *ndirs, ss->work, err);
    }
    json_decref(d);
    *desc = json_string(q->src);
    return rc;
}

/* Every chosen (tensor, format) pair's end-to-end cost, in *mv (NaN: not measured). */
static int measure_costs(const session *ss, wg_plan_cli *pc, const measure_req *q,
                         wg_plan_measure **mv, size_t *n, json_t **out, wg_error *err)
{
    const wg_model *m = ss->m;
    wg_plan_scores *sc = NULL;
    bool *main_w = calloc(m->n_tensors + 1, sizeof *main_w), *as_in = calloc(m->n_tensors + 1, 1);
    wg_plan_entry *keep = calloc(m->n_tensors + 1, sizeof *keep); /* kind RAW: unchanged */
    char model[PATH_MAX + 32], ref[PATH_MAX + 32];
    char **dirs = NULL;
    int ndirs = 0, ntok = 0;
    int32_t *tok = NULL;
    json_t *desc = NULL;
    int rc = !main_w || !as_in || !keep ? wg_fail(err, WG_EIO, NULL, "out of memory")
             : wg_plan_cli_scores(pc, m, ss->threads, &sc, err);
    if (!rc && wg_measure_pick(sc, m->n_tensors, pc->o.group, q->all, mv, n))
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
    size_t k = 0; /* weights of If/Loop bodies cannot be graph inputs: interpolated instead */
    if (!rc)
        wg_onnx_main_weights(m, main_w);
    for (size_t i = 0; !rc && i < *n; i++)
        if (main_w[(*mv)[i].tensor])
            as_in[(*mv)[i].tensor] = true, (*mv)[k++] = (*mv)[i];
    *n = k;
    snprintf(model, sizeof model, "%s/measure.onnx", ss->work);
    wg_onnx_export_opts eo = {.out_path = model, .threads = ss->threads, .as_inputs = as_in,
                              .version = WGPACK_VERSION};
    wg_onnx_export_result er = {0};
    if (!rc && !(rc = wg_onnx_export(m, keep, &eo, &er, err)))
        rc = measure_inputs(ss, q, &dirs, &ndirs, ref, sizeof ref, &tok, &ntok, &desc, err);
    json_decref(er.tensors);
    const char *metric = "kl";
    wg_ort_measure mc = {.m = m, .model = model, .work = ss->work, .ref_dir = ref, .dirs = dirs,
                         .ndirs = ndirs, .tokens = q->src ? tok : ss->oo->tokens,
                         .ntokens = q->src ? ntok : ss->oo->ntokens, .search = pc->search,
                         .threads = ss->threads};
    if (!rc && !(rc = wg_ort_measure_costs(&mc, *mv, *n, &metric, err))) {
        *out = wg_measure_json(m, *mv, *n, metric, sc);
        json_object_set(*out, "inputs", desc);
        json_object_set_new(*out, "pairs", json_integer((json_int_t)*n));
    }
    if (dirs != ss->dirs) {
        for (int i = 0; i < ndirs; i++)
            free(dirs[i]);
        free(dirs);
    }
    json_decref(desc);
    free(tok);
    free(keep);
    free(main_w);
    free(as_in);
    wg_plan_scores_free(sc);
    return rc;
}

int cmd_verify_onnx(int argc, char **argv)
{
    enum { O_INPUTS = 500, O_SAMPLES, O_SEED, O_DIM, O_INPUT, O_TOKENS, O_TEXT, O_MAXTOK,
           O_MAXRR, O_REPORT, O_SWEEP, O_DB, O_CALIB, O_CALIBTEXT, O_MEASURE, O_MEASURE_ALL,
           O_MEASURE_ON, O_MEASURE_TEXT, O_MEASURE_OUT };
    static const struct option opts[] = {
        {"inputs", required_argument, 0, O_INPUTS}, {"samples", required_argument, 0, O_SAMPLES},
        {"seed", required_argument, 0, O_SEED}, {"dim", required_argument, 0, O_DIM},
        {"input", required_argument, 0, O_INPUT}, {"tokens", required_argument, 0, O_TOKENS},
        {"text", required_argument, 0, O_TEXT}, {"max-tokens", required_argument, 0, O_MAXTOK},
        {"max-rel-rmse", required_argument, 0, O_MAXRR},
        {"report", required_argument, 0, O_REPORT}, {"sweep", no_argument, 0, O_SWEEP},
        {"db", required_argument, 0, O_DB}, {"calib", required_argument, 0, O_CALIB},
        {"calib-text", required_argument, 0, O_CALIBTEXT},
        {"measure", no_argument, 0, O_MEASURE}, {"measure-all", no_argument, 0, O_MEASURE_ALL},
        {"measure-on", required_argument, 0, O_MEASURE_ON},
        {"measure-text", required_argument, 0, O_MEASURE_TEXT},
        {"measure-out", required_argument, 0, O_MEASURE_OUT},
        {"json", no_argument, 0, 'j'}, {"threads", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'}, WG_PLAN_LONG_OPTIONS, {0, 0, 0, 0}};
    wg_plan_cli pc;
    wg_plan_cli_init_for(&pc, WG_TARGET_ONNX);
    wg_ort_opts oo = {.samples = 2};
    const char *tokfile = NULL, *report_dir = NULL, *dbp = NULL, *calib = NULL;
    float **imp = NULL;
    int ncal = 0;
    bool calib_bytes = false;
    bool bytes = false, json = false, sweep = false;
    double max_rr = -1;
    int maxtok = 128, threads = wg_default_threads(), c, rc;
    bool measure_on = false;
    measure_req mq = {0};
    const char *measure_out = NULL;
    wg_plan_measure *mv = NULL;
    size_t nmv = 0;
    json_t *mj = NULL, *mvp = NULL;     /* measured costs; measured vs proxy planner */
    json_t *skipped = NULL;             /* sweep budgets no export fits */
    wg_plan_measured measured = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "jT:h", opts, NULL)) != -1) {
        switch (c) {
        case O_INPUTS: oo.inputs_dir = optarg; break;
        case O_SAMPLES:
            if ((rc = cli_int("verify", "--samples", optarg, 1, 256, &oo.samples)))
                return rc;
            break;
        case O_SEED:
            if ((rc = cli_u64("verify", "--seed", optarg, &oo.seed)))
                return rc;
            break;
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
            if ((rc = cli_int("verify", "--max-tokens", optarg, 2, 65536, &maxtok)))
                return rc;
            break;
        case O_MAXRR:
            if ((rc = cli_double("verify", "--max-rel-rmse", optarg, 0, 1e30, &max_rr)))
                return rc;
            break;
        case O_REPORT: report_dir = optarg; break;
        case O_SWEEP: sweep = true; break;
        case O_DB: dbp = optarg; break;
        case O_CALIB: calib = optarg; calib_bytes = false; break;
        case O_CALIBTEXT: calib = optarg; calib_bytes = true; break;
        case O_MEASURE: measure_on = true; break;
        case O_MEASURE_ALL: measure_on = mq.all = true; break;
        case O_MEASURE_ON: measure_on = true; mq.src = optarg; mq.bytes = false; break;
        case O_MEASURE_TEXT: measure_on = true; mq.src = optarg; mq.bytes = true; break;
        case O_MEASURE_OUT: measure_out = optarg; break;
        case 'j': json = true; break;
        case 'T': if ((rc = cli_int("verify", "--threads", optarg, 1, 64, &threads))) return rc; break;
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
    if (quant && (report_dir || sweep || dbp || calib || measure_on))
        return cli_usage("verify", "--report, --sweep, --db, --calib and --measure take one model (the "
                         "quantized ones are made from the plan options)");
    if (measure_on && !(pc.target_size || pc.target_bits))
        return cli_usage("verify", "--measure plans at a budget: give --target-size or --target-bits");
    mq.maxtok = maxtok;
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
    session ss = {.m = m, .orig = orig, .threads = threads, .work = work, .dirs = dirs,
                  .ndirs = ndirs, .da = da, .oo = &oo, .dbp = dbp};
    if (measure_on) {
        if ((rc = measure_costs(&ss, &pc, &mq, &mv, &nmv, &mj, &err)))
            goto fail;
        measured = (wg_plan_measured){.mv = mv, .n = nmv, .max_damage = pc.max_damage,
                                      .metric = json_string_value(json_object_get(mj, "metric"))};
        pc.measured = &measured;
        ss.measured = mj;
        if (measure_out && (rc = cli_write_json(measure_out, mj, JSON_INDENT(1) | JSON_PRESERVE_ORDER, &err)))
            goto fail;
    }
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
    if (measure_on) { /* the proxy planner at the same budget, for comparison */
        wg_plan_cli v = pc;
        v.measured = NULL;
        v.costs_path = NULL;
        json_t *pp = NULL;
        if ((rc = measure(&ss, &v, "proxy", "proxy planner", false, &pp, NULL, &err)))
            goto fail;
        mvp = json_pack("{s:o, s:o}", "measured", sweep_point("measured planner", prep, exs, cmp),
                        "proxy", pp);
        json_t *ms = json_object_get(json_object_get(prep, "summary"), "measured");
        json_object_set(mj, "rank_agreement_spearman", json_object_get(ms, "rank_agreement_spearman"));
        json_object_set(mj, "excluded", json_object_get(ms, "excluded"));
        json_object_set(mj, "interpolated", json_object_get(ms, "interpolated"));
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
            rc = measure(&ss, &v, lab, pts[k].label, true, &point, NULL, &err);
            if (rc == WG_EBUDGET && pts[k].bits > 0) { /* below the smallest export: say so */
                if (!skipped)
                    skipped = json_array();
                json_array_append_new(skipped, json_pack("{s:s, s:s}", "label", pts[k].label,
                                                         "why", err.msg));
                memset(&err, 0, sizeof err);
                continue;
            }
            if (rc)
                goto fail;
            json_array_append_new(sweep_out, point);
        }
    }
    report = json_pack("{s:s, s:s, s:i, s:i, s:O, s:O}", "original", orig, "quantized",
                       quant ? quant : "(exported from the plan)", "samples", ndirs,
                       "seed", (int)oo.seed, "inputs", desc, "comparison", cmp);
    if (sweep_out)
        json_object_set(report, "sweep", sweep_out);
    if (skipped)
        json_object_set(report, "sweep_skipped", skipped);
    if (calj)
        json_object_set(report, "calibration", calj);
    if (mj)
        json_object_set(report, "measured", mj);
    if (mvp)
        json_object_set(report, "measured_vs_proxy", mvp);
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
    if (*work && !getenv("WGPACK_KEEP_WORK"))
        wg_rm_rf(work);
    json_decref(report);
    json_decref(exs);
    json_decref(desc);
    json_decref(cmp);
    json_decref(prep);
    json_decref(sweep_out);
    json_decref(calj);
    json_decref(mj);
    json_decref(mvp);
    json_decref(skipped);
    free(mv);
    wg_plan_cli_free(&pc);
    free(calplan);
    for (size_t i = 0; imp && i < m->n_tensors; i++)
        free(imp[i]);
    free(imp);
    free(tokens);
    free(plan);
    wg_model_free(m);
    return rc;
}
