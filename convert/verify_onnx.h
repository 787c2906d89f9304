/* convert/verify_onnx.h — end-to-end comparison of two ONNX models in ONNX Runtime: inputs
 * generated from the signature (or given), both models run by tools/ort/run.mjs under Node.js,
 * outputs compared in C (verify/compare.c). Used by `verify` and its --sweep. */
#ifndef WG_VERIFY_ONNX_H
#define WG_VERIFY_ONNX_H
#include "../formats/model.h"
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
#endif
