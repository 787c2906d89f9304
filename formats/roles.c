/* formats/roles.c — classify tensors: family, architecture class, component, role, layer.
 *
 * Structure first, names second. A tensor's role starts from what it is:
 *   - integer/bool tensors (shapes, indices, masks, counters), ONNX scalars and rotary tables
 *     are graph constants: no role, not parameters;
 *   - ONNX: the op that consumes an initializer (Gather -> embedding, Conv -> conv, MatMul/Gemm ->
 *     linear with its [in,out] layout, *Normalization -> norm, 1-D into Add -> bias);
 *   - safetensors (no graph): 1-D tensors of a norm module are norm, parameters named *bias are
 *     bias, lookup tables (embeddings, position/relative tables, class tokens, codebooks) are
 *     embeddings, fused expert tensors (>= 3-D under *experts*) are matrices, other >= 3-D
 *     tensors are conv, and any other float matrix is a matrix multiply (linear).
 * Names then refine a matrix: attention (q/k/v/fused qkv/out, cross-attention alike) or
 * feed-forward (up/gate/down, per-expert and shared experts), MoE routers, output heads. A name
 * never turns a matrix into anything but a matrix role.
 *
 * Precedence: the user's rules file (--rules) > the rows of the model's naming family (data
 * below: llama, gpt2, bert, t5, vit, clip, whisper) > structure refined by the common names.
 *
 * Family: config.json's model_type, whatever it is. The naming rows used (rule_set) come from a
 * model_type table, or without a config from the naming family whose rows cover at least half of
 * the model's matrices; "generic" otherwise. The architecture class (encoder, decoder,
 * encoder-decoder, vision, audio, multimodal) comes from the config (sub-configs, is_encoder_
 * decoder, keys only vision/audio models have, the architecture's suffix), else from the name
 * tree. Components come from the name tree (tower prefixes such as vision_model./text_model.,
 * projector prefixes, encoder/decoder stacks) and the class: embeddings, text_encoder,
 * vision_encoder, audio_encoder, decoder, projector, head, model (nothing says more).
 *
 * Patterns are globs where `*` matches any run, `?` one character, and `#` a run of decimal
 * digits whose value is the tensor's layer index (the first `#` captures). */
#include "model.h"
#include "model_internal.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IN_OUT 1 /* weight stored [in, out] (GPT-2 Conv1D) */

typedef struct rule {
    const char *set, *pattern;
    wg_role role;
    int flags;
} rule;

