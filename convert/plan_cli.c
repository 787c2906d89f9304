/* convert/plan_cli.c — planning options, recipe files, and the plan report. */
#include "plan_cli.h"
#include "cli.h"
#include "db.h"
#include "../verify/measure.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void wg_plan_cli_init_for(wg_plan_cli *pc, wg_target dflt)
{
    memset(pc, 0, sizeof *pc);
    wg_plan_opts_default(&pc->o);
    pc->search = true;
    pc->target = dflt;
}

void wg_plan_cli_init(wg_plan_cli *pc) { wg_plan_cli_init_for(pc, WG_TARGET_BUNDLE); }

void wg_plan_cli_free(wg_plan_cli *pc)
{
    if (pc->loaded)
        free(pc->loaded->mv);
    free(pc->loaded);
    pc->loaded = NULL;
    json_decref(pc->recipe);
    pc->recipe = NULL;
}

const char *wg_target_name(wg_target t)
{
    return t == WG_TARGET_ONNX ? "onnx" : t == WG_TARGET_WEBNN ? "webnn" : "bundle";
}

int wg_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

bool wg_parse_size(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0 || !isfinite(v))
        return false;
    static const struct { const char *suf; double mul; } sufs[] = {
        {"", 1}, {"B", 1}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
        {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
    for (size_t i = 0; i < sizeof sufs / sizeof *sufs; i++)
        if (!strcmp(end, sufs[i].suf)) {
            double b = v * sufs[i].mul;
            if (b >= 1.8e19)
                return false;
            *out = (uint64_t)b;
            return true;
        }
    return false;
}

static int set_group(wg_plan_cli *pc, long g, const char *cmd)
{
    if (g != 0 && g != 32 && g != 64 && g != 128 && g != 256)
        return cli_usage(cmd, "--group-size must be 32, 64, 128, 256 or 0 (per-channel)");
    pc->o.group = (int)g;
    return 0;
}

static int load_recipe(wg_plan_cli *pc, const char *path, const char *cmd)
{
    json_error_t je;
    json_t *r = wg_json_load(path, JSON_REJECT_DUPLICATES, &je);
    if (!r || !json_is_object(r)) {
        fprintf(stderr, "wgpack: %s: %s\n", path, r ? "recipe is not a JSON object" : je.text);
        json_decref(r);
        return WG_EINPUT;
    }
    pc->recipe = r;
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) {
        int bad = 0;
        if (!strcmp(k, "preset")) {
            if (!json_is_string(v) || !wg_preset_parse(json_string_value(v), &pc->o.preset))
                bad = 1;
        } else if (!strcmp(k, "group_size")) {
            if (!json_is_integer(v) || set_group(pc, (long)json_integer_value(v), cmd))
                bad = 1;
        } else if (!strcmp(k, "sym")) {
            if (!json_is_boolean(v))
                bad = 1;
            else
                pc->o.sym = json_is_true(v);
        } else if (!strcmp(k, "scale_f32")) {
            if (!json_is_boolean(v))
                bad = 1;
            else
                pc->o.scale_f32 = json_is_true(v);
        } else if (!strcmp(k, "search")) {
            if (!json_is_boolean(v))
                bad = 1;
            else
                pc->search = json_is_true(v);
        } else if (!strcmp(k, "critical_layers")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                bad = 1;
            else
                pc->critical_layers = (int)json_integer_value(v);
        } else if (!strcmp(k, "target_bits")) {
            if (!json_is_number(v) || json_number_value(v) <= 0)
                bad = 1;
            else
                pc->target_bits = json_number_value(v);
        } else if (!strcmp(k, "target_size")) {
            if (!json_is_string(v) || !wg_parse_size(json_string_value(v), &pc->target_size))
                bad = 1;
        } else if (!strcmp(k, "set")) {
            size_t i;
            json_t *s;
            if (!json_is_array(v))
                bad = 1;
            json_array_foreach(v, i, s) {
                if (!json_is_string(s) || pc->nsets >= WG_MAX_SETS)
                    bad = 1;
                else
                    pc->sets[pc->nsets++] = json_string_value(s);
            }
        } else
            bad = 2;
        if (bad) {
            fprintf(stderr, "wgpack: %s: %s \"%s\"\n", path,
                    bad == 2 ? "unknown recipe key" : "bad value for", k);
            return WG_EINPUT;
        }
    }
    return 0;
}

