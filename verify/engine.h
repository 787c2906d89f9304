/* verify/engine.h — a bundle's model run in a WebGPU engine by tools/web/run_model.mjs
 * (headless Chromium, Node with Dawn, or Deno's wgpu), and its output held to the C reference
 * of the same stored weights (verify/bundle_ref.c). What `wgpack run` is made of.
 * Contract: the runner works in a temporary directory (under $TMPDIR) removed before
 * wg_engine_run returns; what it returns is checked against what was asked (arch, tokens,
 * output width, generated ids in the vocabulary) before anything is used. Errors name the
 * bundle: WG_EINPUT when the runtime says the bundle cannot run (a shard failing its integrity
 * check, something unsupported), WG_EIO when the runner fails otherwise (no node or browser, a
 * crash, no result within the time limit). */
#ifndef WG_VERIFY_ENGINE_H
#define WG_VERIFY_ENGINE_H
#include "../pack/pack.h"
#include <jansson.h>
#include <stdbool.h>

typedef struct wg_engine_opts {
    const char *dir;          /* the bundle directory */
    const char *engine;       /* "chromium", "node" or "deno" */
    int generate;             /* decoders: tokens to generate greedily after the prompt */
    int max_seq;              /* the runtime's sequence capacity, 0: its default */
    int timeout_s;            /* the runner is stopped after this long */
} wg_engine_opts;

typedef struct wg_engine_out {
    json_t *result;           /* the runner's result.json (adapter, timings, ...) */
    float *out;               /* [n][vocab] logits, or the encoder's [n][hidden] */
    int32_t *gen;             /* the ngen ids generated (decoders) */
    int ngen;
    double unit;              /* unit roundoff of its arithmetic: 2^-24, or 2^-11 when the runner
                                 reports "precision": "f16" */
} wg_engine_out;

/* Run tok[0..n) through the bundle m (read from o->dir) in o->engine. */
int wg_engine_run(const wg_engine_opts *o, const wg_manifest *m, const int32_t *tok, int n,
                  wg_engine_out *rt, wg_error *err);
void wg_engine_out_free(wg_engine_out *rt);

/* Compare the runtime's output rt->out (NULL: no runtime) with the reference's ref (NULL: no
 * reference), [n_ext][width] where the first n rows answer tok[0..n) and, for a decoder, row
 * n-1+k the prompt followed by the runtime's first k generated ids. Sets in j the keys the
 * README lists for `wgpack run` (those that do not apply to null) and "agrees"; returns false
 * when the two disagree beyond the tolerance (wg_f32_order_eps) or the runtime's output is not
 * finite, else true (also when there is nothing to compare). */
bool wg_engine_compare(json_t *j, const wg_manifest *m, const int32_t *tok, int n,
                       const float *ref, int n_ext, const wg_engine_out *rt);
#endif