#define R(f, p, r) {f, p, WG_ROLE_##r, 0}
#define RF(f, p, r, fl) {f, p, WG_ROLE_##r, fl}
/* Naming families: exact names of well-known checkpoints (first matching row of the set wins). */
static const rule builtin[] = {
    /* Llama / Mistral / Qwen2 / Qwen3 / Gemma / Phi-3 naming */
    R("llama", "*embed_tokens.weight", EMBEDDING),
    R("llama", "*layers.#.self_attn.q_proj.weight", ATTN_Q),
    R("llama", "*layers.#.self_attn.k_proj.weight", ATTN_K),
    R("llama", "*layers.#.self_attn.v_proj.weight", ATTN_V),
    R("llama", "*layers.#.self_attn.qkv_proj.weight", ATTN_QKV),
    R("llama", "*layers.#.self_attn.o_proj.weight", ATTN_OUT),
    R("llama", "*layers.#.mlp.gate_proj.weight", FFN_GATE),
    R("llama", "*layers.#.mlp.up_proj.weight", FFN_UP),
    R("llama", "*layers.#.mlp.gate_up_proj.weight", FFN_UP),
    R("llama", "*layers.#.mlp.down_proj.weight", FFN_DOWN),
    R("llama", "*layers.#.*norm*", NORM),
    R("llama", "*layers.#.*bias", BIAS),
    R("llama", "*model.norm.weight", NORM),
    R("llama", "norm.weight", NORM),
    R("llama", "lm_head.weight", HEAD),
    /* GPT-2 (Conv1D weights are [in, out]) */
    R("gpt2", "*wte.weight", EMBEDDING),
    R("gpt2", "*wpe.weight", POS_EMBEDDING),
    RF("gpt2", "*h.#.attn.c_attn.weight", ATTN_QKV, IN_OUT),
    RF("gpt2", "*h.#.attn.c_proj.weight", ATTN_OUT, IN_OUT),
    RF("gpt2", "*h.#.mlp.c_fc.weight", FFN_UP, IN_OUT),
    RF("gpt2", "*h.#.mlp.c_proj.weight", FFN_DOWN, IN_OUT),
    R("gpt2", "*h.#.ln_?.*", NORM),
    R("gpt2", "*h.#.*.bias", BIAS),
    R("gpt2", "*ln_f.*", NORM),
    R("gpt2", "lm_head.weight", HEAD),
    /* BERT / RoBERTa */
    R("bert", "*embeddings.word_embeddings.weight", EMBEDDING),
    R("bert", "*embeddings.position_embeddings.weight", POS_EMBEDDING),
    R("bert", "*embeddings.token_type_embeddings.weight", POS_EMBEDDING),
    R("bert", "*embeddings.LayerNorm.*", NORM),
    R("bert", "*encoder.layer.#.attention.self.query.weight", ATTN_Q),
    R("bert", "*encoder.layer.#.attention.self.key.weight", ATTN_K),
    R("bert", "*encoder.layer.#.attention.self.value.weight", ATTN_V),
    R("bert", "*encoder.layer.#.attention.output.dense.weight", ATTN_OUT),
    R("bert", "*encoder.layer.#.intermediate.dense.weight", FFN_UP),
    R("bert", "*encoder.layer.#.output.dense.weight", FFN_DOWN),
    R("bert", "*encoder.layer.#.*LayerNorm.*", NORM),
    R("bert", "*encoder.layer.#.*bias", BIAS),
    R("bert", "*pooler.dense.weight", LINEAR),
    R("bert", "*pooler.dense.bias", BIAS),
    R("bert", "*cls.predictions.decoder.weight", HEAD),
    R("bert", "*cls.predictions.transform.dense.weight", LINEAR),
    R("bert", "*cls.*LayerNorm.*", NORM),
    R("bert", "classifier.weight", HEAD),
    /* T5 */
    R("t5", "shared.weight", EMBEDDING),
    R("t5", "*coder.embed_tokens.weight", EMBEDDING),
    R("t5", "encoder.block.#.layer.?.SelfAttention.q.weight", ATTN_Q),
    R("t5", "encoder.block.#.layer.?.SelfAttention.k.weight", ATTN_K),
    R("t5", "encoder.block.#.layer.?.SelfAttention.v.weight", ATTN_V),
    R("t5", "encoder.block.#.layer.?.SelfAttention.o.weight", ATTN_OUT),
    R("t5", "encoder.block.#.layer.?.SelfAttention.relative_attention_bias.weight", POS_EMBEDDING),
    R("t5", "encoder.block.#.layer.?.DenseReluDense.wi.weight", FFN_UP),
    R("t5", "encoder.block.#.layer.?.DenseReluDense.wi_0.weight", FFN_GATE),
    R("t5", "encoder.block.#.layer.?.DenseReluDense.wi_1.weight", FFN_UP),
    R("t5", "encoder.block.#.layer.?.DenseReluDense.wo.weight", FFN_DOWN),
    R("t5", "encoder.block.#.layer.?.layer_norm.weight", NORM),
    R("t5", "encoder.final_layer_norm.weight", NORM),
    R("t5", "decoder.block.#.layer.?.*Attention.q.weight", ATTN_Q),
    R("t5", "decoder.block.#.layer.?.*Attention.k.weight", ATTN_K),
    R("t5", "decoder.block.#.layer.?.*Attention.v.weight", ATTN_V),
    R("t5", "decoder.block.#.layer.?.*Attention.o.weight", ATTN_OUT),
    R("t5", "decoder.block.#.layer.?.SelfAttention.relative_attention_bias.weight", POS_EMBEDDING),
    R("t5", "decoder.block.#.layer.?.DenseReluDense.wi.weight", FFN_UP),
    R("t5", "decoder.block.#.layer.?.DenseReluDense.wi_0.weight", FFN_GATE),
    R("t5", "decoder.block.#.layer.?.DenseReluDense.wi_1.weight", FFN_UP),
    R("t5", "decoder.block.#.layer.?.DenseReluDense.wo.weight", FFN_DOWN),
    R("t5", "decoder.block.#.layer.?.layer_norm.weight", NORM),
    R("t5", "decoder.final_layer_norm.weight", NORM),
    R("t5", "lm_head.weight", HEAD),
    /* ViT */
    R("vit", "*embeddings.patch_embeddings.projection.weight", CONV),
    R("vit", "*embeddings.patch_embeddings.projection.bias", BIAS),
    R("vit", "*embeddings.cls_token", POS_EMBEDDING),
    R("vit", "*embeddings.position_embeddings", POS_EMBEDDING),
    R("vit", "*encoder.layer.#.attention.attention.query.weight", ATTN_Q),
    R("vit", "*encoder.layer.#.attention.attention.key.weight", ATTN_K),
    R("vit", "*encoder.layer.#.attention.attention.value.weight", ATTN_V),
    R("vit", "*encoder.layer.#.attention.output.dense.weight", ATTN_OUT),
    R("vit", "*encoder.layer.#.intermediate.dense.weight", FFN_UP),
    R("vit", "*encoder.layer.#.output.dense.weight", FFN_DOWN),
    R("vit", "*encoder.layer.#.layernorm_*", NORM),
    R("vit", "*encoder.layer.#.*bias", BIAS),
    R("vit", "*vit.layernorm.*", NORM),
    R("vit", "classifier.weight", HEAD),
    /* CLIP / SigLIP */
    R("clip", "*text_model.embeddings.token_embedding.weight", EMBEDDING),
    R("clip", "*text_model.embeddings.position_embedding.weight", POS_EMBEDDING),
    R("clip", "*vision_model.embeddings.patch_embedding.weight", CONV),
    R("clip", "*vision_model.embeddings.class_embedding", POS_EMBEDDING),
    R("clip", "*vision_model.embeddings.position_embedding.weight", POS_EMBEDDING),
    R("clip", "*_model.encoder.layers.#.self_attn.q_proj.weight", ATTN_Q),
    R("clip", "*_model.encoder.layers.#.self_attn.k_proj.weight", ATTN_K),
    R("clip", "*_model.encoder.layers.#.self_attn.v_proj.weight", ATTN_V),
    R("clip", "*_model.encoder.layers.#.self_attn.out_proj.weight", ATTN_OUT),
    R("clip", "*_model.encoder.layers.#.mlp.fc1.weight", FFN_UP),
    R("clip", "*_model.encoder.layers.#.mlp.fc2.weight", FFN_DOWN),
    R("clip", "*_model.encoder.layers.#.layer_norm?.*", NORM),
    R("clip", "*_model.encoder.layers.#.*bias", BIAS),
    R("clip", "*text_model.final_layer_norm.*", NORM),
    R("clip", "*vision_model.pre_lay*norm.*", NORM),
    R("clip", "*vision_model.post_layernorm.*", NORM),
    R("clip", "text_projection.weight", LINEAR),
    R("clip", "visual_projection.weight", LINEAR),
    R("clip", "logit_scale", OTHER),
    /* Whisper */
    R("whisper", "*encoder.conv?.weight", CONV),
    R("whisper", "*encoder.conv?.bias", BIAS),
    R("whisper", "*encoder.embed_positions.weight", POS_EMBEDDING),
    R("whisper", "*encoder.layers.#.self_attn.q_proj.weight", ATTN_Q),
    R("whisper", "*encoder.layers.#.self_attn.k_proj.weight", ATTN_K),
    R("whisper", "*encoder.layers.#.self_attn.v_proj.weight", ATTN_V),
    R("whisper", "*encoder.layers.#.self_attn.out_proj.weight", ATTN_OUT),
    R("whisper", "*encoder.layers.#.fc1.weight", FFN_UP),
    R("whisper", "*encoder.layers.#.fc2.weight", FFN_DOWN),
    R("whisper", "*encoder.layers.#.*layer_norm.*", NORM),
    R("whisper", "*encoder.layers.#.*bias", BIAS),
    R("whisper", "*encoder.layer_norm.*", NORM),
    R("whisper", "*decoder.embed_tokens.weight", EMBEDDING),
    R("whisper", "*decoder.embed_positions.weight", POS_EMBEDDING),
    R("whisper", "*decoder.layers.#.*attn.q_proj.weight", ATTN_Q),
    R("whisper", "*decoder.layers.#.*attn.k_proj.weight", ATTN_K),
    R("whisper", "*decoder.layers.#.*attn.v_proj.weight", ATTN_V),
    R("whisper", "*decoder.layers.#.*attn.out_proj.weight", ATTN_OUT),
    R("whisper", "*decoder.layers.#.fc1.weight", FFN_UP),
    R("whisper", "*decoder.layers.#.fc2.weight", FFN_DOWN),
    R("whisper", "*decoder.layers.#.*layer_norm.*", NORM),
    R("whisper", "*decoder.layers.#.*bias", BIAS),
    R("whisper", "*decoder.layer_norm.*", NORM),
    R("whisper", "proj_out.weight", HEAD),
    /* score: tensors matched by each family's own rows */};
#define N_BUILTIN (sizeof builtin / sizeof *builtin)

/* config model_type -> naming family rows */
static const struct { const char *model_type, *set; } type_rules[] = {
    {"llama", "llama"}, {"mistral", "llama"}, {"mixtral", "llama"}, {"qwen2", "llama"},
    {"qwen3", "llama"}, {"gemma", "llama"}, {"gemma2", "llama"}, {"gemma3_text", "llama"},
    {"phi3", "llama"}, {"smollm3", "llama"}, {"olmo", "llama"}, {"granite", "llama"},
    {"gpt2", "gpt2"}, {"openai-gpt", "gpt2"}, {"imagegpt", "gpt2"},
    {"decision_transformer", "gpt2"}, {"bert", "bert"}, {"roberta", "bert"},
    {"xlm-roberta", "bert"}, {"t5", "t5"}, {"mt5", "t5"}, {"vit", "vit"}, {"deit", "vit"},
    {"clip", "clip"}, {"siglip", "clip"}, {"clip_text_model", "clip"},
    {"clip_vision_model", "clip"}, {"whisper", "whisper"},
};

/* ---- name tables (lower-case globs over path segments; see tname below) ---- */

/* Tensors that are graph constants whatever their type (buffers saved beside the weights). */
static const char *const const_globs[] = {
    "*inv_freq", "*rotary_emb*", "*position_ids", "*cos_cached", "*sin_cached", "*_float_tensor",
    "*.attn.masked_bias", "*.attn.bias" /* GPT-2's causal mask, >= 2-D only */,
};
/* Modules (the segment owning the parameter) that normalise. */
static const char *const norm_owner[] = {"*norm*", "ln", "ln_*", "ln#", "ln#_*", "*_ln", "*_ln#",
                                         "bn", "bn#", "bn_*", "*_bn", "*_bn#", "gn", "*_gn"};