int wg_plan_cli_option(wg_plan_cli *pc, int code, const char *arg, const char *cmd)
{
    switch (code) {
    case OPT_PRESET:
        if (!wg_preset_parse(arg, &pc->o.preset))
            return cli_usage(cmd, "unknown preset '%s' (mixed, fp16, q8, q6, q5, q4, q3, q2)", arg);
        break;
    case OPT_GROUP: {
        int g, rc = cli_int(cmd, "--group-size", arg, 0, 1 << 20, &g);
        return rc ? rc : set_group(pc, g, cmd);
    }
    case OPT_SYM: pc->o.sym = 1; break;
    case OPT_ASYM: pc->o.sym = 0; break;
    case OPT_SCALE32: pc->o.scale_f32 = true; break;
    case OPT_RTN: pc->search = false; break;
    case OPT_SET:
        if (pc->nsets >= WG_MAX_SETS)
            return cli_usage(cmd, "too many --set rules");
        pc->sets[pc->nsets++] = arg;
        break;
    case OPT_RECIPE: {
        /* the recipe is applied first; options already given must win, so re-parse order:
         * load it into a fresh state and copy back what the command line did not set */
        wg_plan_cli saved = *pc;
        int rc = load_recipe(pc, arg, cmd);
        if (rc)
            return rc;
        for (int i = 0; i < saved.nsets && pc->nsets < WG_MAX_SETS; i++)
            pc->sets[pc->nsets++] = saved.sets[i]; /* command-line rules after: they win */
        if (saved.cli_set[OPT_PRESET]) pc->o.preset = saved.o.preset;
        if (saved.cli_set[OPT_GROUP]) pc->o.group = saved.o.group;
        if (saved.cli_set[OPT_SYM]) pc->o.sym = saved.o.sym;
        if (saved.cli_set[OPT_RTN]) pc->search = saved.search;
        if (saved.cli_set[OPT_CRIT]) pc->critical_layers = saved.critical_layers;
        if (saved.cli_set[OPT_TBITS]) pc->target_bits = saved.target_bits;
        if (saved.cli_set[OPT_TSIZE]) pc->target_size = saved.target_size;
        break;
    }
    case OPT_CRIT:
        return cli_int(cmd, "--critical-layers", arg, 0, 1 << 20, &pc->critical_layers);
    case OPT_TBITS: {
        char *end;
        pc->target_bits = strtod(arg, &end);
        if (*end || end == arg || !(pc->target_bits > 0 && pc->target_bits <= 32))
            return cli_usage(cmd, "--target-bits must be a number in (0, 32]");
        break;
    }
    case OPT_TSIZE:
        if (!wg_parse_size(arg, &pc->target_size) || !pc->target_size)
            return cli_usage(cmd, "--target-size: expected BYTES with optional kB/MB/GB/KiB/MiB/GiB");
        break;
    case OPT_TARGET:
        if (!strcmp(arg, "webgpu") || !strcmp(arg, "bundle"))
            pc->target = WG_TARGET_BUNDLE;
        else if (!strcmp(arg, "onnx"))
            pc->target = WG_TARGET_ONNX;
        else if (!strcmp(arg, "webnn"))
            pc->target = WG_TARGET_WEBNN;
        else
            return cli_usage(cmd, "--target must be bundle (or webgpu), onnx or webnn");
        pc->webnn = pc->target == WG_TARGET_WEBNN;
        break;
    case OPT_EXPER: pc->experimental = true; break;
    case OPT_RULES: pc->rules = arg; break;
    case OPT_COSTS: pc->costs_path = arg; break;
    case OPT_MAXDMG: {
        char *end;
        pc->max_damage = strtod(arg, &end);
        if (*end || end == arg || !(pc->max_damage > 0 && isfinite(pc->max_damage)))
            return cli_usage(cmd, "--max-damage must be a positive number (the measured metric)");
        break;
    }
    default:
        return cli_usage(cmd, "bad option");
    }
    if (code < OPT_LAST)
        pc->cli_set[code] = true;
    if (code == OPT_ASYM)
        pc->cli_set[OPT_SYM] = true;
    return 0;
}

