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
