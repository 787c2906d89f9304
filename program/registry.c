/* program/registry.c — model_type -> template: the one table that says which families run.
 * A model without a row, or whose template refuses its config, gets no program and a one-line
 * reason. */
#include "build.h"
#include "models/models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *model_type;
    wg_template_fn build;
} registry[] = {
    {"llama", wg_tpl_llama},     {"mistral", wg_tpl_llama},      {"qwen2", wg_tpl_llama},
    {"qwen3", wg_tpl_llama},     {"granite", wg_tpl_llama},      {"gemma", wg_tpl_gemma},
    {"gemma2", wg_tpl_gemma},    {"gemma3_text", wg_tpl_gemma},    {"phi3", wg_tpl_phi3},          {"olmo2", wg_tpl_olmo2},
    {"starcoder2", wg_tpl_starcoder2}, {"stablelm", wg_tpl_stablelm}, {"cohere", wg_tpl_cohere},
    {"gpt2", wg_tpl_gpt2},       {"gpt_bigcode", wg_tpl_gpt2},   {"gptj", wg_tpl_gptj},
    {"gpt_neox", wg_tpl_gpt_neox}, {"phi", wg_tpl_phi},           {"opt", wg_tpl_opt},
    {"bloom", wg_tpl_bloom},     {"mpt", wg_tpl_mpt},            {"falcon", wg_tpl_falcon},
    {"gpt_neo", wg_tpl_gpt_neo}, {"codegen", wg_tpl_codegen},    {"biogpt", wg_tpl_biogpt},
    {"olmo", wg_tpl_olmo},       {"bert", wg_tpl_bert},          {"roberta", wg_tpl_bert},
    {"xlm-roberta", wg_tpl_bert}, {"camembert", wg_tpl_bert},    {"electra", wg_tpl_bert},
    {"distilbert", wg_tpl_bert},   {"mpnet", wg_tpl_bert},         {"albert", wg_tpl_albert},
    {"modernbert", wg_tpl_modernbert}, {"vit", wg_tpl_vit},       {"deit", wg_tpl_vit},
    {"mixtral", wg_tpl_mixtral},   {"qwen2_moe", wg_tpl_qwen2_moe}, {"qwen3_moe", wg_tpl_qwen2_moe},
    {"olmoe", wg_tpl_olmoe},
};

wg_prog *wg_prog_build(const wg_model *m, char *why, size_t nwhy)
{
    const char *mt = m->config.present ? m->config.model_type : "";
    wg_template_fn fn = NULL;
    for (size_t i = 0; i < sizeof registry / sizeof *registry && !fn; i++)
        if (!strcmp(registry[i].model_type, mt))
            fn = registry[i].build;
    if (!fn) {
        char list[512] = "";
        for (size_t i = 0; i < sizeof registry / sizeof *registry; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     registry[i].model_type);
        snprintf(why, nwhy, "no forward program for model type '%s' (family %s): programs exist for %s",
                 *mt ? mt : "none", m->family, list);
        return NULL;
    }
    json_error_t je;
    json_t *cfg = json_load_file(m->config.path, JSON_REJECT_DUPLICATES, &je);
    wg_prog *p = calloc(1, sizeof *p);
    if (!cfg || !p) {
        snprintf(why, nwhy, "%s: cannot read config.json", m->config.path);
        json_decref(cfg);
        free(p);
        return NULL;
    }
    snprintf(p->model_type, sizeof p->model_type, "%s", mt);
    p->max_positions = m->config.max_positions;
    wg_pbuild b = {.p = p, .m = m, .cfg = cfg, .why = why, .nwhy = nwhy};
    fn(&b);
    if (PB_OK(&b))
        pb_check_unclaimed(&b);
    if (PB_OK(&b) && wg_prog_check(p, why, nwhy))
        b.failed = true;
    json_decref(cfg);
    if (!PB_OK(&b)) {
        wg_prog_free(p);
        return NULL;
    }
    return p;
}