/* The file the plan exports to, in bytes (file + external data), without writing it. */
static int onnx_size(const wg_plan_cli *pc, const wg_model *m, const wg_plan_entry *plan,
                     uint64_t *bytes, wg_error *err)
{
    wg_onnx_export_opts eo = pc->onnx_eo;
    eo.dry_run = true;
    eo.out_path = eo.out_path ? eo.out_path : "model.onnx";
    eo.version = WGPACK_VERSION; /* producer_version: as the file will say */
    wg_onnx_export_result r;
    int rc = wg_onnx_export(m, plan, &eo, &r, err);
    json_decref(r.tensors);
    *bytes = r.onnx_bytes + r.data_bytes;
    return rc;
}

static uint64_t target_total(const wg_plan_opts *o, const wg_model *m, const wg_plan_entry *plan)
{
    uint64_t t = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        t += o->target && o->target->bytes ? o->target->bytes(o->target->ctx, m, i, &plan[i])
                                           : plan[i].bytes;
    return t;
}

/* Score (and apply measured costs), once. */
static int scores(const wg_plan_cli *pc, const wg_plan_opts *o, const wg_model *m, int threads,
                  const wg_plan_entry *plan, const bool *pinned, wg_plan_result *pr,
                  wg_plan_scores **sc, wg_error *err)
{
    int rc = wg_plan_score(m, o, plan, pinned, pc->importance, threads, sc, err);
    if (!rc && pc->measured && wg_plan_use_measured(*sc, pc->measured->mv, pc->measured->n,
                                                     pc->measured->max_damage, &pr->ms))
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
    return rc;
}

/* onnx target: the budget counts the exported file. The planner allocates the tensors' stored
 * bytes; what the graph itself takes (nodes, names, metadata) is measured by sizing the export
 * without writing it, and the allocation shrinks by any excess until the file fits. */
static int plan_onnx_budget(const wg_plan_cli *pc, const wg_plan_opts *o, const wg_model *m,
                            wg_plan_scores *sc, const wg_plan_entry *base, wg_plan_entry *plan,
                            wg_plan_result *pr, wg_error *err)
{
    uint64_t size, S = pr->budget;
    int rc = onnx_size(pc, m, base, &size, err);
    uint64_t est = target_total(o, m, base), graph = size > est ? size - est : 0, B;
    wg_error quiet = {0};
    for (int round = 1; !rc && round <= 12; round++) {
        B = S > graph ? S - graph : 0;
        memcpy(plan, base, m->n_tensors * sizeof *plan);
        if ((rc = wg_plan_allocate(sc, m, o, plan, B, &pr->st, &quiet))) {
            if (rc == WG_EBUDGET)
                return wg_fail(err, WG_EBUDGET, m->path, "budget of %llu bytes is below the "
                               "%llu bytes the smallest ONNX export needs",
                               (unsigned long long)S,
                               (unsigned long long)(pr->st.min_bytes + graph));
            return wg_fail(err, rc, NULL, "%s", quiet.msg);
        }
        if ((rc = onnx_size(pc, m, plan, &size, err)))
            return rc;
        pr->onnx_bytes = size;
        pr->budget_rounds = round;
        if (size <= S)
            return 0;
        graph += size - S + 64 * (uint64_t)round; /* the graph took more than estimated */
    }
    return rc ? rc : wg_fail(err, WG_EBUDGET, m->path, "the ONNX export did not fit %llu bytes",
                             (unsigned long long)S);
}