/* Lookup tables: token/position/type embeddings, relative tables, class tokens, codebooks. */
static const char *const table_names[] = {
    "*emb", "*embed", "*embeds", "*embedding", "*embeddings", "embed_*", "wte", "wpe", "shared",
    "*_table", "*codebook*", "*codevectors*", "*token", "*tokens", "*relative_attention_bias",
    "*embedder",
};
static const char *const not_table[] = {"*patch*", "*proj*", "*out*", "*linear*", "*dense*",
                                        "*norm*", "*conv*", "*head*", "*fc*", "*mapping*"};
static const char *const pos_table[] = {"*pos*", "*rel*", "*type*", "*seg*", "*_table", "*class*",
                                        "*cls*", "wpe", "*_token", "*_tokens"};
/* Parameter names that say nothing (the owning module's name speaks instead). */
static const char *const plain_param[] = {"weight", "bias", "gamma", "beta", "weight_g",
                                          "weight_v", "kernel", "w", "b", "scale"};
static const char *const ssm_other[] = {"a_log", "d", "dt_bias"}; /* state-space vectors/tables */

/* Name refinements of a matrix, matched against "<parent>.<leaf>" (see tname); first row whose
 * context fits wins. */
enum { CTX_ANY, CTX_HEAD, CTX_ATTN, CTX_FFN };
static const struct refine {
    int ctx;
    const char *pattern;
    wg_role role;
} refine[] = {
    /* outside numbered layers: output heads */
    {CTX_HEAD, "*lm_head", WG_ROLE_HEAD}, {CTX_HEAD, "*.embed_out", WG_ROLE_HEAD},
    {CTX_HEAD, "*.proj_out", WG_ROLE_HEAD}, {CTX_HEAD, "*classifier*", WG_ROLE_HEAD},
    {CTX_HEAD, "*.score", WG_ROLE_HEAD}, {CTX_HEAD, "*qa_outputs", WG_ROLE_HEAD},
    {CTX_HEAD, "predictions.decoder", WG_ROLE_HEAD}, {CTX_HEAD, "*.logits", WG_ROLE_HEAD},
    {CTX_HEAD, "output", WG_ROLE_HEAD}, {CTX_HEAD, "head", WG_ROLE_HEAD},
    {CTX_HEAD, "lm_head", WG_ROLE_HEAD}, {CTX_HEAD, "embed_out", WG_ROLE_HEAD},
    {CTX_HEAD, "proj_out", WG_ROLE_HEAD}, {CTX_HEAD, "classifier", WG_ROLE_HEAD},
    {CTX_HEAD, "score", WG_ROLE_HEAD},
    /* attention: fused first, then q, k, v, then the output projection */
    {CTX_ATTN, "*qkv*", WG_ROLE_ATTN_QKV}, {CTX_ATTN, "*.c_attn", WG_ROLE_ATTN_QKV},
    {CTX_ATTN, "*query_key_value*", WG_ROLE_ATTN_QKV}, {CTX_ATTN, "*.in_proj*", WG_ROLE_ATTN_QKV},
    {CTX_ATTN, "*.kv*", WG_ROLE_ATTN_QKV}, {CTX_ATTN, "*key_value*", WG_ROLE_ATTN_QKV},
    {CTX_ATTN, "*.q", WG_ROLE_ATTN_Q}, {CTX_ATTN, "*.q_*", WG_ROLE_ATTN_Q},
    {CTX_ATTN, "*.wq", WG_ROLE_ATTN_Q}, {CTX_ATTN, "*query*", WG_ROLE_ATTN_Q},
    {CTX_ATTN, "*q_proj*", WG_ROLE_ATTN_Q}, {CTX_ATTN, "*q_lin", WG_ROLE_ATTN_Q},
    {CTX_ATTN, "*.k", WG_ROLE_ATTN_K}, {CTX_ATTN, "*.k_*", WG_ROLE_ATTN_K},
    {CTX_ATTN, "*.wk", WG_ROLE_ATTN_K}, {CTX_ATTN, "*key*", WG_ROLE_ATTN_K},
    {CTX_ATTN, "*k_proj*", WG_ROLE_ATTN_K}, {CTX_ATTN, "*k_lin", WG_ROLE_ATTN_K},
    {CTX_ATTN, "*.v", WG_ROLE_ATTN_V}, {CTX_ATTN, "*.v_*", WG_ROLE_ATTN_V},
    {CTX_ATTN, "*.wv", WG_ROLE_ATTN_V}, {CTX_ATTN, "*value*", WG_ROLE_ATTN_V},
    {CTX_ATTN, "*v_proj*", WG_ROLE_ATTN_V}, {CTX_ATTN, "*v_lin", WG_ROLE_ATTN_V},
    {CTX_ATTN, "*.o", WG_ROLE_ATTN_OUT}, {CTX_ATTN, "*.o_*", WG_ROLE_ATTN_OUT},
    {CTX_ATTN, "*.wo", WG_ROLE_ATTN_OUT}, {CTX_ATTN, "*out*", WG_ROLE_ATTN_OUT},
    {CTX_ATTN, "*.c_proj", WG_ROLE_ATTN_OUT}, {CTX_ATTN, "*.dense", WG_ROLE_ATTN_OUT},
    {CTX_ATTN, "*.proj", WG_ROLE_ATTN_OUT}, {CTX_ATTN, "*o_proj*", WG_ROLE_ATTN_OUT},
    /* mixture-of-experts routers (before the feed-forward names: "gate" is not gate_proj) */
    {CTX_FFN, "*.gate", WG_ROLE_LINEAR}, {CTX_FFN, "*router*", WG_ROLE_LINEAR},
    {CTX_FFN, "*expert_gate", WG_ROLE_LINEAR}, {CTX_FFN, "gate", WG_ROLE_LINEAR},
    /* feed-forward (dense, per-expert and fused experts alike) */
    {CTX_FFN, "*gate_up*", WG_ROLE_FFN_UP}, {CTX_FFN, "*.wi", WG_ROLE_FFN_UP},
    {CTX_FFN, "*gate_proj*", WG_ROLE_FFN_GATE}, {CTX_FFN, "*.w1", WG_ROLE_FFN_GATE},
    {CTX_FFN, "*.wi_0", WG_ROLE_FFN_GATE}, {CTX_FFN, "*.receptance", WG_ROLE_FFN_GATE},
    {CTX_FFN, "*up_proj*", WG_ROLE_FFN_UP}, {CTX_FFN, "*.w3", WG_ROLE_FFN_UP},
    {CTX_FFN, "*.wi_1", WG_ROLE_FFN_UP}, {CTX_FFN, "*.fc1", WG_ROLE_FFN_UP},
    {CTX_FFN, "*.c_fc", WG_ROLE_FFN_UP}, {CTX_FFN, "*.fc_in", WG_ROLE_FFN_UP},
    {CTX_FFN, "*.lin1", WG_ROLE_FFN_UP}, {CTX_FFN, "*h_to_4h", WG_ROLE_FFN_UP},
    {CTX_FFN, "*intermediate_dense", WG_ROLE_FFN_UP}, {CTX_FFN, "*input_linear", WG_ROLE_FFN_UP},
    {CTX_FFN, "*.up", WG_ROLE_FFN_UP}, {CTX_FFN, "*.pwconv1", WG_ROLE_FFN_UP},
    {CTX_FFN, "intermediate.dense", WG_ROLE_FFN_UP}, {CTX_FFN, "*.dense1", WG_ROLE_FFN_UP},
    {CTX_FFN, "*.ffn", WG_ROLE_FFN_UP}, {CTX_FFN, "*.layer_1", WG_ROLE_FFN_UP},
    {CTX_FFN, "*.in_proj", WG_ROLE_FFN_UP}, {CTX_FFN, "*.key", WG_ROLE_FFN_UP},
    {CTX_FFN, "*down_proj*", WG_ROLE_FFN_DOWN}, {CTX_FFN, "*.w2", WG_ROLE_FFN_DOWN},
    {CTX_FFN, "*.wo", WG_ROLE_FFN_DOWN}, {CTX_FFN, "*.fc2", WG_ROLE_FFN_DOWN},
    {CTX_FFN, "*.c_proj", WG_ROLE_FFN_DOWN}, {CTX_FFN, "*.fc_out", WG_ROLE_FFN_DOWN},
    {CTX_FFN, "*.lin2", WG_ROLE_FFN_DOWN}, {CTX_FFN, "*4h_to_h", WG_ROLE_FFN_DOWN},
    {CTX_FFN, "*output_dense", WG_ROLE_FFN_DOWN}, {CTX_FFN, "*output_linear", WG_ROLE_FFN_DOWN},
    {CTX_FFN, "*.down", WG_ROLE_FFN_DOWN}, {CTX_FFN, "*.pwconv2", WG_ROLE_FFN_DOWN},
    {CTX_FFN, "output.dense", WG_ROLE_FFN_DOWN}, {CTX_FFN, "*.dense2", WG_ROLE_FFN_DOWN},
    {CTX_FFN, "*.ffn_output", WG_ROLE_FFN_DOWN}, {CTX_FFN, "*.layer_2", WG_ROLE_FFN_DOWN},
    {CTX_FFN, "*.out_proj", WG_ROLE_FFN_DOWN}, {CTX_FFN, "*.value", WG_ROLE_FFN_DOWN},
    /* attention projections in a block not named attention */
    {CTX_ANY, "*qkv_proj", WG_ROLE_ATTN_QKV}, {CTX_ANY, "*query_key_value", WG_ROLE_ATTN_QKV},
    {CTX_ANY, "*q_proj", WG_ROLE_ATTN_Q}, {CTX_ANY, "*k_proj", WG_ROLE_ATTN_K},
    {CTX_ANY, "*v_proj", WG_ROLE_ATTN_V}, {CTX_ANY, "*o_proj", WG_ROLE_ATTN_OUT},
};

