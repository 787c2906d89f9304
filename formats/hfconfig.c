/* formats/hfconfig.c — the facts wgpack uses from a HuggingFace config.json.
 * Different families name the same fact differently (n_layer, num_hidden_layers, ...); each
 * fact is a row of alternative keys, looked up at the top level and then in the nested
 * text_config / decoder sub-configs that multi-part models use. */
#include "model.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const struct {
    size_t off;
    const char *keys[5];
} int_facts[] = {
    {offsetof(wg_hfconfig, num_layers), {"num_hidden_layers", "n_layer", "num_layers", "n_layers"}},
    {offsetof(wg_hfconfig, hidden_size), {"hidden_size", "n_embd", "d_model", "dim"}},
    {offsetof(wg_hfconfig, intermediate_size), {"intermediate_size", "n_inner", "d_ff", "ffn_dim"}},
    {offsetof(wg_hfconfig, num_heads), {"num_attention_heads", "n_head", "num_heads", "encoder_attention_heads", "n_heads"}},
    {offsetof(wg_hfconfig, num_kv_heads), {"num_key_value_heads", "num_kv_heads", "multi_query_group_num", NULL}},
    {offsetof(wg_hfconfig, head_dim), {"head_dim", "d_kv", NULL, NULL}},
    {offsetof(wg_hfconfig, vocab_size), {"vocab_size", NULL, NULL, NULL}},
    {offsetof(wg_hfconfig, max_positions), {"max_position_embeddings", "n_positions", "max_target_positions", "n_ctx"}},
    {offsetof(wg_hfconfig, sliding_window), {"sliding_window", NULL, NULL, NULL}},
    {offsetof(wg_hfconfig, encoder_layers), {"encoder_layers", "num_encoder_layers", NULL, NULL}},
    {offsetof(wg_hfconfig, decoder_layers), {"decoder_layers", "num_decoder_layers", NULL, NULL}},
    {offsetof(wg_hfconfig, type_vocab_size), {"type_vocab_size", NULL, NULL, NULL}},
    {offsetof(wg_hfconfig, pad_token_id), {"pad_token_id", NULL, NULL, NULL}},
};

/* Which parts a composite model has (sub-config objects) and which keys betray a vision or an
 * audio model (what the classifier needs to tell a BART from a Whisper, a ViT from a BERT). */
static const struct { const char *key; unsigned bit; } part_keys[] = {
    {"text_config", WG_CFG_TEXT}, {"llm_config", WG_CFG_TEXT}, {"language_config", WG_CFG_TEXT},
    {"vision_config", WG_CFG_VISION}, {"visual", WG_CFG_VISION}, {"image_config", WG_CFG_VISION},
    {"audio_config", WG_CFG_AUDIO}, {"speech_config", WG_CFG_AUDIO},
    {"encoder", WG_CFG_ENCODER}, {"decoder", WG_CFG_DECODER},
};
static const char *const vision_keys[] = {"image_size", "num_channels", "patch_size", "patch_sizes"};
static const char *const audio_keys[] = {"num_mel_bins", "conv_dim", "feat_extract_norm",
                                         "input_feat_per_channel", "num_conv_pos_embeddings",
                                         "audio_channels", "sampling_rate"};

static unsigned modality_hints(json_t *o, unsigned vision, unsigned audio)
{
    unsigned h = 0;
    for (size_t i = 0; i < sizeof vision_keys / sizeof *vision_keys; i++)
        if (json_object_get(o, vision_keys[i]))
            h |= vision;
    for (size_t i = 0; i < sizeof audio_keys / sizeof *audio_keys; i++)
        if (json_object_get(o, audio_keys[i]))
            h |= audio;
    return h;
}

static void read_structure(wg_hfconfig *c, json_t *root)
{
    for (size_t i = 0; i < sizeof part_keys / sizeof *part_keys; i++)
        if (json_is_object(json_object_get(root, part_keys[i].key)))
            c->parts |= part_keys[i].bit;
    c->hints = modality_hints(root, WG_HINT_VISION, WG_HINT_AUDIO);
    json_t *enc = json_object_get(root, "encoder");
    if (json_is_object(enc))
        c->hints |= modality_hints(enc, WG_HINT_ENC_VISION, WG_HINT_ENC_AUDIO);
    json_t *v = json_object_get(root, "is_encoder_decoder");
    c->is_encoder_decoder = json_is_boolean(v) ? json_is_true(v) : -1;
}

static json_t *lookup(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    if (v && !json_is_null(v))
        return v;
    static const char *nested[] = {"text_config", "decoder", "llm_config", "language_config"};
    for (size_t i = 0; i < sizeof nested / sizeof *nested; i++) {
        json_t *sub = json_object_get(root, nested[i]);
        if (json_is_object(sub) && (v = json_object_get(sub, key)) && !json_is_null(v))
            return v;
    }
    return NULL;
}

int wg_hfconfig_read(wg_hfconfig *c, const char *path, wg_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return wg_fail(err, WG_EINPUT, path, "invalid JSON at line %d: %s", jerr.line, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return wg_fail(err, WG_EINPUT, path, "config is not a JSON object");
    }
    memset(c, 0, sizeof *c);
    c->present = true;
    c->tie_word_embeddings = -1;
    c->pad_token_id = -1;
    json_t *v = json_object_get(root, "model_type");
    if (json_is_string(v))
        snprintf(c->model_type, sizeof c->model_type, "%s", json_string_value(v));
    v = json_object_get(root, "architectures");
    if (json_is_array(v) && json_is_string(json_array_get(v, 0)))
        snprintf(c->architecture, sizeof c->architecture, "%s",
                 json_string_value(json_array_get(v, 0)));
    for (size_t i = 0; i < sizeof int_facts / sizeof *int_facts; i++) {
        for (int k = 0; k < 5 && int_facts[i].keys[k]; k++) {
            json_t *x = lookup(root, int_facts[i].keys[k]);
            if (json_is_integer(x) && json_integer_value(x) >= 0) {
                *(int64_t *)((char *)c + int_facts[i].off) = json_integer_value(x);
                break;
            }
        }
    }
    v = lookup(root, "rms_norm_eps");
    if (json_is_number(v))
        c->rms_norm_eps = json_number_value(v);
    v = lookup(root, "rope_theta");
    if (!json_is_number(v)) { /* newer configs: rope_parameters.rope_theta */
        json_t *rp = lookup(root, "rope_parameters");
        v = json_is_object(rp) ? json_object_get(rp, "rope_theta") : NULL;
    }
    if (json_is_number(v))
        c->rope_theta = json_number_value(v);
    v = lookup(root, "layer_norm_eps");
    if (!json_is_number(v))
        v = lookup(root, "layer_norm_epsilon");
    if (json_is_number(v))
        c->layer_norm_eps = json_number_value(v);
    v = lookup(root, "hidden_act");
    if (!json_is_string(v))
        v = lookup(root, "activation"); /* DistilBERT */
    if (json_is_string(v))
        snprintf(c->hidden_act, sizeof c->hidden_act, "%s", json_string_value(v));
    v = lookup(root, "tie_word_embeddings");
    if (json_is_boolean(v))
        c->tie_word_embeddings = json_is_true(v);
    read_structure(c, root);
    if (!c->num_kv_heads)
        c->num_kv_heads = c->num_heads;
    if (!c->head_dim && c->num_heads)
        c->head_dim = c->hidden_size / c->num_heads;
    json_decref(root);
    return 0;
}
