/* formats/hfconfig.c — the facts wgpack uses from a HuggingFace config.json, and the one place
 * they are validated. Different families name the same fact differently (n_layer,
 * num_hidden_layers, ...); each fact is a row of alternative keys, looked up at the top level
 * and then in the nested text_config / decoder sub-configs that multi-part models use.
 *
 * A config.json is untrusted input like the weights: every fact has a bound far beyond any real
 * model (so that products of facts fit in 64 bits), the facts must agree with each other
 * (kv heads <= heads <= hidden size), and wg_hfconfig_check() checks them against the tensors
 * present (a model cannot have more layers than tensors, nor a hidden size larger than every
 * tensor dimension). Out of range is an input error naming config.json and the fact. */
#include "model.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct {
    size_t off;
    const char *keys[5];
    int64_t max;
} int_facts[] = {
    {offsetof(wg_hfconfig, num_layers), {"num_hidden_layers", "n_layer", "num_layers", "n_layers"}, 1 << 16},
    {offsetof(wg_hfconfig, hidden_size), {"hidden_size", "n_embd", "d_model", "dim"}, 1 << 20},
    {offsetof(wg_hfconfig, intermediate_size), {"intermediate_size", "n_inner", "d_ff", "ffn_dim"}, 1 << 22},
    {offsetof(wg_hfconfig, num_heads), {"num_attention_heads", "n_head", "num_heads", "encoder_attention_heads", "n_heads"}, 1 << 16},
    {offsetof(wg_hfconfig, num_kv_heads), {"num_key_value_heads", "num_kv_heads", "multi_query_group_num", NULL}, 1 << 16},
    {offsetof(wg_hfconfig, head_dim), {"head_dim", "d_kv", NULL, NULL}, 1 << 16},
    {offsetof(wg_hfconfig, vocab_size), {"vocab_size", NULL, NULL, NULL}, 1 << 28},
    {offsetof(wg_hfconfig, max_positions), {"max_position_embeddings", "n_positions", "max_target_positions", "n_ctx"}, 1 << 30},
    {offsetof(wg_hfconfig, sliding_window), {"sliding_window", NULL, NULL, NULL}, 1 << 30},
    {offsetof(wg_hfconfig, encoder_layers), {"encoder_layers", "num_encoder_layers", NULL, NULL}, 1 << 16},
    {offsetof(wg_hfconfig, decoder_layers), {"decoder_layers", "num_decoder_layers", NULL, NULL}, 1 << 16},
    {offsetof(wg_hfconfig, type_vocab_size), {"type_vocab_size", NULL, NULL, NULL}, 1 << 16},
    {offsetof(wg_hfconfig, pad_token_id), {"pad_token_id", NULL, NULL, NULL}, 1 << 30},
};
#define N_FACTS (sizeof int_facts / sizeof *int_facts)
#define FACT(c, i) (*(int64_t *)((char *)(c) + int_facts[i].off))

static int consistent(wg_hfconfig *c, const char *path, wg_error *err);

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

/* rope_scaling {type | rope_type, factor, low_freq_factor, high_freq_factor,
 * original_max_position_embeddings}, or the same keys in transformers 5's rope_parameters */
static void read_rope_scaling(wg_hfconfig *c, json_t *root)
{
    json_t *rs = lookup(root, "rope_scaling"), *v;
    if (!json_is_object(rs))
        rs = lookup(root, "rope_parameters");
    if (json_is_object(rs)) {
        v = json_object_get(rs, "rope_type");
        if (!json_is_string(v))
            v = json_object_get(rs, "type");
        if (json_is_string(v) && strcmp(json_string_value(v), "default"))
            snprintf(c->rope_type, sizeof c->rope_type, "%s", json_string_value(v));
        const char *keys[] = {"factor", "low_freq_factor", "high_freq_factor"};
        double *dst[] = {&c->rope_factor, &c->rope_low_freq, &c->rope_high_freq};
        for (int k = 0; k < 3; k++)
            if (json_is_number(v = json_object_get(rs, keys[k])))
                *dst[k] = json_number_value(v);
        if (json_is_integer(v = json_object_get(rs, "original_max_position_embeddings")))
            c->rope_orig_max = json_integer_value(v);
    }
    if (json_is_number(v = lookup(root, "partial_rotary_factor")))
        c->rope_partial = json_number_value(v);
}

