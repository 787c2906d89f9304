/* convert/quantize.c — `wgpack quantize MODEL -o OUT.safetensors [options]`.
 * Plans formats (preset, overrides, recipe, critical layers, planner, WebNN), quantizes tensor
 * by tensor (streaming: one tensor's output in memory at a time) into a safetensors container
 * (README "Quantized tensor container"), and reports sizes and per-tensor error metrics. */
#include "cli.h"
#include "plan_cli.h"
#include "progress.h"
#include "../quant/quant.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *quantize_help =
    "usage: wgpack quantize MODEL -o OUT.safetensors [options]\n"
    "  --preset P            mixed (default), fp16, q8, q6, q5, q4, q3, q2\n"
    "  --group-size N        32 (default), 64, 128, 256, or 0 for per-channel\n"
    "  --sym | --asym        symmetric (default) or asymmetric with zero points\n"
    "  --scale-f32           store scales as f32 (default fp16)\n"
    "  --rtn                 plain round-to-nearest scales (default: error-minimising search)\n"
    "  --set PATTERN=FORMAT  override (repeatable, last match wins): name glob with optional\n"
    "                        layer range (layers.0-1.*=q8), role:NAME, component:NAME, layer:A-B\n"
    "  --recipe FILE         JSON recipe with the same settings (command line wins)\n"
    "  --critical-layers N   first and last N layers one step higher\n"
    "  --target-bits B       planner: average bits per weight (e.g. 4.5)\n"
    "  --target-size S       planner: total bytes (suffix kB, MB, GB, KiB, MiB, GiB)\n"
    "  --target webnn        raise formats below 8 bits to 8 (unless --experimental-precision)\n"
    "  --threads N           worker threads (default: all cores; output is identical for any N)\n"
    "  --plan-out FILE       write the plan as JSON\n"
    "  --dry-run             plan and report, write no tensors\n"
    "  --json                machine-readable report on stdout\n"
    "  --rules FILE          classification rules (see inspect)\n";

static wg_dtype fmt_dtype(const wg_plan_entry *e, const wg_tensor *t)
{
    switch (e->fmt.kind) {
    case WG_Q_F32: return WG_DT_F32;
    case WG_Q_F16: return WG_DT_F16;
    case WG_Q_BF16: return WG_DT_BF16;
    case WG_Q_RAW: return t->dtype;
    default: return WG_DT_U8;
    }
}

static json_t *metrics_json(const wg_qmetrics *m)
{
    json_t *h = json_array();
    for (int i = 0; i < WG_QHIST_BINS; i++)
        json_array_append_new(h, json_integer((json_int_t)m->hist[i]));
    double sq = wg_qm_sqnr_db(m);
    return json_pack("{s:o, s:f, s:f, s:f, s:f, s:I, s:o}", "sqnr_db",
                     isfinite(sq) ? json_real(sq) : json_null(), "rel_rmse", wg_qm_rel_rmse(m),
                     "cosine", wg_qm_cosine(m), "max_abs_err", m->max_abs, "clipped_frac",
                     wg_qm_clipped_frac(m), "nonfinite", (json_int_t)m->nonfinite,
                     "err_hist", h);
}

/* The writer side of the stream: one tensor's bytes into the container, its metrics into the
 * report (runs on the stream's sink thread, the only one touching either meanwhile). */
typedef struct qsink_ctx {
    const wg_model *m;
    const wg_plan_entry *plan;
    wg_st_writer *w;
    json_t *tensors;
    double ssx, sse;
} qsink_ctx;

static int write_tensor(void *ctx, size_t i, const uint8_t *data, uint64_t bytes,
                        const wg_qmetrics *qm, wg_error *err)
{
    qsink_ctx *c = ctx;
    int rc = wg_st_writer_data(c->w, data, bytes, err);
    if (rc || c->plan[i].fmt.kind == WG_Q_RAW)
        return rc;
    json_object_set_new(json_object_get(c->tensors, c->m->tensors[i].name), "metrics",
                        metrics_json(qm));
    c->ssx += qm->ssx;
    c->sse += qm->sse;
    return 0;
}

