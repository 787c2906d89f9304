/* verify/ort.h — end-to-end comparison of ONNX models in ONNX Runtime: inputs generated from
 * the signature (or given), models run by tools/ort/run.mjs under Node.js (onnxruntime-node,
 * or onnxruntime-web when WGPACK_ORT_BACKEND=web), outputs compared in C (verify/compare.c).
 * Used by `verify`, its --sweep and --measure.
 * Contract: files go under the caller's work directory; every error names the model or file;
 * nothing here decides what to quantize. */
#ifndef WG_VERIFY_ORT_H
#define WG_VERIFY_ORT_H
#include "../formats/model.h"
#include "../quant/quant.h"
#include <jansson.h>

#define WG_ORT_MAX_OPTS 64
typedef struct wg_ort_opts {
    const char *inputs_dir;              /* NAME.npy per input, or NULL: generate */
    int samples;                         /* generated input sets (default 1) */
    uint64_t seed;
    const char *dims[WG_ORT_MAX_OPTS];   /* "DIM_PARAM=N" or "INPUT.AXIS=N" */
    int ndims;
    const char *values[WG_ORT_MAX_OPTS]; /* "INPUT=VALUE": constant fill */
    int nvalues;
    const int32_t *tokens;               /* LM token ids for the ids input, or NULL */
    int ntokens;
} wg_ort_opts;

/* Write the input sets under work/in<k>/; *dirs (strdup'ed, caller frees) lists them and
 * *desc describes how each input was made. */
int wg_ort_prepare_inputs(const wg_model *m, const wg_ort_opts *o, const char *work,
                          char ***dirs, int *ndirs, json_t **desc, wg_error *err);
/* Run one model on every input dir; outputs under outdir/<k>/<i>.npy + outdir/outputs.json. */
int wg_ort_run(const char *model, const char *outdir, char **indirs, int ndirs, const char *work,
               wg_error *err);
/* Compare two runs output by output: {"runtime", "seconds", "outputs": [...], "lm"?}. */
int wg_ort_compare(const char *dir_a, const char *dir_b, int nsamples, const int32_t *tokens,
                   int ntokens, json_t **out, wg_error *err);
/* One number for a comparison, lower is better: the LM's KL per token, else the first class
 * output's KL, else the mean over outputs of the squared relative RMSE. *metric names it. */
double wg_ort_cost(json_t *cmp, const char **metric);

/* Per-tensor measurement (verify --measure): `model` is the original with the measured weights
 * made graph inputs (wg_onnx_export's as_inputs), so one session serves every variant (ONNX
 * Runtime's JS bindings do not let a run override an initializer). Each
 * pair of mv gets its cost: the weight replaced by its values in the pair's format
 * (verify/measure.h), every other weight original, compared with the original's outputs in
 * ref_dir. */
typedef struct wg_ort_measure {
    const wg_model *m;
    const char *model, *work, *ref_dir;
    char **dirs;
    int ndirs;
    const int32_t *tokens;
    int ntokens;
    bool search;
    int threads;
} wg_ort_measure;
int wg_ort_measure_costs(const wg_ort_measure *c, wg_plan_measure *mv, size_t n,
                         const char **metric, wg_error *err);
#endif
