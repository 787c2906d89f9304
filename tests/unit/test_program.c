/* tests/unit/test_program.c — the forward program (program/): its JSON section reads back to the
 * same program, and a template refuses what it does not implement (the interpreters' agreement
 * with transformers and with each other is in the end-to-end tests: e2e_zoo.sh, e2e_run.sh). */
#include "../../program/program.h"
#include "../../quant/quant.h"

#include <criterion/criterion.h>
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
    refused("models/tinyllama", "model_type", "\"mixtral\"", "no forward program for model type 'mixtral'");
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