int cmd_quantize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"json", no_argument, 0, 'j'},
        {"threads", required_argument, 0, 'T'}, {"plan-out", required_argument, 0, 'P'},
        {"dry-run", no_argument, 0, 'n'}, {"help", no_argument, 0, 'h'},
        WG_PLAN_LONG_OPTIONS, {0, 0, 0, 0}};
    wg_plan_cli pc;
    wg_plan_cli_init(&pc);
    const char *outp = NULL, *plan_out = NULL;
    bool json = false, dry = false;
    int threads = wg_default_threads(), c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:jT:P:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': outp = optarg; break;
        case 'j': json = true; break;
        case 'T':
            if ((rc = cli_int("quantize", "--threads", optarg, 1, 64, &threads)))
                return rc;
            break;
        case 'P': plan_out = optarg; break;
        case 'n': dry = true; break;
        case 'h': fputs(quantize_help, stdout); return 0;
        default:
            if ((rc = wg_plan_cli_option(&pc, c, optarg, "quantize")) != 0)
                return rc;
        }
    }
    if (optind != argc - 1)
        return cli_usage("quantize", "expected exactly one MODEL");
    if (!outp && !dry)
        return cli_usage("quantize", "-o OUT is required (or --dry-run)");

    wg_error err = {0};
    wg_model *m = NULL;
    wg_plan_entry *plan = NULL;
    json_t *report = NULL;
    wg_st_entry *es = NULL;
    wg_st_writer w;
    bool writing = false;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    wg_open_opts oo = {.rules_path = pc.rules};
    if ((rc = wg_model_open(argv[optind], &oo, &m, &err)))
        goto fail;
    wg_bar_begin(m);
    wg_progress_stage("plan");
    plan = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *plan);
    if (!plan) {
        rc = wg_fail(&err, WG_EIO, NULL, "out of memory");
        goto fail;
    }
    wg_plan_result pr;
    if ((rc = wg_plan_cli_run(&pc, m, threads, plan, &pr, &err)))
        goto fail;

    report = wg_plan_report(m, plan, &pc, &pr);
    if (plan_out) {
        json_t *pj = json_object_get(report, "tensors");
        wg_atomic_file pf;
        char *txt = json_dumps(pj, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        rc = !txt ? wg_fail(&err, WG_EIO, plan_out, "out of memory")
                  : wg_atomic_open(&pf, plan_out, &err);
        if (!rc && !(rc = wg_atomic_write(&pf, txt, strlen(txt), &err)))
            rc = wg_atomic_commit(&pf, &err);
        free(txt);
        if (rc)
            goto fail;
    }
    if (!dry) {
        /* container entries: fp tensors as themselves, integer ones as three planes */
        es = calloc(3 * m->n_tensors + 1, sizeof *es);
        if (!es) {
            rc = wg_fail(&err, WG_EIO, NULL, "out of memory");
            goto fail;
        }
        size_t ne = 0;
        char **names = calloc(3 * m->n_tensors + 1, sizeof *names);
        for (size_t i = 0; i < m->n_tensors; i++) {
            const wg_tensor *t = &m->tensors[i];
            const wg_plan_entry *e = &plan[i];
            if (e->fmt.kind != WG_Q_INT) {
                es[ne] = (wg_st_entry){t->name, fmt_dtype(e, t), t->ndim, {0}, e->bytes};
                memcpy(es[ne].shape, t->shape, sizeof t->shape);
                if (e->fmt.kind != WG_Q_RAW && t->in_dim_first && t->ndim == 2) {
                    es[ne].shape[0] = e->rows; /* stored in the matrix view [rows][K] */
                    es[ne].shape[1] = e->K;
                }
                ne++;
                continue;
            }
            wg_qlayout l;
            wg_qformat_layout(&e->fmt, e->rows, e->K, &l);
            static const char *suf[3] = {".q", ".scales", ".zeros"};
            uint64_t sz[3] = {l.data_bytes, l.scale_bytes, l.zero_bytes};
            for (int p = 0; p < (e->fmt.sym ? 2 : 3); p++) {
                names[ne] = malloc(strlen(t->name) + 8);
                sprintf(names[ne], "%s%s", t->name, suf[p]);
                es[ne] = (wg_st_entry){names[ne], WG_DT_U8, 1, {(int64_t)sz[p]}, sz[p]};
                if (p == 1) {
                    es[ne].dtype = e->fmt.scale_f32 ? WG_DT_F32 : WG_DT_F16;
                    es[ne].ndim = 2;
                    es[ne].shape[0] = l.rows;
                    es[ne].shape[1] = l.ngroups;
                }
                ne++;
            }
        }
        char *meta = json_dumps(json_object_get(report, "tensors"), JSON_COMPACT | JSON_PRESERVE_ORDER);
        rc = wg_st_writer_open(&w, outp, es, ne, meta, &err);
        free(meta);
        for (size_t i = 0; i < ne; i++)
            free(names[i]);
        free(names);
        if (rc)
            goto fail;
        writing = true;
    }
    wg_qopts qo = {.search = pc.search, .threads = threads};
    qsink_ctx sc = {.m = m, .plan = plan, .w = &w, .tensors = json_object_get(report, "tensors")};
    wg_progress_stage("quantize");
    if (!dry && (rc = wg_quantize_stream(m, plan, &qo, write_tensor, &sc, &err)))
        goto fail;
    if (writing) {
        writing = false;
        if ((rc = wg_st_writer_close(&w, true, &err)))
            goto fail;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    json_t *sum = json_object_get(report, "summary");
    json_object_set_new(sum, "seconds", json_real(secs));
    json_object_set_new(sum, "output", outp && !dry ? json_string(outp) : json_null());
    if (!dry)
        json_object_set_new(sum, "model_sqnr_db",
                            sc.sse > 0 ? json_real(10 * log10(sc.ssx / sc.sse)) : json_null());
    wg_bar_end();
    if (json) {
        json_dumpf(report, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else
        wg_plan_print(report, stdout);
    rc = json_is_false(json_object_get(sum, "budget_met")) ? WG_EBUDGET : 0;
    if (rc)
        fprintf(stderr, "wgpack: %s: the plan exceeds the requested budget\n", m->path);
    goto done;
fail:
    if (writing)
        wg_st_writer_close(&w, false, NULL);
    rc = cli_report(&err);
done:
    free(es);
    json_decref(report);
    free(plan);
    wg_plan_cli_free(&pc);
    wg_model_free(m);
    return rc;
}
