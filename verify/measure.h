/* verify/measure.h — what quantizing one tensor alone costs end to end (verify --measure).
 *
 * Contract: a measurement runs the model with every weight original except one, which takes
 * the values its candidate format dequantizes to, on calibration inputs, and compares the
 * outputs with the original's: KL(original || quantized) per position for LMs and class
 * outputs, else the relative mean squared error of the outputs. The planner then allocates on
 * these costs (wg_plan_use_measured). Costs travel as JSON ({"metric", "costs": [{"tensor",
 * "format", "cost", "proxy"}]}), in plan reports and in the results database.
 * Pure computation here (the ONNX Runtime runs are verify/ort.h's). */
#ifndef WG_MEASURE_H
#define WG_MEASURE_H
#include "../quant/quant.h"
#include <jansson.h>

/* The (tensor, format) pairs to measure: every integer candidate of every live tensor at the
 * run's group size (or every candidate when all), widest first so a tensor's costs arrive
 * together. *out is malloc'd. */
int wg_measure_pick(const wg_plan_scores *s, size_t n_tensors, int group, bool all,
                    wg_plan_measure **out, size_t *n);
/* t's values in format f as f32 in the tensor's own layout (not the matrix view), malloc'd;
 * NULL on failure. */
float *wg_measure_values(const wg_tensor *t, const wg_qformat *f, bool search, int threads);
/* Decoders: each pair's cost by the forward program on tokens (only that tensor quantized),
 * against ref_logits [n][vocab] of the original weights (KL nats/token). */
struct wg_prog;
int wg_measure_program(const struct wg_prog *p, const wg_model *m, const int32_t *tokens, int n,
                       const float *ref_logits, bool search, int threads, wg_plan_measure *mv,
                       size_t nmv, wg_error *err);
/* To and from JSON; from_json looks tensors up by name in m and skips unknown ones. */
json_t *wg_measure_json(const wg_model *m, const wg_plan_measure *mv, size_t n, const char *metric,
                        const wg_plan_scores *s);
int wg_measure_from_json(const wg_model *m, json_t *j, wg_plan_measure **mv, size_t *n,
                         char *metric, size_t metric_n, wg_error *err);
#endif
