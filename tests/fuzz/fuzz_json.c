/* tests/fuzz/fuzz_json.c — the JSON readers: a bundle manifest (verify-bundle; its program, when
 * it checks, run by the C interpreter on zero weights), a
 * classification rules file applied to a small fixed model, and a quantization recipe (the
 * first byte picks). */
#include "fuzz_common.h"
#include "../../pack/pack.h"
#include "../../convert/plan_cli.h"
#include "../../program/program.h"

/* a program that checks is run by the C interpreter on zero weights of the sizes the manifest
 * gives: whatever the section says, the interpreter must stay inside its buffers */
static float *zeros(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    const wg_man_tensor *t = wg_manifest_tensor(ctx, name);
    if (!t || t->rows * t->K > (1 << 22))
        return NULL;
    *rows = t->rows;
    *K = t->K;
    return calloc((size_t)(t->rows * t->K) + 1, sizeof(float));
}

static void run_program(const char *dir)
{
    wg_manifest m;
    wg_error err = {0};
    if (wg_manifest_read(dir, &m, &err))
        return;
    int64_t w = m.program ? wg_prog_out_width(m.program) : 0;
    if (w > 0 && w < (1 << 20) && m.program->vocab > 0) {
        int32_t ids[3] = {0, 1 % (int32_t)m.program->vocab, 0};
        float *out = malloc(sizeof(float) * 3 * (size_t)w);
        wg_pinputs in = {.n = 3, .input_ids = ids};
        if (out)
            wg_prog_run(m.program, zeros, &m, &in, out, 1, &err);
        free(out);
    }
    wg_manifest_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (!n)
        return 0;
    if (data[0] % 3 == 2) {
        wg_plan_cli pc;
        wg_plan_cli_init(&pc);
        wg_plan_cli_option(&pc, OPT_RECIPE, fuzz_file("recipe.json", data + 1, n - 1), "fuzz");
        json_decref(pc.recipe);
        return 0;
    }
    if (data[0] & 1) {
        const char *mp = fuzz_file("manifest.json", data + 1, n - 1);
        char dir[512];
        snprintf(dir, sizeof dir, "%s", mp);
        *strrchr(dir, '/') = 0;
        int problems;
        json_t *rep = NULL;
        wg_error err = {0};
        wg_bundle_verify(dir, &problems, &rep, &err);
        json_decref(rep);
        run_program(dir);
    } else {
        static const uint8_t st[] = "\x48\0\0\0\0\0\0\0{\"model.layers.0.mlp.up_proj.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}\0\0\x80\x3f\0\0\0\x40";
        const char *model = fuzz_file("model.safetensors", st, sizeof st - 1);
        char mcopy[512];
        snprintf(mcopy, sizeof mcopy, "%s", model);
        wg_open_opts o = {.rules_path = fuzz_file("rules.json", data + 1, n - 1)};
        wg_model *m;
        wg_error err = {0};
        if (!wg_model_open(mcopy, &o, &m, &err))
            wg_model_free(m);
    }
    return 0;
}