static int plan_budget(const wg_plan_cli *pc, const wg_plan_opts *o, const wg_model *m,
                       int threads, wg_plan_entry *plan, const bool *pinned, wg_plan_result *pr,
                       wg_error *err)
{
    uint64_t params = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        if (wg_dtype_is_float(m->tensors[i].dtype))
            params += m->tensors[i].numel;
    pr->budget = pc->target_size ? pc->target_size
                                 : (uint64_t)floor(pc->target_bits * (double)params / 8.0);
    pr->planned = true;
    wg_plan_scores *sc = NULL;
    wg_plan_entry *base = NULL;
    int rc = scores(pc, o, m, threads, plan, pinned, pr, &sc, err);
    if (!rc && o->target) {
        if (!(base = malloc((m->n_tensors + 1) * sizeof *base)))
            rc = wg_fail(err, WG_EIO, NULL, "out of memory");
        else {
            memcpy(base, plan, m->n_tensors * sizeof *base);
            rc = plan_onnx_budget(pc, o, m, sc, base, plan, pr, err);
        }
    } else if (!rc)
        rc = wg_plan_allocate(sc, m, o, plan, pr->budget, &pr->st, err);
    free(base);
    wg_plan_scores_free(sc);
    return rc;
}

/* --costs FILE: measured costs from a measure JSON, a plan report with per-tensor "measured",
 * or a results database (its latest measured run of this model). */
static int load_costs(wg_plan_cli *pc, const wg_model *m, wg_error *err)
{
    if (!pc->costs_path || pc->loaded) {
        pc->measured = pc->measured ? pc->measured : pc->loaded;
        return 0;
    }
    json_t *j = NULL;
    int rc = wg_costs_load(pc->costs_path, m, &j, err);
    wg_plan_measured *ms = calloc(1, sizeof *ms);
    static char metric[32];
    if (!rc && !ms)
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
    if (!rc)
        rc = wg_measure_from_json(m, j, &ms->mv, &ms->n, metric, sizeof metric, err);
    json_decref(j);
    if (rc) {
        if (ms)
            free(ms->mv);
        free(ms);
        return rc;
    }
    if (!ms->n) {
        free(ms->mv);
        free(ms);
        return wg_fail(err, WG_EINPUT, pc->costs_path, "no measured costs for %s", m->path);
    }
    ms->metric = metric;
    ms->max_damage = pc->max_damage;
    pc->loaded = ms;
    pc->measured = ms;
    return 0;
}

/* Preset, overrides, critical layers and the target's raise: the plan the planner starts from,
 * with the tensors it may not change in pinned. */
static int plan_base(wg_plan_cli *pc, const wg_model *m, const wg_plan_opts *o,
                     wg_plan_entry *plan, bool *pinned, wg_plan_result *pr, wg_error *err)
{
    int rc = wg_plan_preset(m, o, plan, err);
    for (int i = 0; i < pc->nsets && !rc; i++)
        rc = wg_plan_override(m, pc->sets[i], o, plan, pinned, err);
    if (rc)
        return rc;
    bool planner = pc->target_bits > 0 || pc->target_size > 0;
    if (pc->critical_layers) {
        wg_plan_critical_layers(m, pc->critical_layers, plan, pinned);
        if (planner) /* the planner must not undo them: they count as fixed */
            for (size_t i = 0; i < m->n_tensors; i++)
                if (!strcmp(plan[i].why, "critical-layer"))
                    pinned[i] = true;
    }
    if (o->target)
        pr->onnx_raised = wg_onnx_lift(o->target, m, plan, pinned);
    return load_costs(pc, m, err);
}

int wg_plan_cli_run(wg_plan_cli *pc, const wg_model *m, int threads, wg_plan_entry *plan,
                    wg_plan_result *pr, wg_error *err)
{
    memset(pr, 0, sizeof *pr);
    wg_plan_target *tg = NULL;
    wg_plan_opts o = pc->o;
    bool *pinned = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *pinned);
    int rc = !pinned ? wg_fail(err, WG_EIO, NULL, "out of memory")
             : pc->target == WG_TARGET_ONNX ? wg_onnx_target_new(m, &tg, err) : 0;
    o.target = tg;
    if (!rc)
        rc = plan_base(pc, m, &o, plan, pinned, pr, err);
    if (!rc && (pc->target_bits > 0 || pc->target_size > 0))
        rc = plan_budget(pc, &o, m, threads, plan, pinned, pr, err);
    if (!rc && pc->webnn && !pc->experimental)
        pr->webnn_raised = wg_plan_webnn(m, plan);
    if (!rc && tg && !pr->onnx_bytes)
        rc = onnx_size(pc, m, plan, &pr->onnx_bytes, err);
    wg_onnx_target_free(tg);
    free(pinned);
    return rc;
}