/* Path segments that mark a part of a composite model. Towers: all below is that modality's
 * encoder (a text tower named like a decoder or a language model is a decoder). Projectors:
 * what connects the towers. */
enum { MOD_NONE, MOD_TEXT, MOD_VISION, MOD_AUDIO };
static const struct { const char *glob; int mod; } towers[] = {
    {"vision_model", MOD_VISION}, {"vision_tower", MOD_VISION}, {"vision_encoder", MOD_VISION},
    {"visual", MOD_VISION}, {"image_encoder", MOD_VISION}, {"vision", MOD_VISION},
    {"vpm", MOD_VISION}, {"image_tower", MOD_VISION}, {"vision_backbone", MOD_VISION},
    {"audio_model", MOD_AUDIO}, {"audio_tower", MOD_AUDIO}, {"audio_encoder", MOD_AUDIO},
    {"audio", MOD_AUDIO}, {"speech_encoder", MOD_AUDIO},
    {"text_model", MOD_TEXT}, {"text_encoder", MOD_TEXT}, {"text_tower", MOD_TEXT},
    {"text", MOD_TEXT}, {"language_model", MOD_TEXT}, {"text_decoder", MOD_TEXT},
    {"llm", MOD_TEXT}, {"lm", MOD_TEXT},
};
static const char *const projector_names[] = {
    "multi_modal_projector", "mm_projector", "projector", "*modal_projector", "vision_projector",
    "image_projector", "audio_projector", "connector", "merger", "qformer",
    "visual_projection", "text_projection", "audio_projection", "vision_projection",
    "image_projection", "language_projection", "query_tokens",
};
/* Non-layered segments that belong to the output head. */
static const char *const head_segments[] = {"*head*", "*pooler*", "*classifier*", "*logit*",
                                            "cls", "score", "qa_outputs", "proj_out",
                                            "*prediction*", "embed_out"};
/* Architecture suffixes (config "architectures") and what they say. */
enum { ARCH_UNKNOWN, ARCH_ENCODER, ARCH_DECODER, ARCH_ENC_DEC, ARCH_VISION, ARCH_AUDIO,
       ARCH_MULTIMODAL };
static const char *const arch_names[] = {"unknown", "encoder", "decoder", "encoder-decoder",
                                         "vision", "audio", "multimodal"};
static const struct { const char *glob; int arch; } arch_suffix[] = {
    {"*ForCTC", ARCH_AUDIO}, {"*ForAudio*", ARCH_AUDIO}, {"*ForXVector", ARCH_AUDIO},
    {"*ForImage*", ARCH_VISION}, {"*ForObjectDetection", ARCH_VISION},
    {"*ForSemanticSegmentation", ARCH_VISION}, {"*ForDepthEstimation", ARCH_VISION},
    {"*ForMaskedImageModeling", ARCH_VISION}, {"*Segmentation", ARCH_VISION},
    {"*Backbone", ARCH_VISION}, {"*ForCausalLM", ARCH_DECODER}, {"*LMHeadModel", ARCH_DECODER},
    {"*ForMaskedLM", ARCH_ENCODER}, {"*ForPreTraining", ARCH_ENCODER},
    {"*ForTokenClassification", ARCH_ENCODER}, {"*ForQuestionAnswering", ARCH_ENCODER},
    {"*ForMultipleChoice", ARCH_ENCODER}, {"*ForNextSentencePrediction", ARCH_ENCODER},
};
#define COUNT(a) (sizeof(a) / sizeof *(a))

/* ------------------------------------------------------------------ globs */

#define MAX_NAME_MATCH 4096

/* Glob match with `#` capture; recursion depth is bounded by the pattern length. */
static bool gmatch(const char *p, const char *s, long *layer)
{
    for (; *p; p++, s++) {
        switch (*p) {
        case '*':
            for (const char *t = s;; t++) {
                if (gmatch(p + 1, t, layer))
                    return true;
                if (!*t)
                    return false;
            }
        case '?':
            if (!*s)
                return false;
            break;
        case '#': {
            if (!isdigit((unsigned char)*s))
                return false;
            long v = 0;
            const char *t = s;
            while (isdigit((unsigned char)*t)) {
                if (v < 1000000)
                    v = v * 10 + (*t - '0');
                t++;
            }
            if (!gmatch(p + 1, t, layer))
                return false;
            if (layer) /* outer captures run last, so the first `#` wins */
                *layer = v;
            return true;
        }
        default:
            if (*p != *s)
                return false;
        }
    }
    return !*s;
}

bool wg_glob_match(const char *pattern, const char *name, long *layer)
{
    if (layer)
        *layer = -1;
    if (strlen(name) > MAX_NAME_MATCH)
        return false;
    long l = -1;
    bool ok = gmatch(pattern, name, &l);
    if (ok && layer)
        *layer = l;
    return ok;
}

static bool any_glob(const char *const *globs, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (wg_glob_match(globs[i], s, NULL))
            return true;
    return false;
}
#define ANY(globs, s) any_glob(globs, COUNT(globs), s)

/* Layer index from a name when no rule captured one: the number after a well-known container
 * ("layers.3.", "h.3.", "block.3.", "blocks/3/"), else -1. */
