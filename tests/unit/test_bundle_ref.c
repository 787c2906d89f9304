/* tests/unit/test_bundle_ref.c — the reference of a bundle (verify/bundle_ref.c): built from the
 * manifest's forward section and the stored shards, it must be the reference `wgpack verify`
 * runs for the same plan (the model's weights quantized and dequantized in memory), weight for
 * weight and logit for logit, bit for bit; and the tolerance helpers `wgpack run` decides by. */
#include "../../verify/verify.h"
#include "../../pack/pack.h"

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

Test(bundle_ref, llama_is_verify_of_the_same_plan)
{
    fixture f;
    open_fixture(&f, "models/tinyllama");
    cr_assert(f.man.forward && f.man.forward->arch == WG_FWD_LLAMA);
    wg_llama a, b;
    wg_error err = {0};
    cr_assert_eq(wg_llama_from_forward(&a, f.dir, &f.man, &err), 0, "%s", err.msg);
    cr_assert_eq(wg_llama_load(&b, f.m, quantized, &f.g, &err), 0, "%s", err.msg);
    cr_assert(a.layers == b.layers && a.hidden == b.hidden && a.kv_heads == b.kv_heads &&
              a.head_dim == b.head_dim && a.inter == b.inter && a.vocab == b.vocab &&
              a.eps == b.eps && a.theta == b.theta);
    size_t H = (size_t)a.hidden, V = (size_t)a.vocab, Q = (size_t)a.heads * a.head_dim,
           KV = (size_t)a.kv_heads * a.head_dim, I = (size_t)a.inter;
    same(a.embed, b.embed, V * H, "embed");
    same(a.head, b.head, V * H, "head");
    same(a.final_norm, b.final_norm, H, "final_norm");
    for (int i = 0; i < a.layers; i++) {
        const struct wg_llama_layer *x = &a.l[i], *y = &b.l[i];
        same(x->wq, y->wq, Q * H, "wq"), same(x->wk, y->wk, KV * H, "wk");
        same(x->wv, y->wv, KV * H, "wv"), same(x->wo, y->wo, H * Q, "wo");
        same(x->gate, y->gate, I * H, "gate"), same(x->up, y->up, I * H, "up");
        same(x->down, y->down, H * I, "down"), same(x->bq, y->bq, Q, "bq");
        same(x->in_norm, y->in_norm, H, "in_norm"), same(x->post_norm, y->post_norm, H, "post_norm");
    }
    int32_t tok[48];
    for (int t = 0; t < 48; t++)
        tok[t] = (t * 37 + 11) % a.vocab;
    float *za = malloc(sizeof(float) * 48 * V), *zb = malloc(sizeof(float) * 48 * V);
    cr_assert_eq(wg_llama_forward(&a, tok, 48, za, 1), 0);
    cr_assert_eq(wg_llama_forward(&b, tok, 48, zb, 2), 0);
    same(za, zb, 48 * V, "logits");
    free(za), free(zb);
    wg_llama_free(&a), wg_llama_free(&b);
    close_fixture(&f);
}

Test(bundle_ref, bert_is_verify_of_the_same_plan)
{
    fixture f;
    open_fixture(&f, "models/tinybert");
    wg_bert a, b;
    wg_error err = {0};
    cr_assert_eq(wg_bert_from_forward(&a, f.dir, &f.man, &err), 0, "%s", err.msg);
    cr_assert_eq(wg_bert_load(&b, f.m, quantized, &f.g, &err), 0, "%s", err.msg);
    cr_assert(a.kind == b.kind && a.act == b.act && a.pad_id == b.pad_id && a.max_pos == b.max_pos &&
              a.type_vocab == b.type_vocab && a.eps == b.eps && a.inter == b.inter);
    int32_t ids[40];
    for (int t = 0; t < 40; t++)
        ids[t] = (t * 53 + 7) % a.vocab;
    size_t H = (size_t)a.hidden;
    float *ha = malloc(sizeof(float) * 40 * H), *hb = malloc(sizeof(float) * 40 * H);
    cr_assert_eq(wg_bert_forward(&a, ids, NULL, NULL, 40, ha, 1), 0);
    cr_assert_eq(wg_bert_forward(&b, ids, NULL, NULL, 40, hb, 2), 0);
    same(ha, hb, 40 * H, "last hidden state");
    /* a llama constructor refuses an encoder's section */
    wg_llama lm;
    cr_assert_eq(wg_llama_from_forward(&lm, f.dir, &f.man, &err), WG_EINPUT);
    free(ha), free(hb);
    wg_bert_free(&a), wg_bert_free(&b);
    close_fixture(&f);
}

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
