/* tests/unit/test_roles.c — classification on small in-memory tensor tables: roles from
 * structure when names are unknown, names refining matrices, families and architecture classes
 * from the config, components from the name tree, graph constants kept apart. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../formats/model.h"
#include "../../formats/model_internal.h"

typedef struct spec {
    const char *name;
    wg_dtype dtype;
    int ndim;
    int64_t shape[4];
} spec;

/* A safetensors-like model of the given tensors (no data), optionally with a config. */
static wg_model *table(const spec *s, size_t n, const wg_hfconfig *cfg)
{
    wg_model *m = calloc(1, sizeof *m);
    cr_assert(m && (m->in = calloc(1, sizeof *m->in)));
    m->kind = WG_IN_SAFETENSORS;
    if (cfg)
        m->config = *cfg;
    wg_error e = {0};
    for (size_t i = 0; i < n; i++) {
        wg_tensor *t = wg_model_add(m, s[i].name, &e);
        cr_assert(t);
        t->dtype = s[i].dtype;
        t->ndim = s[i].ndim;
        memcpy(t->shape, s[i].shape, sizeof s[i].shape);
        cr_assert(wg_shape_numel(t->shape, t->ndim, &t->numel));
        cr_assert(wg_dtype_bytes(t->dtype, t->numel, &t->nbytes) || !t->numel);
    }
    cr_assert_eq(wg_classify(m, NULL, &e), 0, "%s", e.msg);
    return m;
}

static const wg_tensor *get(const wg_model *m, const char *name)
{
    const wg_tensor *t = wg_model_find(m, name);
    cr_assert(t, "no tensor %s", name);
    return t;
}

static void expect(const wg_model *m, const char *name, const char *role, const char *component)
{
    const wg_tensor *t = get(m, name);
    cr_expect_str_eq(wg_role_name(t->role), role, "%s: role", name);
    if (component)
        cr_expect_str_eq(t->component, component, "%s: component", name);
}

static wg_hfconfig config(const char *model_type, const char *arch)
{
    wg_hfconfig c = {.present = true, .is_encoder_decoder = -1, .tie_word_embeddings = -1};
    snprintf(c.model_type, sizeof c.model_type, "%s", model_type);
    snprintf(c.architecture, sizeof c.architecture, "%s", arch);
    return c;
}

#define F16 WG_DT_F16
Test(roles, unknown_names_are_matrices_not_other)
{
    /* DistilBERT-style names no naming family knows */
    static const spec s[] = {
        {"distilbert.embeddings.word_embeddings.weight", F16, 2, {80, 32}},
        {"distilbert.transformer.layer.0.attention.q_lin.weight", F16, 2, {32, 32}},
        {"distilbert.transformer.layer.0.attention.out_lin.weight", F16, 2, {32, 32}},
        {"distilbert.transformer.layer.0.attention.out_lin.bias", F16, 1, {32}},
        {"distilbert.transformer.layer.0.ffn.lin1.weight", F16, 2, {64, 32}},
        {"distilbert.transformer.layer.0.ffn.lin2.weight", F16, 2, {32, 64}},
        {"distilbert.transformer.layer.0.sa_layer_norm.weight", F16, 1, {32}},
        {"distilbert.transformer.layer.0.mystery.weight", F16, 2, {32, 32}},
        {"stem.1.weight", F16, 1, {32}}, /* a norm in a Sequential: 1-D weight */
        {"stem.1.bias", F16, 1, {32}},
        {"stem.0.weight", F16, 4, {32, 3, 3, 3}},
    };
    wg_hfconfig c = config("distilbert", "DistilBertForMaskedLM");
    wg_model *m = table(s, sizeof s / sizeof *s, &c);
    cr_expect_str_eq(m->family, "distilbert");
    cr_expect_str_eq(m->arch, "encoder");
    expect(m, "distilbert.embeddings.word_embeddings.weight", "embedding", "embeddings");
    expect(m, "distilbert.transformer.layer.0.attention.q_lin.weight", "attn_q", "text_encoder");
    expect(m, "distilbert.transformer.layer.0.attention.out_lin.weight", "attn_out", NULL);
    expect(m, "distilbert.transformer.layer.0.attention.out_lin.bias", "bias", NULL);
    expect(m, "distilbert.transformer.layer.0.ffn.lin1.weight", "ffn_up", NULL);
    expect(m, "distilbert.transformer.layer.0.ffn.lin2.weight", "ffn_down", NULL);
    expect(m, "distilbert.transformer.layer.0.sa_layer_norm.weight", "norm", NULL);
    expect(m, "distilbert.transformer.layer.0.mystery.weight", "linear", NULL);
    expect(m, "stem.1.weight", "norm", NULL);
    expect(m, "stem.1.bias", "norm", NULL);
    expect(m, "stem.0.weight", "conv", NULL);
    cr_expect_eq(get(m, "distilbert.transformer.layer.0.ffn.lin1.weight")->layer, 0);
    wg_model_free(m);
}

