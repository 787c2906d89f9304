/* tests/unit/test_bundle_ref.c — the reference of a bundle (verify/bundle_ref.c): built from the
 * manifest's program section and the stored shards, it must be the reference `wgpack verify`
 * runs for the same plan (the model's weights quantized and dequantized in memory), weight for
 * weight and logit for logit, bit for bit; and the tolerance helpers `wgpack run` decides by. */
#include "../../verify/verify.h"
#include "../../pack/pack.h"
#include "../../program/program.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct getter {
    const wg_model *m;
    const wg_plan_entry *plan;
} getter;

/* verify's weights: the tensor quantized in its planned format, then dequantized */
static float *quantized(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    const getter *g = ctx;
    const wg_tensor *t = wg_model_find(g->m, name);
    if (!t)
        return NULL;
    const wg_plan_entry *e = &g->plan[t - g->m->tensors];
    wg_tensor_matrix(t, rows, K);
    float *w = malloc(sizeof(float) * (size_t)(*rows * *K));
    uint8_t *buf = malloc(e->bytes + 1);
    wg_qopts o = {.search = true, .threads = 2};
    wg_error err = {0};
    cr_assert_eq(wg_quantize_tensor(t, e, &o, buf, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(wg_dequantize_tensor(e, buf, w), 0);
    free(buf);
    return w;
}

/* a bundle of `model` in the default (mixed) plan under a fresh directory (dir) */
static wg_model *bundle(const char *model, char *dir, size_t n, wg_plan_entry **plan)
{
    wg_model *m;
    wg_error err = {0};
    cr_assert_eq(wg_model_open(model, NULL, &m, &err), 0, "%s", err.msg);
    wg_plan_opts po;
    wg_plan_opts_default(&po);
    *plan = calloc(m->n_tensors, sizeof **plan);
    cr_assert_eq(wg_plan_preset(m, &po, *plan, &err), 0, "%s", err.msg);
    char tmpl[] = "/tmp/wg-bundle-ref-XXXXXX";
    cr_assert(mkdtemp(tmpl));
    snprintf(dir, n, "%s/b", tmpl);
    wg_pack_opts o = {.out_dir = dir, .shard_size = 1 << 20, .threads = 2, .search = true,
                      .version = "t"};
    wg_bundle_result r;
    cr_assert_eq(wg_bundle_build(m, *plan, &o, &r, &err), 0, "%s", err.msg);
    json_decref(r.manifest);
    return m;
}

/* a bundle of a model in the default (mixed) plan under a fresh directory, its manifest read */
typedef struct fixture {
    char dir[512];
    wg_model *m;
    wg_plan_entry *plan;
    wg_manifest man;
    getter g;
} fixture;

static void open_fixture(fixture *f, const char *model)
{
    wg_error err = {0};
    f->m = bundle(model, f->dir, sizeof f->dir, &f->plan);
    cr_assert_eq(wg_manifest_read(f->dir, &f->man, &err), 0, "%s", err.msg);
    f->g = (getter){f->m, f->plan};
}

static void close_fixture(fixture *f)
{
    char cmd[600];
    wg_manifest_free(&f->man);
    snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strrchr(f->dir, '/') - f->dir), f->dir);
    cr_assert_eq(system(cmd), 0);
    free(f->plan);
    wg_model_free(f->m);
}

static void same(const float *a, const float *b, size_t n, const char *what)
{
    cr_assert((a == NULL) == (b == NULL), "%s: present on one side only", what);
    if (a)
        cr_assert_eq(memcmp(a, b, n * sizeof *a), 0, "%s differs", what);
}

/* the program run on the bundle's stored weights equals the program run on the model's weights
 * quantized and dequantized in memory for the same plan, bit for bit */
static void same_as_verify(const char *model, int n)
{
    fixture f;
    open_fixture(&f, model);
    cr_assert(f.man.program, "%s: no program section", model);
    char why[512] = "";
    wg_prog *p = wg_prog_build(f.m, why, sizeof why);
    cr_assert(p, "%s", why);
    int32_t tok[64];
    for (int t = 0; t < n; t++)
        tok[t] = (int32_t)((t * 37 + 11) % p->vocab);
    size_t W = (size_t)wg_prog_out_width(p);
    cr_assert_eq(W, (size_t)wg_prog_out_width(f.man.program));
    float *za = malloc(sizeof(float) * (size_t)n * W), *zb = malloc(sizeof(float) * (size_t)n * W);
    wg_error err = {0};
    wg_pinputs in = {.n = n, .input_ids = tok};
    cr_assert_eq(wg_bundle_program_run(f.dir, &f.man, &in, za, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(wg_prog_run(p, quantized, &f.g, &in, zb, 2, &err), 0, "%s", err.msg);
    same(za, zb, (size_t)n * W, "outputs");
    free(za), free(zb);
    wg_prog_free(p);
    close_fixture(&f);
}

Test(bundle_ref, llama_is_verify_of_the_same_plan) { same_as_verify("models/tinyllama", 48); }
Test(bundle_ref, bert_is_verify_of_the_same_plan) { same_as_verify("models/tinybert", 40); }
Test(bundle_ref, gpt2_is_verify_of_the_same_plan) { same_as_verify("models/tinygpt2", 48); }

Test(bundle_ref, tolerance_helpers)
{
    float z[] = {1, 3, 3, 2.5f}, w[] = {1, 2.9f, 3, 2.5f}, u[] = {1, 3, 0, 5};
    cr_assert_eq(wg_argmax(z, 4), 1, "the first of equal maxima");
    cr_assert_float_eq(wg_top1_margin(z, 4), 0.0, 1e-12);
    cr_assert_float_eq(wg_top1_margin(w, 4), 0.1, 1e-6);
    /* rows: z and w differ at a tie (undecided), u leads by 2 (decided at tol < 1) */
    float ref[8], rt[8];
    memcpy(ref, z, sizeof z), memcpy(ref + 4, u, sizeof u);
    memcpy(rt, w, sizeof w), memcpy(rt + 4, z, sizeof z);
    cr_assert_eq(wg_decided_disagreements(ref, rt, 2, 4, 0.5), 1);
    cr_assert_eq(wg_decided_disagreements(ref, rt, 2, 4, 1.0), 0);
    cr_assert_float_eq(wg_f32_order_eps(4, 512, ldexp(1, -24)),
                       16.0 * 17 * sqrt(512.0) * ldexp(1, -24), 1e-18);
}