int wg_plan_cli_scores(wg_plan_cli *pc, const wg_model *m, int threads, wg_plan_scores **sc,
                       wg_error *err)
{
    wg_plan_target *tg = NULL;
    wg_plan_opts o = pc->o;
    wg_plan_result pr = {0};
    *sc = NULL;
    wg_plan_entry *plan = calloc(m->n_tensors + 1, sizeof *plan);
    bool *pinned = calloc(m->n_tensors + 1, sizeof *pinned);
    int rc = !plan || !pinned ? wg_fail(err, WG_EIO, NULL, "out of memory")
             : pc->target == WG_TARGET_ONNX ? wg_onnx_target_new(m, &tg, err) : 0;
    o.target = tg;
    const wg_plan_measured *keep = pc->measured;
    pc->measured = NULL; /* the proxy: what measuring compares with */
    if (!rc)
        rc = plan_base(pc, m, &o, plan, pinned, &pr, err);
    if (!rc)
        rc = wg_plan_score(m, &o, plan, pinned, pc->importance, threads, sc, err);
    pc->measured = keep;
    wg_onnx_target_free(tg);
    free(plan);
    free(pinned);
    return rc;
}

json_t *wg_plan_options(json_t *summary)
{
    static const char *drop[] = {"model", "family", "input_bytes", "output_bytes", "parameters",
                                 "bits_per_weight", "onnx_bytes", "measured"};
    json_t *opt = json_deep_copy(summary);
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        json_object_del(opt, drop[i]);
    return opt;
}

/* The measured costs of tensor i, by format name, into its report entry. */
static void add_measured(json_t *o, const wg_plan_measured *ms, size_t i)
{
    json_t *mj = NULL;
    for (size_t k = 0; k < ms->n; k++) {
        if (ms->mv[k].tensor != i)
            continue;
        char fn[32];
        wg_qformat_name(&ms->mv[k].fmt, fn, sizeof fn);
        if (!mj)
            mj = json_object();
        json_object_set_new(mj, fn, json_real(ms->mv[k].cost));
    }
    if (mj)
        json_object_set_new(o, "measured", mj);
}

