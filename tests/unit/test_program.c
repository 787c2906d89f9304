/* tests/unit/test_program.c — the forward program (program/): its C interpreter equals the
 * per-family reference passes it replaces to the last bit on their families, its JSON section
 * reads back to the same program, and every template refuses what it does not implement. */
#include "../../program/program.h"
#include "../../verify/verify.h"
#include "../../quant/quant.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *get_weight(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    const wg_model *m = ctx;
    const wg_tensor *t = wg_model_find(m, name);
    if (!t)
        return NULL;
    wg_tensor_matrix(t, rows, K);
    float *w = malloc(sizeof(float) * (size_t)(*rows * *K));
    if (w && !wg_read_rows(t, 0, *rows, w)) {
        free(w);
        return NULL;
    }
    return w;
}

static wg_model *open_model(const char *path)
{
    wg_model *m = NULL;
    wg_error e = {0};
    cr_assert_eq(wg_model_open(path, NULL, &m, &e), 0, "%s", e.msg);
    return m;
}

static wg_prog *build(const wg_model *m)
{
    char why[512] = "";
    wg_prog *p = wg_prog_build(m, why, sizeof why);
    cr_assert(p, "%s: %s", m->path, why);
    return p;
}

static void ids_of(int32_t *ids, int n, int vocab)
{
    for (int t = 0; t < n; t++)
        ids[t] = (int32_t)((t * 37 + 11) % vocab);
}

Test(program, llama_equals_the_llama_reference_bit_for_bit)
{
    wg_model *m = open_model("models/tinyllama");
    wg_prog *p = build(m);
    wg_llama lm;
    wg_error e = {0};
    cr_assert_eq(wg_llama_load(&lm, m, get_weight, m, &e), 0, "%s", e.msg);
    enum { N = 40 };
    int32_t ids[N];
    ids_of(ids, N, lm.vocab);
    float *a = malloc(sizeof(float) * N * lm.vocab), *b = malloc(sizeof(float) * N * lm.vocab);
    cr_assert_eq(wg_llama_forward(&lm, ids, N, a, 2), 0);
    wg_pinputs in = {N, ids, NULL, NULL};
    cr_assert_eq(wg_prog_run(p, get_weight, m, &in, b, 1, &e), 0, "%s", e.msg);
    cr_assert_eq(wg_prog_out_width(p), lm.vocab);
    cr_assert(!memcmp(a, b, sizeof(float) * N * lm.vocab), "logits differ from verify/llama.c");
    free(a);
    free(b);
    wg_llama_free(&lm);
    wg_prog_free(p);
    wg_model_free(m);
}

Test(program, bert_equals_the_bert_reference_bit_for_bit)
{
    wg_model *m = open_model("models/tinybert");
    wg_prog *p = build(m);
    wg_bert bt;
    wg_error e = {0};
    cr_assert_eq(wg_bert_load(&bt, m, get_weight, m, &e), 0, "%s", e.msg);
    enum { N = 30 };
    int32_t ids[N], mask[N];
    ids_of(ids, N, bt.vocab);
    for (int t = 0; t < N; t++)
        mask[t] = t < 25;
    size_t sz = sizeof(float) * N * (size_t)bt.hidden;
    float *a = malloc(sz), *b = malloc(sz);
    cr_assert_eq(wg_bert_forward(&bt, ids, NULL, mask, N, a, 2), 0);
    wg_pinputs in = {N, ids, NULL, mask};
    cr_assert_eq(wg_prog_run(p, get_weight, m, &in, b, 1, &e), 0, "%s", e.msg);
    cr_assert(!memcmp(a, b, sz), "hidden states differ from verify/bert.c");
    free(a);
    free(b);
    wg_bert_free(&bt);
    wg_prog_free(p);
    wg_model_free(m);
}

static bool dims_of(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    const wg_tensor *t = wg_model_find(ctx, name);
    if (t)
        wg_tensor_matrix(t, rows, K);
    return t != NULL;
}

Test(program, json_round_trip_is_the_same_program)
{
    const char *paths[] = {"models/tinyllama", "models/tinybert", "models/tinygpt2"};
    for (int i = 0; i < 3; i++) {
        wg_model *m = open_model(paths[i]);
        wg_prog *p = build(m);
        json_t *j = wg_prog_to_json(p);
        char why[512] = "";
        wg_prog *q = wg_prog_from_json(j, dims_of, m, why, sizeof why);
        cr_assert(q, "%s: %s", paths[i], why);
        json_t *k = wg_prog_to_json(q);
        char *s1 = json_dumps(j, JSON_COMPACT), *s2 = json_dumps(k, JSON_COMPACT);
        cr_assert_str_eq(s1, s2, "%s: the section does not read back to itself", paths[i]);
        free(s1);
        free(s2);
        json_decref(j);
        json_decref(k);
        wg_prog_free(p);
        wg_prog_free(q);
        wg_model_free(m);
    }
}
