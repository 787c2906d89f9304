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
/* ---- text in, text out (verify/engine_text.c): the bundle's own tokenizer, run in Node by
 * tools/web/text_ids.mjs (wgpack-text.js over the bundle's text/ files, each checked against
 * its SHA-256 as a page checks it). Work files under $TMPDIR, removed before returning. ---- */
/* whether the manifest's text section lists a tokenizer.json */
bool wg_text_has_tokenizer(const wg_manifest *m);
typedef struct wg_text_prompt {
    const char *text;         /* the prompt itself, or NULL and */
    const char *file;         /* a file holding it */
    const char *name;         /* what an error about the prompt names ("--prompt", the file) */
    bool chat;                /* through the chat template, as one user message */
} wg_text_prompt;
/* The ids of the prompt (UTF-8 text): with the special tokens the tokenizer's post-processor
 * adds, or (chat) the chat template over one user message with add_generation_prompt. *ids
 * malloc'd (the caller frees), *n >= 1, each inside the program's vocabulary. WG_EINPUT naming
 * the bundle when it has no tokenizer or its tokenizer cannot make them (no chat template, a
 * text file failing its hash), naming p->name when the prompt is not UTF-8 or makes no
 * tokens; WG_EIO when the runner fails otherwise. */
int wg_text_encode(const char *dir, const wg_manifest *m, const wg_text_prompt *p, int timeout_s,
                   int32_t **ids, int *n, wg_error *err);
/* The text of the generated ids[0..n): up to the first EOS id (generation_config's, else
 * eos_token), special tokens skipped, as wgpack-text.js's generate() gives it. *out receives
 * {text, finish_reason: "eos"|"length", eos_at} (the caller decrefs). Errors as above. */
int wg_text_decode(const char *dir, const int32_t *ids, int n, int timeout_s, json_t **out,
                   wg_error *err);
#endif