json_t *wg_plan_report(const wg_model *m, const wg_plan_entry *plan, const wg_plan_cli *pc,
                       const wg_plan_result *pr)
{
    json_t *tensors = json_object(), *byfmt = json_object();
    uint64_t in_bytes = 0, out_bytes = 0, params = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_tensor *t = &m->tensors[i];
        const wg_plan_entry *e = &plan[i];
        char fn[32];
        wg_qformat_name(&e->fmt, fn, sizeof fn);
        if (e->fmt.kind == WG_Q_RAW)
            snprintf(fn, sizeof fn, "raw-%s", wg_dtype_name(t->dtype));
        in_bytes += t->nbytes;
        out_bytes += e->bytes;
        if (wg_dtype_is_float(t->dtype))
            params += t->numel;
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *o = json_pack("{s:s, s:o, s:s, s:s, s:i, s:I, s:I, s:I, s:s}", "format", fn,
                              "shape", shape, "role", wg_role_name(t->role), "component",
                              t->component, "layer", t->layer, "rows", (json_int_t)e->rows, "K",
                              (json_int_t)e->K, "bytes", (json_int_t)e->bytes, "why", e->why);
        if (t->in_dim_first && t->ndim == 2)
            json_object_set_new(o, "source_layout", json_string("in_out"));
        if (pr->planned && !strncmp(e->why, "planner", 7))
            json_object_set_new(o, "planner_cost", json_real(e->cost));
        if (pc->measured)
            add_measured(o, pc->measured, i);
        json_object_set_new(tensors, t->name, o);
        json_t *bf = json_object_get(byfmt, fn);
        if (!bf) {
            bf = json_pack("{s:i, s:I, s:I}", "tensors", 0, "parameters", (json_int_t)0, "bytes",
                           (json_int_t)0);
            json_object_set_new(byfmt, fn, bf);
        }
        json_object_set_new(bf, "tensors", json_integer(json_integer_value(json_object_get(bf, "tensors")) + 1));
        json_object_set_new(bf, "parameters", json_integer(json_integer_value(json_object_get(bf, "parameters")) + (json_int_t)t->numel));
        json_object_set_new(bf, "bytes", json_integer(json_integer_value(json_object_get(bf, "bytes")) + (json_int_t)e->bytes));
    }
    char gbuf[16];
    snprintf(gbuf, sizeof gbuf, "%d", pc->o.group);
    json_t *sum = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:I, s:f}", "model", m->path,
                            "family", m->family, "preset", wg_preset_name(pc->o.preset),
                            "group_size", pc->o.group ? gbuf : "per-channel", "symmetric",
                            pc->o.sym != 0, "scales", pc->search ? "search" : "rtn",
                            "input_bytes", (json_int_t)in_bytes, "output_bytes",
                            (json_int_t)out_bytes, "parameters", (json_int_t)params,
                            "bits_per_weight", params ? 8.0 * (double)out_bytes / (double)params : 0.0);
    json_object_set_new(sum, "target", json_string(wg_target_name(pc->target)));
    if (pc->target == WG_TARGET_ONNX) {
        json_object_set_new(sum, "onnx_bytes", json_integer((json_int_t)pr->onnx_bytes));
        json_object_set_new(sum, "onnx_raised", json_integer(pr->onnx_raised));
    }
    if (pr->planned) {
        uint64_t bound = pc->target == WG_TARGET_ONNX ? pr->onnx_bytes : out_bytes;
        json_object_set_new(sum, "budget_bytes", json_integer((json_int_t)pr->budget));
        json_object_set_new(sum, "budget_binds", json_string(pc->target == WG_TARGET_ONNX
                                                                 ? "onnx" : "bundle"));
        json_object_set_new(sum, "budget_min_bytes", json_integer((json_int_t)pr->st.min_bytes));
        json_object_set_new(sum, "planner_cost", json_real(pr->st.cost));
        json_object_set_new(sum, "budget_met", json_boolean(bound <= pr->budget));
        json_object_set_new(sum, "planner", json_string(pr->ms.measured ? "measured" : "proxy"));
        if (pr->ms.measured)
            json_object_set_new(sum, "measured", json_pack(
                "{s:s, s:i, s:i, s:i, s:o, s:f}", "metric", pc->measured->metric, "costs",
                pr->ms.measured, "interpolated", pr->ms.interpolated, "excluded",
                pr->ms.excluded, "rank_agreement_spearman",
                isfinite(pr->ms.spearman) ? json_real(pr->ms.spearman) : json_null(),
                "max_damage", pc->measured->max_damage));
    }
    if (pc->webnn)
        json_object_set_new(sum, "webnn_raised_to_8bit", json_integer(pr->webnn_raised));
    return json_pack("{s:o, s:o, s:o}", "summary", sum, "by_format", byfmt, "tensors", tensors);
}

