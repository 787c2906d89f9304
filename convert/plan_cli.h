/* convert/plan_cli.h — the planning options shared by `quantize` and `build`: one parser,
 * one way to run the plan, one report (JSON object, printed as text or JSON). */
#ifndef WG_PLAN_CLI_H
#define WG_PLAN_CLI_H
#include "../quant/quant.h"
#include "../pack/pack.h"
#include <jansson.h>
#include <stdio.h>

enum { OPT_PRESET = 256, OPT_GROUP, OPT_SYM, OPT_ASYM, OPT_SCALE32, OPT_RTN, OPT_SET, OPT_RECIPE,
       OPT_CRIT, OPT_TBITS, OPT_TSIZE, OPT_TARGET, OPT_EXPER, OPT_RULES, OPT_COSTS, OPT_MAXDMG,
       OPT_LAST };
/* Where a plan goes: which formats it may use and whose bytes a budget counts. */
typedef enum wg_target { WG_TARGET_BUNDLE = 0, WG_TARGET_ONNX, WG_TARGET_WEBNN } wg_target;
const char *wg_target_name(wg_target t);
#define WG_PLAN_LONG_OPTIONS                                                                 \
    {"preset", required_argument, 0, OPT_PRESET}, {"group-size", required_argument, 0, OPT_GROUP}, \
    {"sym", no_argument, 0, OPT_SYM}, {"asym", no_argument, 0, OPT_ASYM},                      \
    {"scale-f32", no_argument, 0, OPT_SCALE32}, {"rtn", no_argument, 0, OPT_RTN},             \
    {"set", required_argument, 0, OPT_SET}, {"recipe", required_argument, 0, OPT_RECIPE},     \
    {"critical-layers", required_argument, 0, OPT_CRIT},                                      \
    {"target-bits", required_argument, 0, OPT_TBITS},                                         \
    {"target-size", required_argument, 0, OPT_TSIZE},                                         \
    {"target", required_argument, 0, OPT_TARGET},                                             \
    {"experimental-precision", no_argument, 0, OPT_EXPER},                                    \
    {"rules", required_argument, 0, OPT_RULES},                                               \
    {"costs", required_argument, 0, OPT_COSTS},                                               \
    {"max-damage", required_argument, 0, OPT_MAXDMG}

#define WG_MAX_SETS 256
typedef struct wg_plan_cli {
    wg_plan_opts o;
    bool search, webnn, experimental;
    int critical_layers;
    double target_bits;      /* 0: none */
    uint64_t target_size;    /* 0: none */
    const char *sets[WG_MAX_SETS];
    int nsets;
    const char *rules;
    json_t *recipe;          /* kept alive: sets point into it */
    const float *const *importance; /* calibration: per-tensor column weights, or NULL */
    bool cli_set[OPT_LAST];      /* which options the command line gave (they beat the recipe) */
    wg_target target;            /* set by --target, else the command's default */
    /* onnx target: how the file will be written (its bytes are what a budget counts) */
    wg_onnx_export_opts onnx_eo;
    const struct wg_plan_measured *measured; /* measured costs for the planner, or NULL */
    const char *costs_path;      /* --costs: measured costs (JSON, or a results database) */
    double max_damage;           /* --max-damage: no tensor takes a format costing more */
    struct wg_plan_measured *loaded; /* what --costs loaded (owned) */
} wg_plan_cli;

typedef struct wg_plan_result {
    bool planned;
    wg_plan_stats st;
    int webnn_raised;
    int onnx_raised;           /* onnx target: preset formats raised to their stored width */
    uint64_t budget;
    uint64_t onnx_bytes;       /* onnx target: the file (+ data) the plan exports to */
    int budget_rounds;         /* onnx target: plannings until the file fit */
    wg_plan_measured_stats ms; /* when measured costs made the plan */
} wg_plan_result;

/* Measured end-to-end costs (verify --measure) for the planner: mv[n], and the largest cost a
 * tensor may take on (0: no limit). */
typedef struct wg_plan_measured {
    wg_plan_measure *mv;
    size_t n;
    double max_damage;
    const char *metric;        /* "kl" or "rel_mse" */
} wg_plan_measured;

/* cmd's default target: onnx for export-onnx and verify of ONNX models, else bundle. */
void wg_plan_cli_init_for(wg_plan_cli *pc, wg_target dflt);
void wg_plan_cli_init(wg_plan_cli *pc);
void wg_plan_cli_free(wg_plan_cli *pc);
/* The planner's view before allocation: preset, overrides, critical layers, the target's
 * raise, then every live tensor's candidates scored (*sc, caller frees). For measuring. */
int wg_plan_cli_scores(wg_plan_cli *pc, const wg_model *m, int threads, wg_plan_scores **sc,
                       wg_error *err);
/* Handle one getopt code (>= OPT_PRESET); returns 0 or an exit code. */
int wg_plan_cli_option(wg_plan_cli *pc, int code, const char *arg, const char *cmd);
/* preset -> recipe/--set overrides -> critical layers -> planner -> webnn */
int wg_plan_cli_run(wg_plan_cli *pc, const wg_model *m, int threads, wg_plan_entry *plan,
                    wg_plan_result *pr, wg_error *err);
/* {"summary": {...}, "by_format": {...}, "tensors": {name: {format, bytes, ...}}} */
json_t *wg_plan_report(const wg_model *m, const wg_plan_entry *plan, const wg_plan_cli *pc,
                       const wg_plan_result *pr);
void wg_plan_print(json_t *report, FILE *f);
/* The options part of a plan summary: a copy without the model's name and sizes. */
json_t *wg_plan_options(json_t *summary);
int wg_default_threads(void);
/* "12.5MB", "3GiB", "1000" -> bytes; false if malformed */
bool wg_parse_size(const char *s, uint64_t *out);
/* export-onnx and build --emit-onnx: write OUT.onnx from the plan; *summary (owned by the
 * caller) describes what was written. */
int cli_emit_onnx(const wg_model *m, const wg_plan_entry *plan, const wg_onnx_export_opts *eo,
                  json_t **summary, wg_error *err);
void cli_print_onnx(json_t *summary);
/* The planner's error-vs-size curve: [{bytes, cost}] at up to npoints budgets. */
int wg_plan_pareto(wg_plan_cli *pc, const wg_model *m, int threads, int npoints, json_t **curve,
                   wg_error *err);
#endif
