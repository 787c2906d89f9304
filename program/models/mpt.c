/* program/models/mpt.c — MPT: q/k/v in one matrix [q|k|v], ALiBi (largest bias 8),
 * LayerNorms without bias, no linear biases (no_bias), an exact-GELU feed-forward of 4 x d_model
 * (as HF builds it), the head tied to the embeddings. clip_qkv, q/k LayerNorms, a
 * softmax_scale of its own and prefix-LM attention are refused. */
#include "models.h"

#include <string.h>

static double attn_cfg(wg_pbuild *b, const char *key, double neutral)
{
    json_t *ac = pb_cfg(b, "attn_config"), *v = ac ? json_object_get(ac, key) : NULL;
    if (ac && !json_is_object(ac)) {
        pb_fail(b, "config.json: attn_config is not an object");
        return neutral;
    }
    if (!v || json_is_null(v))
        return neutral;
    if (json_is_boolean(v))
        return json_is_true(v);
    if (!json_is_number(v)) {
        pb_fail(b, "config.json: attn_config.%s is not a number", key);
        return neutral;
    }
    return json_number_value(v);
}

void wg_tpl_mpt(wg_pbuild *b)
{
    pb_gpt g = {.L = pb_need(b, "n_layers"), .H = pb_need(b, "d_model"), .V = pb_need(b, "vocab_size"),
                .NP = pb_need(b, "max_seq_len"), .eps = pb_num(b, "layer_norm_epsilon", 1e-5), .act = 1,
                .wte = "transformer.wte", .ln_f = "transformer.norm_f", .head = "lm_head",
                .ln_no_bias = true, .layer = "transformer.blocks.%lld.", .ln1 = "norm_1", .ln2 = "norm_2",
                .qkv = "attn.Wqkv", .o = "attn.out_proj", .fc1 = "ffn.up_proj", .fc2 = "ffn.down_proj"};
    /* HF's MPT feed-forward is 4 x d_model whatever expansion_ratio says */
    pb_int(b, "expansion_ratio", 4);
    g.I = 4 * g.H;
    int64_t nh = pb_need(b, "n_heads");
    if (!pb_bool(b, "no_bias", true))
        pb_fail(b, "config.json: no_bias false is not implemented by the mpt program");
    /* HF computes both as LayerNorm (the low-precision one differs only under autocast) */
    const char *nt = pb_str(b, "norm_type", "low_precision_layernorm");
    if (strcmp(nt, "low_precision_layernorm") && strcmp(nt, "layernorm"))
        pb_fail(b, "config.json: norm_type \"%s\" is not implemented by the mpt program", nt);
    /* HF's MPT builds its slopes for the largest bias 8 whatever alibi_bias_max says: another
     * value is refused rather than run as HF would not */
    double bmax = attn_cfg(b, "alibi_bias_max", 8);
    if (bmax != 8)
        pb_fail(b, "config.json: attn_config.alibi_bias_max %g is not implemented (HF's MPT uses 8)", bmax);
    if (attn_cfg(b, "clip_qkv", 0) || attn_cfg(b, "qk_ln", 0) || attn_cfg(b, "softmax_scale", 0) ||
        attn_cfg(b, "prefix_lm", 0))
        pb_fail(b, "config.json: attn_config clip_qkv / qk_ln / softmax_scale / prefix_lm are not "
                "implemented by the mpt program");
    if (!pb_gpt_attn(b, &g, nh, nh, "n_heads"))
        return;
    g.a.alibi = bmax;
    pb_gpt_decoder(b, &g);
}
