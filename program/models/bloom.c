/* program/models/bloom.c — BLOOM: a LayerNorm of the word embeddings, q/k/v in one matrix laid
 * out per head, ALiBi instead of positions (slopes for the largest bias 8), tanh-GELU, biases
 * everywhere, the head tied to the embeddings. The residual taken after the LayerNorm
 * (apply_residual_connection_post_layernorm) is refused. */
#include "models.h"


void wg_tpl_bloom(wg_pbuild *b)
{
    pb_gpt g = {.L = pb_need(b, "n_layer"), .H = pb_need(b, "hidden_size"), .V = pb_need(b, "vocab_size"),
                .eps = pb_num(b, "layer_norm_epsilon", 1e-5), .act = 2,
                .wte = "transformer.word_embeddings", .emb_ln = "transformer.word_embeddings_layernorm",
                .ln_f = "transformer.ln_f", .head = "lm_head", .layer = "transformer.h.%lld.",
                .ln1 = "input_layernorm", .ln2 = "post_attention_layernorm",
                .qkv = "self_attention.query_key_value", .qkv_layout = 1, .o = "self_attention.dense",
                .fc1 = "mlp.dense_h_to_4h", .fc2 = "mlp.dense_4h_to_h", .qkv_bias = true, .o_bias = true,
                .mlp_bias = true};
    g.I = 4 * g.H;
    /* ALiBi has no position table: the key/value caches hold the training length */
    g.NP = pb_int(b, "seq_length", 2048);
    int64_t nh = pb_need(b, "n_head");
    if (pb_bool(b, "apply_residual_connection_post_layernorm", false))
        pb_fail(b, "config.json: apply_residual_connection_post_layernorm is not implemented by the "
                "bloom program");
    if (!pb_gpt_attn(b, &g, nh, nh, "n_head"))
        return;
    g.a.alibi = 8;
    pb_gpt_decoder(b, &g);
}