Test(roles, bart_is_a_text_encoder_decoder_not_whisper)
{
    static const spec s[] = {
        {"model.shared.weight", F16, 2, {80, 32}},
        {"model.encoder.embed_positions.weight", F16, 2, {34, 32}},
        {"model.encoder.layers.0.self_attn.q_proj.weight", F16, 2, {32, 32}},
        {"model.encoder.layers.0.fc1.weight", F16, 2, {64, 32}},
        {"model.decoder.layers.0.encoder_attn.k_proj.weight", F16, 2, {32, 32}},
        {"model.decoder.layers.0.fc2.weight", F16, 2, {32, 64}},
        {"model.decoder.layer_norm.weight", F16, 1, {32}},
        {"final_logits_bias", F16, 2, {1, 80}},
    };
    wg_hfconfig c = config("bart", "BartForConditionalGeneration");
    c.is_encoder_decoder = 1;
    wg_model *m = table(s, sizeof s / sizeof *s, &c);
    cr_expect_str_eq(m->family, "bart");
    cr_expect_str_eq(m->arch, "encoder-decoder");
    cr_expect_str_eq(m->rule_set, "generic");
    expect(m, "model.shared.weight", "embedding", "embeddings");
    expect(m, "model.encoder.embed_positions.weight", "pos_embedding", "embeddings");
    expect(m, "model.encoder.layers.0.self_attn.q_proj.weight", "attn_q", "text_encoder");
    expect(m, "model.encoder.layers.0.fc1.weight", "ffn_up", "text_encoder");
    expect(m, "model.decoder.layers.0.encoder_attn.k_proj.weight", "attn_k", "decoder");
    expect(m, "model.decoder.layers.0.fc2.weight", "ffn_down", "decoder");
    expect(m, "model.decoder.layer_norm.weight", "norm", "head");
    expect(m, "final_logits_bias", "bias", "head");
    wg_model_free(m);
}

Test(roles, audio_and_vision_models_have_no_decoder)
{
    static const spec a[] = {
        {"wav2vec2.feature_extractor.conv_layers.0.conv.weight", F16, 3, {16, 1, 10}},
        {"wav2vec2.encoder.layers.0.feed_forward.intermediate_dense.weight", F16, 2, {64, 32}},
        {"wav2vec2.encoder.layers.0.attention.q_proj.weight", F16, 2, {32, 32}},
        {"wav2vec2.masked_spec_embed", F16, 1, {32}},
        {"lm_head.weight", F16, 2, {32, 32}},
    };
    wg_hfconfig c = config("wav2vec2", "Wav2Vec2ForCTC");
    c.hints = WG_HINT_AUDIO;
    wg_model *m = table(a, sizeof a / sizeof *a, &c);
    cr_expect_str_eq(m->arch, "audio");
    expect(m, "wav2vec2.feature_extractor.conv_layers.0.conv.weight", "conv", "audio_encoder");
    expect(m, "wav2vec2.encoder.layers.0.feed_forward.intermediate_dense.weight", "ffn_up",
           "audio_encoder");
    expect(m, "wav2vec2.masked_spec_embed", "embedding", "audio_encoder");
    expect(m, "lm_head.weight", "head", "head");
    wg_model_free(m);

    static const spec v[] = { /* no config: the name tree says vision */
        {"vit.embeddings.cls_token", F16, 3, {1, 1, 32}},
        {"vit.embeddings.position_embeddings", F16, 3, {1, 17, 32}},
        {"vit.embeddings.patch_embeddings.projection.weight", F16, 4, {32, 3, 8, 8}},
        {"vit.layers.0.attention.q_proj.weight", F16, 2, {32, 32}},
        {"vit.layers.0.mlp.fc1.weight", F16, 2, {64, 32}},
        {"vit.layernorm.weight", F16, 1, {32}},
        {"classifier.weight", F16, 2, {3, 32}},
    };
    m = table(v, sizeof v / sizeof *v, NULL);
    cr_expect_str_eq(m->arch, "vision");
    cr_expect_str_eq(m->family, "vit"); /* no config: ViT's own names cover its matrices */
    expect(m, "vit.embeddings.cls_token", "pos_embedding", "vision_encoder");
    expect(m, "vit.embeddings.position_embeddings", "pos_embedding", "vision_encoder");
    expect(m, "vit.embeddings.patch_embeddings.projection.weight", "conv", "vision_encoder");
    expect(m, "vit.layers.0.attention.q_proj.weight", "attn_q", "vision_encoder");
    expect(m, "vit.layernorm.weight", "norm", "vision_encoder");
    expect(m, "classifier.weight", "head", "head");
    for (size_t i = 0; i < m->n_tensors; i++)
        cr_expect_str_neq(m->tensors[i].component, "decoder", "%s", m->tensors[i].name);
    wg_model_free(m);
}