static long guess_layer(const char *name)
{
    static const char *keys[] = {"layers", "layer", "h", "blocks", "block"};
    for (const char *p = name; *p; p++) {
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            size_t n = strlen(keys[k]);
            if ((p == name || !isalnum((unsigned char)p[-1])) && !strncmp(p, keys[k], n) &&
                (p[n] == '.' || p[n] == '_' || p[n] == '/') && isdigit((unsigned char)p[n + 1])) {
                long v = 0;
                for (const char *t = p + n + 1; isdigit((unsigned char)*t) && v < 1000000; t++)
                    v = v * 10 + (*t - '0');
                return v;
            }
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ a tensor's name, parsed */

#define MAX_SEGS 64
typedef struct tname {
    char low[1024];         /* lower-case path */
    char buf[1024];         /* the same, segments NUL-separated */
    const char *seg[MAX_SEGS];
    int nseg;
    const char *param;      /* last segment (weight, bias, cls_token, in_proj_weight, ...) */
    const char *owner;      /* the module holding it */
    int owner_i;            /* its segment index (-1: none) */
    const char *leaf;       /* what names the tensor: param unless plain, then owner */
    char sl[256];           /* "<parent>.<leaf>": the leaf and the module around it */
    bool attn, expert, projector;
} tname;

static bool is_number(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* The name to read: ONNX exporters that rename weights (val_87) leave the module path. */
static const char *tensor_path(const wg_tensor *t)
{
    return t->module && !strchr(t->name, '.') ? t->module : t->name;
}

/* Index of the nearest non-numeric segment at or before i, or -1. */
static int named_before(const tname *n, int i)
{
    while (i >= 0 && is_number(n->seg[i]))
        i--;
    return i;
}

static void parse_name(tname *n, const char *path)
{
    memset(n, 0, sizeof *n);
    size_t len = strlen(path) < sizeof n->buf - 1 ? strlen(path) : sizeof n->buf - 1;
    for (size_t i = 0; i < len; i++)
        n->low[i] = n->buf[i] = (char)tolower((unsigned char)path[i]);
    for (char *p = n->buf, *s = n->buf; n->nseg < MAX_SEGS; p++) {
        if (*p == '.' || *p == '/' || *p == ':' || !*p) {
            bool end = !*p;
            *p = 0;
            if (*s)
                n->seg[n->nseg++] = s;
            s = p + 1;
            if (end)
                break;
        }
    }
    static const char *empty = "";
    if (!n->nseg)
        n->seg[n->nseg++] = empty;
    int last = n->nseg - 1, own = last - 1;
    n->param = n->seg[last];
    if (n->nseg >= 4 && !strcmp(n->seg[last - 2], "parametrizations")) { /* weight_norm */
        n->param = n->seg[last - 1];
        own = last - 3;
    }
    own = named_before(n, own);
    n->owner = own >= 0 ? n->seg[own] : empty;
    n->owner_i = own;
    bool plain = ANY(plain_param, n->param) && own >= 0;
    int li = plain ? own : last, pi = named_before(n, li - 1);
    n->leaf = n->seg[li];
    snprintf(n->sl, sizeof n->sl, "%s%s%s", pi >= 0 ? n->seg[pi] : "", pi >= 0 ? "." : "",
             n->leaf);
    for (int i = 0; i < n->nseg; i++) {
        if (i != last && (strstr(n->seg[i], "attn") || strstr(n->seg[i], "attention")))
            n->attn = true;
        n->expert |= strstr(n->seg[i], "expert") || strstr(n->seg[i], "moe");
        n->projector |= ANY(projector_names, n->seg[i]);
    }
}

/* ------------------------------------------------------------------ roles from structure */

typedef struct name_ref {
    const char *name;
    size_t i;
} name_ref;

/* What the classifier knows about the model as a whole. */
typedef struct mclass {
    int arch;
    int enc_mod;      /* modality of an encoder stack: MOD_TEXT, MOD_VISION, MOD_AUDIO */
    bool generative;  /* a multimodal model whose text part generates: it is a decoder */
    name_ref *sorted; /* tensors by name, to find a tensor's siblings */
} mclass;

static int name_ref_cmp(const void *a, const void *b)
{
    return strcmp(((const name_ref *)a)->name, ((const name_ref *)b)->name);
}

/* The tensor beside `t` in the same module whose last name segment is `param`, or NULL. */
static const wg_tensor *sibling(const wg_model *m, const mclass *mc, const wg_tensor *t,
                                const char *param)
{
    const char *dot = strrchr(t->name, '.');
    char want[4096];
    if (!mc->sorted || !dot || (size_t)(dot - t->name) + strlen(param) + 2 > sizeof want)
        return NULL;
    snprintf(want, sizeof want, "%.*s.%s", (int)(dot - t->name), t->name, param);
    name_ref key = {want, 0}, *hit = bsearch(&key, mc->sorted, m->n_tensors, sizeof key,
                                             name_ref_cmp);
    return hit ? &m->tensors[hit->i] : NULL;
}

/* A 1-D "weight" is a normalisation's scale (Linear, Conv and Embedding weights are >= 2-D);
 * its module's other vectors (bias, running statistics) are the normalisation's too. */
static bool norm_vector(const wg_model *m, const mclass *mc, const wg_tensor *t, const tname *n)
{
    if (ANY(norm_owner, n->owner))
        return true;
    if (t->ndim != 1)
        return false;
    if (!strcmp(n->param, "weight"))
        return true;
    const wg_tensor *w = sibling(m, mc, t, "weight");
    return w && w->ndim == 1 && wg_dtype_is_float(w->dtype);
}

static bool bias_named(const char *param)
{
    size_t n = strlen(param);
    return !strncmp(param, "bias", 4) || (n >= 4 && !strcmp(param + n - 4, "bias"));
}

static bool table_named(const tname *n)
{
    return ANY(table_names, n->leaf) && !ANY(not_table, n->leaf);
}

static wg_role table_role(const tname *n)
{
    bool pos = ANY(pos_table, n->leaf) && !(strstr(n->leaf, "emb") && strstr(n->leaf, "token"));
    return pos ? WG_ROLE_POS_EMBEDDING : WG_ROLE_EMBEDDING;
}

/* The module holding the tensor, or the one around it, is named a convolution (the model's
 * own name, "convnext", says nothing about one tensor). */
static bool conv_named(const tname *n)
{
    int p = named_before(n, n->owner_i - 1);
    return strstr(n->leaf, "conv") || strstr(n->owner, "conv") ||
           (p >= 0 && strstr(n->seg[p], "conv"));
}

static bool linear_named(const tname *n)
{
    return strstr(n->leaf, "linear") || strstr(n->leaf, "dense");
}

static int matched_refine(const tname *n, long layer);

/* A matrix whose rows are the vocabulary, outside the layers and not an output head, is the
 * token table even when its name does not say so. */
static bool vocab_table(const wg_model *m, const wg_tensor *t, const tname *n, long layer)
{
    int64_t v = m->config.vocab_size;
    if (t->ndim != 2 || v <= 0 || t->shape[0] != v || layer >= 0 || n->projector)
        return false;
    int r = matched_refine(n, layer);
    return (r < 0 || refine[r].role != WG_ROLE_HEAD) && !ANY(not_table, n->leaf) &&
           !ANY(head_segments, n->leaf);
}

/* What a float tensor is from its shape and the names of its module (safetensors), before names
 * say which matrix it is. */
static wg_role struct_role(const wg_model *m, const mclass *mc, const wg_tensor *t,
                           const tname *n, long layer)
{
    int eff = 0;
    for (int d = 0; d < t->ndim; d++)
        eff += t->shape[d] != 1;
    bool plain = ANY(plain_param, n->param);
    if (t->ndim >= 3 && conv_named(n)) /* also a weight-normalised kernel's [out, 1, 1] norm */
        return WG_ROLE_CONV;
    if (t->numel <= 1)
        return bias_named(n->param) ? WG_ROLE_BIAS : WG_ROLE_OTHER;
    if (eff <= 1 && norm_vector(m, mc, t, n))
        return WG_ROLE_NORM;
    if (bias_named(n->param))
        return WG_ROLE_BIAS;
    if (table_named(n))
        return table_role(n);
    if (t->ndim >= 3) {
        if (n->expert || (linear_named(n) && eff >= 3)) /* fused experts: [experts, out, in] */
            return WG_ROLE_LINEAR;
        /* per-head projection kernels [hidden, heads, head_dim] held by an attention module */
        if (!plain && n->attn && t->ndim == 3 && t->shape[1] > 1 && t->shape[2] > 1 &&
            t->shape[1] * t->shape[2] == t->shape[0])
            return WG_ROLE_LINEAR;
        /* a convolution's kernel is its module's weight; other >= 3-D tensors (scales with unit
         * dimensions, a custom op's parameters) are left alone */
        return plain && eff >= 2 ? WG_ROLE_CONV : WG_ROLE_OTHER;
    }
    if (t->ndim == 2 && (eff == 2 || plain)) {
        if (ANY(ssm_other, n->leaf))
            return WG_ROLE_OTHER;
        return vocab_table(m, t, n, layer) ? WG_ROLE_EMBEDDING : WG_ROLE_LINEAR;
    }
    return WG_ROLE_OTHER;
}

/* Index of the first refinement row that fits, or -1. */
static int matched_refine(const tname *n, long layer)
{
    for (size_t i = 0; i < COUNT(refine); i++) {
        int c = refine[i].ctx;
        if ((c == CTX_HEAD && (layer >= 0 || n->attn)) || (c == CTX_ATTN && !n->attn) ||
            (c == CTX_FFN && (n->attn || n->projector)))
            continue;
        if (wg_glob_match(refine[i].pattern, n->sl, NULL))
            return (int)i;
    }
    return -1;
}

static wg_role refine_matrix(const tname *n, long layer)
{
    int r = matched_refine(n, layer);
    return r < 0 ? WG_ROLE_LINEAR : refine[r].role;
}

static bool matrix_role(wg_role r)
{
    return r != WG_ROLE_NORM && r != WG_ROLE_BIAS && r != WG_ROLE_OTHER &&
           r != WG_ROLE_EMBEDDING && r != WG_ROLE_POS_EMBEDDING;
}

/* The role of a non-constant tensor before any rule row: structure (the ONNX graph, else shape
 * and module names), then names for matrices. */
static wg_role base_role(const wg_model *m, const mclass *mc, const wg_tensor *t,
                         const tname *n, long layer)
{
    wg_role r = t->role; /* ONNX: what the consuming op said */
    if (m->kind != WG_IN_ONNX)
        r = struct_role(m, mc, t, n, layer);
    else if (r == WG_ROLE_OTHER) { /* not used by a weight op: names may still say norm/table */
        wg_role s = struct_role(m, mc, t, n, layer);
        r = matrix_role(s) ? WG_ROLE_OTHER : s;
    } else if (r == WG_ROLE_EMBEDDING && table_named(n))
        r = table_role(n);
    if (r == WG_ROLE_LINEAR)
        r = refine_matrix(n, layer);
    return r;
}

static bool is_constant(const wg_model *m, const wg_tensor *t, const tname *n)
{
    if (!wg_dtype_is_float(t->dtype))
        return true;
    if (m->kind == WG_IN_ONNX && t->ndim == 0)
        return true; /* a scalar the graph computes with (epsilon, scale, fill value) */
    for (size_t i = 0; i < COUNT(const_globs); i++)
        if (wg_glob_match(const_globs[i], n->low, NULL) ||
            (t->module && wg_glob_match(const_globs[i], t->module, NULL)))
            return !(i == COUNT(const_globs) - 1 && t->ndim < 2);
    return false;
}

/* ------------------------------------------------------------------ family and class */

static const char *set_for_type(const char *model_type)
{
    for (size_t i = 0; i < COUNT(type_rules); i++)
        if (!strcmp(model_type, type_rules[i].model_type))
            return type_rules[i].set;
    return NULL;
}

static bool is_set(const char *name)
{
    for (size_t i = 0; i < N_BUILTIN; i++)
        if (!strcmp(builtin[i].set, name))
            return true;
    return false;
}

/* Does a role-bearing row of `set` name the tensor (by its name or its module path)? */
static bool set_names(const char *set, const wg_tensor *t)
{
    for (size_t k = 0; k < N_BUILTIN; k++)
        if (builtin[k].role != WG_ROLE_OTHER && !strcmp(builtin[k].set, set) &&
            (wg_glob_match(builtin[k].pattern, t->name, NULL) ||
             (t->module && wg_glob_match(builtin[k].pattern, t->module, NULL))))
            return true;
    return false;
}

/* Without a model_type: the naming family whose rows name at least half of the model's
 * matrices (>= 2-D weights), or NULL. One stray match never makes a family. */
static const char *set_by_names(const wg_model *m)
{
    size_t matrices = 0, best_n = 0;
    const char *best = NULL;
    for (size_t i = 0; i < m->n_tensors; i++)
        matrices += !m->tensors[i].constant && m->tensors[i].ndim >= 2;
    for (size_t r = 0; r < N_BUILTIN; r++) {
        if (r && !strcmp(builtin[r].set, builtin[r - 1].set))
            continue; /* rows of a set are contiguous: score each set once */
        size_t hits = 0;
        for (size_t i = 0; i < m->n_tensors; i++) {
            const wg_tensor *t = &m->tensors[i];
            hits += !t->constant && t->ndim >= 2 && set_names(builtin[r].set, t);
        }
        if (hits > best_n) {
            best_n = hits;
            best = builtin[r].set;
        }
    }
    return best_n >= 2 && 2 * best_n >= matrices ? best : NULL;
}

static void pick_family(wg_model *m, const char *user_family)
{
    const char *set = NULL, *fam = NULL;
    if (*user_family) {
        fam = user_family;
        set = is_set(fam) ? fam : set_for_type(fam);
    } else if (m->config.present && m->config.model_type[0]) {
        fam = m->config.model_type;
        set = set_for_type(fam);
    } else
        fam = set = set_by_names(m);
    snprintf(m->family, sizeof m->family, "%s", fam ? fam : "generic");
    for (char *p = m->family; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    snprintf(m->rule_set, sizeof m->rule_set, "%s", set ? set : "generic");
}


enum { F_VTOWER = 1, F_ATOWER = 2, F_TTOWER = 4, F_ENC = 8, F_DEC = 16, F_PATCH = 32,
       F_AUDIO = 64, F_LMHEAD = 128 };

static int tower_of(const char *seg, bool *dec)
{
    for (size_t i = 0; i < COUNT(towers); i++)
        if (wg_glob_match(towers[i].glob, seg, NULL)) {
            if (dec)
                *dec = strstr(seg, "decoder") || !strcmp(seg, "language_model") ||
                       !strcmp(seg, "llm") || !strcmp(seg, "lm");
            return towers[i].mod;
        }
    return MOD_NONE;
}

/* Encoder/decoder stack named by a segment (not an attention block named after one). */
static int stack_of(const char *seg)
{
    if (strstr(seg, "attn") || strstr(seg, "attention"))
        return 0;
    return strstr(seg, "decoder") ? 2 : strstr(seg, "encoder") ? 1 : 0;
}

static unsigned name_facts(const wg_model *m)
{
    unsigned f = 0;
    tname n;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const wg_tensor *t = &m->tensors[i];
        if (t->constant)
            continue;
        parse_name(&n, tensor_path(t));
        bool layered = guess_layer(n.low) >= 0;
        for (int s = 0; s < n.nseg - 1; s++) {
            int tw = tower_of(n.seg[s], NULL), st = stack_of(n.seg[s]);
            f |= tw == MOD_VISION ? F_VTOWER : tw == MOD_AUDIO ? F_ATOWER
                 : tw == MOD_TEXT ? F_TTOWER : 0;
            f |= layered && st == 1 && !tw ? F_ENC : layered && st == 2 ? F_DEC : 0;
            f |= strstr(n.seg[s], "patch") ? F_PATCH : 0;
            f |= strstr(n.seg[s], "feature_extractor") || strstr(n.seg[s], "feature_projection") ||
                 strstr(n.seg[s], "spectrogram") ? F_AUDIO : 0;
            f |= !strcmp(n.seg[s], "lm_head") || !strcmp(n.seg[s], "embed_out") ? F_LMHEAD : 0;
        }
    }
    return f;
}

static int arch_from_config(const wg_hfconfig *c, mclass *mc)
{
    if (!c->present)
        return ARCH_UNKNOWN;
    if (c->parts & (WG_CFG_VISION | WG_CFG_AUDIO)) {
        mc->enc_mod = c->parts & WG_CFG_VISION ? MOD_VISION : MOD_AUDIO;
        return ARCH_MULTIMODAL;
    }
    if ((c->parts & WG_CFG_ENCODER) && (c->parts & WG_CFG_DECODER)) {
        mc->enc_mod = c->hints & WG_HINT_ENC_VISION ? MOD_VISION
                      : c->hints & WG_HINT_ENC_AUDIO ? MOD_AUDIO : MOD_TEXT;
        return ARCH_ENC_DEC;
    }
    if (c->is_encoder_decoder == 1) {
        mc->enc_mod = c->hints & WG_HINT_AUDIO ? MOD_AUDIO
                      : c->hints & WG_HINT_VISION ? MOD_VISION : MOD_TEXT;
        return ARCH_ENC_DEC;
    }
    if (c->hints & WG_HINT_AUDIO)
        return ARCH_AUDIO;
    if (c->hints & WG_HINT_VISION)
        return ARCH_VISION;
    for (size_t i = 0; i < COUNT(arch_suffix); i++)
        if (wg_glob_match(arch_suffix[i].glob, c->architecture, NULL))
            return arch_suffix[i].arch;
    return ARCH_UNKNOWN;
}

static int arch_from_names(const wg_model *m, unsigned f, mclass *mc)
{
    if ((f & (F_VTOWER | F_ATOWER)) && (f & F_TTOWER)) {
        mc->enc_mod = f & F_VTOWER ? MOD_VISION : MOD_AUDIO;
        return ARCH_MULTIMODAL;
    }
    if ((f & F_ENC) && (f & F_DEC)) {
        mc->enc_mod = f & F_AUDIO ? MOD_AUDIO : f & F_PATCH ? MOD_VISION : MOD_TEXT;
        return ARCH_ENC_DEC;
    }
    if (f & F_AUDIO)
        return ARCH_AUDIO;
    if (f & F_PATCH)
        return ARCH_VISION;
    if (f & (F_DEC | F_LMHEAD))
        return ARCH_DECODER;
    if (f & F_ENC)
        return ARCH_ENCODER;
    static const struct { const char *set; int arch; } set_arch[] = {
        {"llama", ARCH_DECODER}, {"gpt2", ARCH_DECODER}, {"bert", ARCH_ENCODER},
        {"vit", ARCH_VISION}, {"clip", ARCH_MULTIMODAL}, {"t5", ARCH_ENC_DEC},
        {"whisper", ARCH_ENC_DEC}};
    for (size_t i = 0; i < COUNT(set_arch); i++)
        if (!strcmp(m->rule_set, set_arch[i].set)) {
            mc->enc_mod = !strcmp(m->rule_set, "whisper") ? MOD_AUDIO
                          : !strcmp(m->rule_set, "clip") ? MOD_VISION : MOD_TEXT;
            return set_arch[i].arch;
        }
    return ARCH_UNKNOWN;
}

static mclass pick_class(wg_model *m)
{
    mclass mc = {ARCH_UNKNOWN, MOD_TEXT, false, NULL};
    unsigned f = name_facts(m);
    mc.arch = arch_from_config(&m->config, &mc);
    if (mc.arch == ARCH_UNKNOWN)
        mc.arch = arch_from_names(m, f, &mc);
    if (mc.arch == ARCH_VISION)
        mc.enc_mod = MOD_VISION;
    else if (mc.arch == ARCH_AUDIO)
        mc.enc_mod = MOD_AUDIO;
    const char *a = m->config.architecture;
    mc.generative = (f & F_LMHEAD) || wg_glob_match("*ForConditionalGeneration", a, NULL) ||
                    wg_glob_match("*ForCausalLM", a, NULL) || wg_glob_match("*LMHead*", a, NULL);
    snprintf(m->arch, sizeof m->arch, "%s", arch_names[mc.arch]);
    return mc;
}

/* ------------------------------------------------------------------ components */

static bool embed_seg(const tname *n)
{
    for (int i = 0; i < n->nseg; i++)
        if (strstr(n->seg[i], "embed"))
            return true;
    return false;
}

static bool head_seg(const tname *n)
{
    for (int i = 0; i < n->nseg; i++)
        if (ANY(head_segments, n->seg[i]) || strstr(n->seg[i], "vocab"))
            return true;
    return n->owner_i == 0 && !strcmp(n->owner, "decoder"); /* an output layer named decoder */
}

/* The text decoder's parts: token tables, the stack, and after it the final norm and head. */
static const char *decoder_part(const wg_tensor *t, const tname *n, long layer)
{
    if (t->role == WG_ROLE_EMBEDDING || t->role == WG_ROLE_POS_EMBEDDING ||
        (layer < 0 && embed_seg(n)))
        return "embeddings";
    if (layer < 0 && (head_seg(n) || t->role == WG_ROLE_NORM))
        return "head";
    return "decoder";
}

static const char *encoder_of(int mod)
{
    return mod == MOD_VISION ? "vision_encoder"
           : mod == MOD_AUDIO ? "audio_encoder" : "text_encoder";
}

static const char *component_of(const mclass *mc, const wg_tensor *t, const tname *n, long layer)
{
    if (n->projector)
        return "projector";
    if (t->role == WG_ROLE_HEAD)
        return "head";
    int tower = MOD_NONE, stack = 0;
    bool tdec = false;
    for (int i = 0; i < n->nseg - 1 && !tower && !stack; i++)
        if (!(tower = tower_of(n->seg[i], &tdec)) && i < n->owner_i)
            stack = stack_of(n->seg[i]); /* a module itself named decoder is a head, not a stack */
    bool emb = t->role == WG_ROLE_EMBEDDING || t->role == WG_ROLE_POS_EMBEDDING;
    if (tower == MOD_VISION || tower == MOD_AUDIO)
        return encoder_of(tower);
    if (tower == MOD_TEXT) /* a generating model's text tower is its decoder */
        return tdec || (mc->generative && mc->arch == ARCH_MULTIMODAL && !strstr(n->low, "encoder"))
                   ? decoder_part(t, n, layer) : "text_encoder";
    if (stack == 2 && mc->arch == ARCH_ENCODER) /* nothing generates: a stack of the encoder */
        return "text_encoder";
    if (stack == 2)
        return decoder_part(t, n, layer);
    if (stack == 1)
        return mc->enc_mod == MOD_TEXT && emb && mc->arch == ARCH_ENC_DEC ? "embeddings"
                                                                          : encoder_of(mc->enc_mod);
    bool head = layer < 0 && head_seg(n);
    switch (mc->arch) {
    case ARCH_VISION: case ARCH_AUDIO:
        return head ? "head" : encoder_of(mc->enc_mod);
    case ARCH_ENCODER:
        return head ? "head" : emb || (layer < 0 && embed_seg(n)) ? "embeddings" : "text_encoder";
    case ARCH_DECODER:
        return decoder_part(t, n, layer);
    case ARCH_MULTIMODAL:
        if (mc->generative)
            return decoder_part(t, n, layer);
        return head ? "head" : emb ? "embeddings" : "model";
    default: /* encoder-decoder without stack names, or nothing known */
        return head ? "head" : emb && (mc->arch != ARCH_UNKNOWN || embed_seg(n)) ? "embeddings"
               : "model";
    }
}

/* ------------------------------------------------------------------ user rules */

typedef struct user_rule {
    char *pattern, *component;
    int role; /* -1: keep */
    int layout; /* 0 keep, 1 [in,out], 2 [out,in] */
} user_rule;

static int load_user_rules(const char *path, user_rule **out, size_t *n, char *family,
                           wg_error *err)
{
    json_error_t jerr;
    int fd = wg_open_input(path, err);
    if (fd < 0)
        return err->code;
    json_t *root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
    close(fd);
    if (!root)
        return wg_fail(err, WG_EINPUT, path, "invalid JSON at line %d: %s", jerr.line, jerr.text);
    int rc = 0;
    json_t *rules = json_object_get(root, "rules"), *fam = json_object_get(root, "family");
    if (!json_is_object(root) || !json_is_array(rules)) {
        rc = wg_fail(err, WG_EINPUT, path, "rules file must be an object with a \"rules\" array");
        goto out;
    }
    if (fam && !json_is_string(fam)) {
        rc = wg_fail(err, WG_EINPUT, path, "\"family\" must be a string");
        goto out;
    }
    if (fam)
        snprintf(family, 32, "%s", json_string_value(fam));
    *n = json_array_size(rules);
    *out = calloc(*n ? *n : 1, sizeof **out);
    if (!*out) {
        rc = wg_fail(err, WG_EIO, path, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < *n; i++) {
        json_t *r = json_array_get(rules, i), *p = json_object_get(r, "pattern"),
               *ro = json_object_get(r, "role"), *c = json_object_get(r, "component"),
               *lay = json_object_get(r, "layout");
        user_rule *u = &(*out)[i];
        u->role = -1;
        if (!json_is_string(p) || (ro && !json_is_string(ro)) || (c && !json_is_string(c)) ||
            (lay && !json_is_string(lay))) {
            rc = wg_fail(err, WG_EINPUT, path, "rule %zu: needs a string \"pattern\" and "
                         "optional string \"role\", \"component\", \"layout\"", i);
            goto out;
        }
        if (ro && (u->role = wg_role_parse(json_string_value(ro))) < 0) {
            rc = wg_fail(err, WG_EINPUT, path, "rule %zu: unknown role '%s'", i,
                         json_string_value(ro));
            goto out;
        }
        if (c && (strlen(json_string_value(c)) >= 32 || !wg_plain_name(json_string_value(c), false))) {
            rc = wg_fail(err, WG_EINPUT, path, "rule %zu: component name must be 1-31 of "
                         "[A-Za-z0-9_.-], not starting with '.'", i);
            goto out;
        }
        if (lay) {
            const char *l = json_string_value(lay);
            u->layout = !strcmp(l, "in_out") ? 1 : !strcmp(l, "out_in") ? 2 : -1;
            if (u->layout < 0) {
                rc = wg_fail(err, WG_EINPUT, path, "rule %zu: layout must be in_out or out_in", i);
                goto out;
            }
        }
        u->pattern = strdup(json_string_value(p));
        u->component = c ? strdup(json_string_value(c)) : NULL;
    }
out:
    json_decref(root);
    return rc;
}

static void free_user_rules(user_rule *u, size_t n)
{
    for (size_t i = 0; u && i < n; i++) {
        free(u[i].pattern);
        free(u[i].component);
    }
    free(u);
}

/* ------------------------------------------------------------------ classify */

/* First user rule naming the tensor (by name, then module path), or NULL. */
static const user_rule *user_match(const user_rule *ur, size_t nur, const wg_tensor *t, long *layer)
{
    const char *names[2] = {t->name, t->module};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; names[k] && i < nur; i++)
            if (wg_glob_match(ur[i].pattern, names[k], layer))
                return &ur[i];
    return NULL;
}

/* First row of the model's naming family naming the tensor, or NULL. */
static const rule *set_match(const wg_model *m, const wg_tensor *t, long *layer)
{
    const char *names[2] = {t->name, t->module};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; names[k] && i < N_BUILTIN; i++)
            if (!strcmp(builtin[i].set, m->rule_set) &&
                wg_glob_match(builtin[i].pattern, names[k], layer))
                return &builtin[i];
    return NULL;
}

static void classify_tensor(wg_model *m, const mclass *mc, wg_tensor *t, const user_rule *ur,
                            size_t nur)
{
    tname n;
    parse_name(&n, tensor_path(t));
    long layer = -1;
    const user_rule *u = user_match(ur, nur, t, &layer);
    const rule *r = u || t->constant ? NULL : set_match(m, t, &layer);
    if (layer < 0)
        layer = guess_layer(t->name);
    if (layer < 0 && t->module)
        layer = guess_layer(t->module);
    if (layer > WG_MAX_LAYER(m->n_tensors)) /* a number in a name, not a layer we can hold */
        layer = -1;
    t->layer = (int)layer;
    if (t->constant)
        t->role = WG_ROLE_OTHER;
    else if (r) {
        t->role = r->role;
        if ((r->flags & IN_OUT) && m->kind != WG_IN_ONNX) /* ONNX: the graph decides */
            t->in_dim_first = true;
    } else
        t->role = base_role(m, mc, t, &n, layer);
    /* a 1-D tensor named like a matrix is its bias or scale, never a matrix */
    if (t->ndim <= 1 && matrix_role(t->role))
        t->role = bias_named(n.param) ? WG_ROLE_BIAS : WG_ROLE_OTHER;
    if (u && u->role >= 0)
        t->role = (wg_role)u->role;
    if (u && u->layout)
        t->in_dim_first = u->layout == 1;
    char scomp[32];
    const char *comp = u ? u->component : NULL;
    if (!comp && t->scope_len) {
        /* a subgraph (If/Loop/Scan body) is a component of its own: a loader fetches only the
         * branch it runs */
        size_t k = 0;
        for (const char *p = t->name; p < t->name + t->scope_len && k < sizeof scomp - 1; p++)
            scomp[k++] = isalnum((unsigned char)*p) ? *p : '_';
        scomp[k] = 0;
        comp = scomp;
    }
    snprintf(t->component, sizeof t->component, "%s", comp ? comp : component_of(mc, t, &n, layer));
}

int wg_classify(wg_model *m, const char *rules_path, wg_error *err)
{
    user_rule *ur = NULL;
    size_t nur = 0;
    char ufam[32] = "";
    if (rules_path) {
        int rc = load_user_rules(rules_path, &ur, &nur, ufam, err);
        if (rc) {
            free_user_rules(ur, nur);
            return rc;
        }
    }
    wg_onnx_structural_roles(m); /* ONNX: the role the consuming op gives */
    tname n;
    for (size_t i = 0; i < m->n_tensors; i++) {
        wg_tensor *t = &m->tensors[i];
        parse_name(&n, tensor_path(t));
        t->constant = is_constant(m, t, &n);
        if (t->constant)
            t->module = NULL; /* the op's module says nothing about a shape or index value */
    }
    pick_family(m, ufam);
    mclass mc = pick_class(m);
    mc.sorted = malloc((m->n_tensors ? m->n_tensors : 1) * sizeof *mc.sorted);
    if (!mc.sorted) {
        free_user_rules(ur, nur);
        return wg_fail(err, WG_EIO, m->path, "out of memory");
    }
    for (size_t i = 0; i < m->n_tensors; i++)
        mc.sorted[i] = (name_ref){m->tensors[i].name, i};
    qsort(mc.sorted, m->n_tensors, sizeof *mc.sorted, name_ref_cmp);
    for (size_t i = 0; i < m->n_tensors; i++)
        classify_tensor(m, &mc, &m->tensors[i], ur, nur);
    free(mc.sorted);
    free_user_rules(ur, nur);
    return 0;
}