int wg_hfconfig_read(wg_hfconfig *c, const char *path, wg_error *err)
{
    json_error_t jerr;
    int fd = wg_open_input(path, err);
    if (fd < 0)
        return err->code;
    json_t *root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
    close(fd);
    if (!root)
        return wg_fail(err, WG_EINPUT, path, "invalid JSON at line %d: %s", jerr.line, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return wg_fail(err, WG_EINPUT, path, "config is not a JSON object");
    }
    memset(c, 0, sizeof *c);
    c->present = true;
    snprintf(c->path, sizeof c->path, "%s", path);
    c->tie_word_embeddings = -1;
    c->pad_token_id = -1;
    json_t *v = json_object_get(root, "model_type");
    if (json_is_string(v))
        snprintf(c->model_type, sizeof c->model_type, "%s", json_string_value(v));
    v = json_object_get(root, "architectures");
    if (json_is_array(v) && json_is_string(json_array_get(v, 0)))
        snprintf(c->architecture, sizeof c->architecture, "%s",
                 json_string_value(json_array_get(v, 0)));
    int rc = 0;
    for (size_t i = 0; i < N_FACTS && !rc; i++) {
        for (int k = 0; k < 5 && int_facts[i].keys[k]; k++) {
            json_t *x = lookup(root, int_facts[i].keys[k]);
            if (!json_is_integer(x) || json_integer_value(x) < 0)
                continue;
            if (json_integer_value(x) > int_facts[i].max)
                rc = wg_fail(err, WG_EINPUT, path, "%s %lld is out of range (at most %lld)",
                             int_facts[i].keys[k], (long long)json_integer_value(x),
                             (long long)int_facts[i].max);
            FACT(c, i) = json_integer_value(x);
            break;
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
    read_rope_scaling(c, root);
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
    if (!rc && !(c->rms_norm_eps >= 0 && c->rms_norm_eps < 1))
        rc = wg_fail(err, WG_EINPUT, path, "rms_norm_eps %g is out of range [0, 1)", c->rms_norm_eps);
    if (!rc && !(c->rope_theta >= 0 && c->rope_theta <= 1e12))
        rc = wg_fail(err, WG_EINPUT, path, "rope_theta %g is out of range [0, 1e12]", c->rope_theta);
    if (!rc)
        rc = consistent(c, path, err);
    json_decref(root);
    return rc;
}

/* the facts against each other; with the bounds above every product below fits easily. Real
 * configs carry facts that do not describe the weights (a composite's top-level defaults, a
 * tiny test model's untouched defaults): a fact that contradicts another is dropped (0 =
 * unknown, so nothing computes with it), never trusted; only absurd sizes are refused. */
static int consistent(wg_hfconfig *c, const char *path, wg_error *err)
{
    if (c->num_heads && c->num_kv_heads > c->num_heads)
        c->num_kv_heads = 0;
    if (c->hidden_size && c->num_heads > c->hidden_size)
        c->num_heads = c->num_kv_heads = c->head_dim = 0;
    if (c->num_heads * c->head_dim > (1 << 24))
        return wg_fail(err, WG_EINPUT, path, "num_attention_heads x head_dim = %lld is out of "
                       "range (at most %d)", (long long)(c->num_heads * c->head_dim), 1 << 24);
    return 0;
}

int wg_hfconfig_check(wg_hfconfig *c, const wg_model *m, const char *path, wg_error *err)
{
    if (!c->present)
        return 0;
    int64_t maxdim = 0;
    for (size_t i = 0; i < m->n_tensors; i++)
        for (int d = 0; d < m->tensors[i].ndim; d++)
            maxdim = m->tensors[i].shape[d] > maxdim ? m->tensors[i].shape[d] : maxdim;
    static const size_t layers[] = {0, 9, 10}, sizes[] = {1, 2, 6};
    for (size_t k = 0; k < 3; k++)
        if (FACT(c, layers[k]) > (int64_t)m->n_tensors)
            return wg_fail(err, WG_EINPUT, path, "%s %lld, but the model has %zu tensors",
                           int_facts[layers[k]].keys[0], (long long)FACT(c, layers[k]),
                           m->n_tensors);
    /* a size no tensor has (BEiT's codebook vocab_size, a composite's text defaults) is not a
     * fact about these weights: dropped, so no hint or reference pass sizes anything by it */
    for (size_t k = 0; k < 3; k++)
        if (FACT(c, sizes[k]) > maxdim)
            FACT(c, sizes[k]) = 0;
    return 0;
}
