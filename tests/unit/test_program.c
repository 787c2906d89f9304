/* tests/unit/test_program.c — the forward program (program/): its JSON section reads back to the
 * same program, and a template refuses what it does not implement (the interpreters' agreement
 * with transformers and with each other is in the end-to-end tests: e2e_zoo.sh, e2e_run.sh). */
#include "../../program/program.h"
#include "../../quant/quant.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* what a template does not implement is refused by name, never run as something else */
static void refused(const char *model, const char *key, const char *value, const char *msg)
{
    char dir[] = "/tmp/wg-prog-XXXXXX", cmd[512];
    cr_assert(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cp %s/* %s/ && node -e 'const f=process.argv[1],c=require(f);"
             "c[process.argv[2]]=JSON.parse(process.argv[3]);require(\"fs\").writeFileSync(f,JSON.stringify(c))'"
             " %s/config.json %s '%s'", model, dir, dir, key, value);
    cr_assert_eq(system(cmd), 0);
    wg_model *m = open_model(dir);
    char why[512] = "";
    wg_prog *p = wg_prog_build(m, why, sizeof why);
    cr_assert_null(p, "%s=%s built a program", key, value);
    cr_assert(strstr(why, msg), "%s=%s: '%s' does not say '%s'", key, value, why, msg);
    wg_model_free(m);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(program, config_values_not_implemented_are_refused)
{
    refused("models/tinyllama", "rope_scaling", "{\"rope_type\":\"yarn\",\"factor\":4}", "'yarn' is not implemented");
    refused("models/tinyllama", "hidden_act", "\"swishglu\"", "hidden_act \"swishglu\" is not implemented");
    refused("models/tinyllama", "rope_theta", "0", "rope_theta 0 is out of range");
    refused("models/tinyllama", "rms_norm_eps", "0", "epsilon 0 is out of range");
    refused("models/tinyllama", "num_local_experts", "8", "num_local_experts = 8 is not implemented by the llama program");
    refused("models/tinyllama", "alibi", "true", "alibi = true is not implemented");
    refused("models/tinyllama", "layer_types", "[\"x\",\"y\",\"z\",\"w\"]", "not implemented");
    refused("models/tinyllama", "model_type", "\"phimoe\"", "no forward program for model type 'phimoe'");
    refused("models/tinybert", "position_embedding_type", "\"relative_key\"", "position_embedding_type = \"relative_key\"");
    refused("models/tinygpt2", "scale_attn_by_inverse_layer_idx", "true", "scale_attn_by_inverse_layer_idx");
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

/* the encoder checkpoints of the role zoo (tests/zoo/zoo.tar.zst), unpacked once per test */
static const char *zoo_model(const char *name, char *dir, size_t n)
{
    char tmp[] = "/tmp/wg-prog-zoo-XXXXXX", cmd[512];
    cr_assert(mkdtemp(tmp));
    snprintf(cmd, sizeof cmd, "zstd -dcq tests/zoo/zoo.tar.zst | tar -xf - -C %s zoo/%s", tmp, name);
    cr_assert_eq(system(cmd), 0);
    snprintf(dir, n, "%s/zoo/%s", tmp, name);
    return dir;
}

/* removes what zoo_model unpacked */
static void zoo_drop(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %.*s", (int)(strstr(dir, "/zoo/") - dir), dir);
    cr_assert_eq(system(cmd), 0);
}

static void zoo_refused(const char *name, const char *key, const char *value, const char *msg)
{
    char dir[256];
    refused(zoo_model(name, dir, sizeof dir), key, value, msg);
    zoo_drop(dir);
}

Test(program, encoder_families_refuse_what_they_do_not_implement)
{
    zoo_refused("modernbert", "layer_types", "[\"full_attention\",\"full_attention\"]",
                "layer_types[1] \"full_attention\" differs from global_attn_every_n_layers'");
    zoo_refused("modernbert", "rope_parameters",
                "{\"full_attention\":{\"rope_type\":\"linear\",\"factor\":2,\"rope_theta\":1e4}}",
                "rope_parameters.full_attention.rope_type is not implemented");
    zoo_refused("modernbert", "rope_scaling", "{\"rope_type\":\"linear\",\"factor\":2}",
                "rope_scaling = {\"rope_type\":\"linear\",\"factor\":2} is not implemented by the modernbert program");
    zoo_refused("modernbert", "head_dim", "8", "head_dim is not hidden_size");
    zoo_refused("modernbert", "local_attention", "1", "local_attention 1 is not implemented");
    zoo_refused("modernbert", "hidden_activation", "\"geglu_x\"", "hidden_activation \"geglu_x\" is not implemented");
    zoo_refused("mpnet", "relative_attention_num_buckets", "16", "HF's MPNet indexes 32 buckets");
    zoo_refused("albert", "num_hidden_groups", "0", "num_hidden_groups missing or not positive");
    zoo_refused("albert", "hidden_act", "\"mish\"", "hidden_act \"mish\" is not implemented");
}

/* the sections of the encoders with tables of their own (rope_local, relative_buckets) read back
 * to themselves; existing families carry neither key */
Test(program, encoder_tables_round_trip)
{
    const char *names[] = {"albert", "modernbert", "mpnet"};
    for (int i = 0; i < 3; i++) {
        char dir[256];
        wg_model *m = open_model(zoo_model(names[i], dir, sizeof dir));
        wg_prog *p = build(m);
        json_t *j = wg_prog_to_json(p);
        char why[512] = "";
        wg_prog *q = wg_prog_from_json(j, dims_of, m, why, sizeof why);
        cr_assert(q, "%s: %s", names[i], why);
        json_t *k = wg_prog_to_json(q);
        char *s1 = json_dumps(j, JSON_COMPACT), *s2 = json_dumps(k, JSON_COMPACT);
        cr_assert_str_eq(s1, s2, "%s: the section does not read back to itself", names[i]);
        cr_assert_eq(!!json_object_get(j, "rope_local"), i == 1);
        cr_assert_eq(!!json_object_get(j, "relative_buckets"), i == 2);
        free(s1);
        free(s2);
        json_decref(j);
        json_decref(k);
        wg_prog_free(p);
        wg_prog_free(q);
        wg_model_free(m);
        zoo_drop(dir);
    }
}

/* MPNet's buckets (HF relative_position_bucket, 32 buckets, max_distance 128) at worked points:
 * n = query - key; n > 0 the lower half, n < 0 the upper; |n| < 8 exact, else
 * 8 + int(log(|n| / 8) / log(16) * 8), at most 15 (16 = 8 + 2 and 64 = 8 + 6 exactly) */
Test(program, mpnet_relative_buckets_test_vectors)
{
    char dir[256];
    wg_model *m = open_model(zoo_model("mpnet", dir, sizeof dir));
    wg_prog *p = build(m);
    cr_assert_eq(p->rel_max, 128);
    static const struct { int d, bucket; } v[] = {
        {0, 0}, {-1, 1}, {1, 17}, {-7, 7}, {7, 23}, {-8, 8}, {8, 24}, {-11, 8}, {-12, 9}, {-15, 9},
        {-16, 10}, {16, 26}, {-31, 11}, {-32, 12}, {-63, 13}, {-64, 14}, {64, 30}, {-90, 14},
        {-91, 15}, {-128, 15}, {128, 31}};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        cr_assert_eq(p->rel_bucket[v[i].d + 128], v[i].bucket, "distance %d: bucket %d, not %d", v[i].d,
                     p->rel_bucket[v[i].d + 128], v[i].bucket);
    wg_prog_free(p);
    wg_model_free(m);
    zoo_drop(dir);
}

/* ---- the mixture-of-experts ops alone (program/ops.c's references) ---- */

/* router logits of four tokens over 4 experts: ties (all equal; two equal largest), distinct */
static const float moe_logits[4][4] = {{0, 0, 0, 0}, {1, 3, 2, 3}, {2, 1, 0, -1}, {-1, 0.5f, 4, 0.25f}};

static bool moe_dims(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    (void)ctx;
    *rows = 4;
    *K = 4;
    return !strcmp(name, "table");
}

static float *moe_weight(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    (void)ctx;
    (void)name;
    float *w = malloc(sizeof moe_logits);
    memcpy(w, moe_logits, sizeof moe_logits);
    *rows = *K = 4;
    return w;
}

/* logits = table[input_ids]; w = route(logits) (k 2, renormalised when norm); y = w[:,3] * logits
 * + w[:,1] * logits: the program's output (y, or w when out_w) */
static void moe_run(bool norm, bool out_w, float out[4][4])
{
    char txt[2048];
    snprintf(txt, sizeof txt,
             "{\"version\":1,\"model_type\":\"t\",\"task\":\"causal-lm\",\"outputs\":{\"logits\":\"%s\"},"
             "\"vocab\":4,\"hidden\":4,\"max_positions\":8,\"position_ids\":{\"rule\":\"arange\",\"offset\":0,"
             "\"pad_id\":0},\"rope\":null,\"values\":[{\"name\":\"table\",\"kind\":\"weight\",\"width\":16,"
             "\"rows\":4},{\"name\":\"input_ids\",\"kind\":\"input\",\"width\":1},{\"name\":\"l\",\"kind\":"
             "\"act\",\"width\":4},{\"name\":\"w\",\"kind\":\"act\",\"width\":4},{\"name\":\"y\",\"kind\":"
             "\"act\",\"width\":4}],\"stages\":[{\"name\":\"embed\",\"ops\":["
             "{\"op\":\"gather\",\"args\":{\"table\":\"table\",\"index\":\"input_ids\",\"y\":\"l\"},\"fields\":{}},"
             "{\"op\":\"moe_router\",\"args\":{\"logits\":\"l\",\"weights\":\"w\"},\"fields\":{\"n\":\"S\","
             "\"E\":4,\"k\":2,\"norm\":%d}},"
             "{\"op\":\"moe_add\",\"args\":{\"y\":\"y\",\"w\":\"w\",\"x\":\"l\"},\"fields\":{\"count\":\"S*4\","
             "\"H\":4,\"E\":4,\"e\":3,\"accumulate\":0}},"
             "{\"op\":\"moe_add\",\"args\":{\"y\":\"y\",\"w\":\"w\",\"x\":\"l\"},\"fields\":{\"count\":\"S*4\","
             "\"H\":4,\"E\":4,\"e\":1,\"accumulate\":1}}]}]}",
             out_w ? "w" : "y", norm);
    json_error_t je;
    json_t *j = json_loads(txt, 0, &je);
    cr_assert(j, "%s", je.text);
    char why[512] = "";
    wg_prog *p = wg_prog_from_json(j, moe_dims, NULL, why, sizeof why);
    cr_assert(p, "%s", why);
    cr_assert_eq(wg_prog_check(p, why, sizeof why), 0, "%s", why);
    int32_t ids[4] = {0, 1, 2, 3};
    wg_pinputs in = {.n = 4, .input_ids = ids};
    wg_error err = {0};
    cr_assert_eq(wg_prog_run(p, moe_weight, NULL, &in, &out[0][0], 1, &err), 0, "%s", err.msg);
    wg_prog_free(p);
    json_decref(j);
}

/* among equal weights the lower expert index is kept (torch.topk leaves its choice unspecified:
 * program/ops.c); the k kept weights are the softmax's, or over their sum; the others exactly 0 */
Test(program, moe_router_ties_and_renormalisation)
{
    float w[4][4], wn[4][4];
    moe_run(false, true, w);
    moe_run(true, true, wn);
    static const int chosen[4][2] = {{0, 1}, {1, 3}, {0, 1}, {1, 2}};
    for (int t = 0; t < 4; t++) {
        double sum = 0, p[4];
        for (int e = 0; e < 4; e++)
            sum += exp(moe_logits[t][e]);
        for (int e = 0; e < 4; e++)
            p[e] = exp(moe_logits[t][e]) / sum;
        double kept = p[chosen[t][0]] + p[chosen[t][1]];
        for (int e = 0; e < 4; e++) {
            bool on = e == chosen[t][0] || e == chosen[t][1];
            cr_assert_float_eq(w[t][e], on ? p[e] : 0.0, 1e-7, "token %d expert %d: %g", t, e, w[t][e]);
            cr_assert_float_eq(wn[t][e], on ? p[e] / kept : 0.0, 1e-7, "token %d expert %d: %g", t, e, wn[t][e]);
            if (!on)
                cr_assert(w[t][e] == 0 && wn[t][e] == 0);
        }
    }
    cr_assert(wn[0][0] == 0.5f && wn[0][1] == 0.5f && wn[1][1] == 0.5f && wn[1][3] == 0.5f);
}

/* y = w[:,3] * l, then += w[:,1] * l: an expert of weight 0 leaves y as it was (or 0) */
Test(program, moe_add_sums_weighted_experts_in_order)
{
    float w[4][4], y[4][4];
    moe_run(true, true, w);
    moe_run(true, false, y);
    for (int t = 0; t < 4; t++)
        for (int j = 0; j < 4; j++) {
            float a = w[t][3] != 0 ? w[t][3] * moe_logits[t][j] : 0.0f;
            float want = w[t][1] != 0 ? a + w[t][1] * moe_logits[t][j] : a;
            cr_assert(y[t][j] == want, "token %d column %d: %g, not %g", t, j, y[t][j], want);
        }
    cr_assert(y[2][0] == w[2][1] * 2.0f && y[0][0] == 0.0f); /* token 2: expert 3 unchosen */
}