void wg_plan_print(json_t *r, FILE *f)
{
    json_t *s = json_object_get(r, "summary");
    char a[32], b[32];
    fprintf(f, "model:   %s (%s)\n", json_string_value(json_object_get(s, "model")),
            json_string_value(json_object_get(s, "family")));
    fprintf(f, "preset:  %s, group %s, %s, %s scales\n",
            json_string_value(json_object_get(s, "preset")),
            json_string_value(json_object_get(s, "group_size")),
            json_is_true(json_object_get(s, "symmetric")) ? "symmetric" : "asymmetric",
            json_string_value(json_object_get(s, "scales")));
    fprintf(f, "size:    %s -> %s (%.3f bits/weight)\n",
            cli_bytes((unsigned long long)json_integer_value(json_object_get(s, "input_bytes")), a, sizeof a),
            cli_bytes((unsigned long long)json_integer_value(json_object_get(s, "output_bytes")), b, sizeof b),
            json_real_value(json_object_get(s, "bits_per_weight")));
    if (json_object_get(s, "budget_bytes"))
        fprintf(f, "budget:  %s (smallest possible %s), planner cost %.5f\n",
                cli_bytes((unsigned long long)json_integer_value(json_object_get(s, "budget_bytes")), a, sizeof a),
                cli_bytes((unsigned long long)json_integer_value(json_object_get(s, "budget_min_bytes")), b, sizeof b),
                json_real_value(json_object_get(s, "planner_cost")));
    if (json_object_get(s, "webnn_raised_to_8bit"))
        fprintf(f, "webnn:   %lld tensors raised to 8-bit\n",
                (long long)json_integer_value(json_object_get(s, "webnn_raised_to_8bit")));
    if (json_object_get(s, "model_sqnr_db"))
        fprintf(f, "error:   whole-model SQNR %.2f dB\n", json_real_value(json_object_get(s, "model_sqnr_db")));
    if (json_object_get(s, "seconds"))
        fprintf(f, "time:    %.2f s\n", json_real_value(json_object_get(s, "seconds")));
    fprintf(f, "\n%-14s %8s %16s %12s\n", "format", "tensors", "parameters", "bytes");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(r, "by_format"), k, v)
        fprintf(f, "%-14s %8lld %16s %12s\n", k, (long long)json_integer_value(json_object_get(v, "tensors")),
                cli_count((unsigned long long)json_integer_value(json_object_get(v, "parameters")), a, sizeof a),
                cli_bytes((unsigned long long)json_integer_value(json_object_get(v, "bytes")), b, sizeof b));
}

/* Error-vs-size curve of the planner over the tensors the plan leaves to it (the preset's
 * integer tensors, less --set overrides): scored once, allocated at npoints budgets from the
 * smallest formats to the largest. */
int wg_plan_pareto(wg_plan_cli *pc, const wg_model *m, int threads, int npoints, json_t **curve,
                   wg_error *err)
{
    *curve = NULL;
    size_t n = m->n_tensors ? m->n_tensors : 1;
    wg_plan_entry *plan = calloc(n, sizeof *plan), *work = calloc(n, sizeof *work);
    bool *pinned = calloc(n, sizeof *pinned);
    wg_plan_scores *sc = NULL;
    int rc = !plan || !work || !pinned ? wg_fail(err, WG_EIO, NULL, "out of memory") : 0;
    if (!rc)
        rc = wg_plan_preset(m, &pc->o, plan, err);
    for (int i = 0; i < pc->nsets && !rc; i++)
        rc = wg_plan_override(m, pc->sets[i], &pc->o, plan, pinned, err);
    wg_plan_target *tg = NULL;
    if (!rc && pc->target == WG_TARGET_ONNX)
        rc = wg_onnx_target_new(m, &tg, err);
    wg_plan_opts o = pc->o;
    o.target = tg;
    wg_plan_result pr = {0};
    if (!rc)
        rc = scores(pc, &o, m, threads, plan, pinned, &pr, &sc, err);
    wg_plan_stats lo, hi;
    wg_error quiet = {0};
    if (!rc) {
        memcpy(work, plan, n * sizeof *plan);
        wg_plan_allocate(sc, m, &o, work, 0, &lo, &quiet); /* fails, but reports min_bytes */
        memcpy(work, plan, n * sizeof *plan);
        rc = wg_plan_allocate(sc, m, &o, work, UINT64_MAX / 2, &hi, err);
    }
    if (!rc) {
        json_t *pts = json_array();
        uint64_t last = 0;
        for (int k = 0; k < npoints; k++) {
            double f = npoints > 1 ? (double)k / (npoints - 1) : 1;
            uint64_t b = lo.min_bytes + (uint64_t)(f * (double)(hi.bytes - lo.min_bytes));
            wg_plan_stats st;
            memcpy(work, plan, n * sizeof *plan);
            if (wg_plan_allocate(sc, m, &o, work, b, &st, &quiet) || (k && st.bytes == last))
                continue;
            last = st.bytes;
            json_array_append_new(pts, json_pack("{s:I, s:f}", "bytes", (json_int_t)st.bytes,
                                                 "cost", st.cost));
        }
        *curve = pts;
    }
    wg_plan_scores_free(sc);
    wg_onnx_target_free(tg);
    free(plan);
    free(work);
    free(pinned);
    return rc;
}