Test(roles, moe_experts_routers_and_shared_experts)
{
    static const spec s[] = {
        {"model.layers.0.mlp.gate.weight", F16, 2, {4, 32}},
        {"model.layers.0.mlp.experts.gate_up_proj", F16, 3, {4, 64, 32}},
        {"model.layers.0.mlp.experts.down_proj", F16, 3, {4, 32, 32}},
        {"model.layers.0.mlp.experts.1.w2.weight", F16, 2, {32, 32}},
        {"model.layers.0.mlp.shared_expert.up_proj.weight", F16, 2, {32, 32}},
        {"model.layers.0.mlp.shared_expert_gate.weight", F16, 2, {1, 32}},
        {"model.layers.0.block_sparse_moe.input_linear.weight", F16, 3, {4, 64, 32}},
    };
    wg_hfconfig c = config("qwen2_moe", "Qwen2MoeForCausalLM");
    wg_model *m = table(s, sizeof s / sizeof *s, &c);
    cr_expect_str_eq(m->arch, "decoder");
    expect(m, "model.layers.0.mlp.gate.weight", "linear", "decoder");
    expect(m, "model.layers.0.mlp.experts.gate_up_proj", "ffn_up", NULL);
    expect(m, "model.layers.0.mlp.experts.down_proj", "ffn_down", NULL);
    expect(m, "model.layers.0.mlp.experts.1.w2.weight", "ffn_down", NULL);
    expect(m, "model.layers.0.mlp.shared_expert.up_proj.weight", "ffn_up", NULL);
    expect(m, "model.layers.0.mlp.shared_expert_gate.weight", "linear", NULL);
    expect(m, "model.layers.0.block_sparse_moe.input_linear.weight", "ffn_up", NULL);
    wg_model_free(m);
}

Test(roles, constants_and_stray_matches)
{
    /* one tensor named like Llama among convolutions does not make a Llama */
    static const spec s[] = {
        {"backbone.conv1.weight", F16, 4, {16, 3, 3, 3}},
        {"backbone.conv2.weight", F16, 4, {16, 16, 3, 3}},
        {"backbone.conv3.weight", F16, 4, {16, 16, 3, 3}},
        {"model.norm.weight", F16, 1, {16}},
        {"backbone.bn1.num_batches_tracked", WG_DT_I64, 0, {0}},
        {"backbone.relative_position_index", WG_DT_I64, 2, {16, 16}},
        {"model.layers.0.self_attn.rotary_emb.inv_freq", WG_DT_F32, 1, {8}},
    };
    wg_model *m = table(s, sizeof s / sizeof *s, NULL);
    cr_expect_str_eq(m->family, "generic");
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_tensor *t = &m->tensors[i];
        bool want = i >= 4;
        cr_expect_eq(t->constant, want, "%s", t->name);
        if (want)
            cr_expect_eq(t->role, WG_ROLE_OTHER, "%s", t->name);
        else
            cr_expect_str_neq(t->component, "decoder", "%s", t->name);
    }
    wg_model_free(m);
}

Test(roles, family_is_the_model_type_and_llama_rows_still_apply)
{
    static const spec s[] = {
        {"model.embed_tokens.weight", F16, 2, {80, 32}},
        {"model.layers.0.self_attn.q_proj.weight", F16, 2, {32, 32}},
        {"model.norm.weight", F16, 1, {32}},
        {"lm_head.weight", F16, 2, {80, 32}},
    };
    wg_hfconfig c = config("mistral", "MistralForCausalLM");
    wg_model *m = table(s, sizeof s / sizeof *s, &c);
    cr_expect_str_eq(m->family, "mistral");
    cr_expect_str_eq(m->rule_set, "llama");
    expect(m, "model.embed_tokens.weight", "embedding", "embeddings");
    expect(m, "model.layers.0.self_attn.q_proj.weight", "attn_q", "decoder");
    expect(m, "model.norm.weight", "norm", "head");
    expect(m, "lm_head.weight", "head", "head");
    wg_model_free(m);
    /* a model_type nobody has heard of is still its family, never "generic" or another's */
    c = config("brand_new_lm", "BrandNewForCausalLM");
    m = table(s, sizeof s / sizeof *s, &c);
    cr_expect_str_eq(m->family, "brand_new_lm");
    cr_expect_str_eq(m->rule_set, "generic");
    expect(m, "model.layers.0.self_attn.q_proj.weight", "attn_q", "decoder");
    wg_model_free(m);
}
