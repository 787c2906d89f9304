/* program/models/falcon.c — Falcon: q/k/v in one matrix (per key/value group in the new
 * decoder architecture, per head, or multi-query [q|k|v]), rotary, attention and feed-forward
 * side by side from one or two LayerNorms (parallel_attn) or in sequence, biases where `bias`
 * says, exact GELU. Falcon's ALiBi (scaled with the scores) is refused. */
#include "models.h"


void wg_tpl_falcon(wg_pbuild *b)
{
    bool arch2 = pb_bool(b, "new_decoder_architecture", false);
    pb_gpt g = {.L = pb_need(b, "num_hidden_layers"), .H = pb_need(b, "hidden_size"),
                .V = pb_need(b, "vocab_size"), .NP = pb_int(b, "max_position_embeddings", 2048),
                .eps = pb_num(b, "layer_norm_epsilon", 1e-5), .act = pb_act_code(b, "activation", "gelu"),
                .wte = "transformer.word_embeddings", .ln_f = "transformer.ln_f", .head = "lm_head",
                .layer = "transformer.h.%lld.", .qkv = "self_attention.query_key_value",
                .o = "self_attention.dense", .fc1 = "mlp.dense_h_to_4h", .fc2 = "mlp.dense_4h_to_h"};
    g.I = pb_int(b, "ffn_hidden_size", 4 * g.H);
    g.qkv_bias = g.o_bias = g.mlp_bias = pb_bool(b, "bias", false);
    int64_t nh = pb_need(b, "num_attention_heads");
    bool mq = pb_bool(b, "multi_query", true);
    int64_t nkv = arch2 ? pb_int(b, "num_kv_heads", nh) : mq ? 1 : nh;
    bool par = pb_bool(b, "parallel_attn", true); /* the new architecture is parallel always */
    g.parallel = arch2 || par;
    int nln = (int)pb_int(b, "num_ln_in_parallel_attn", arch2 ? 2 : 1);
    if (arch2 && nln == 2) {
        g.ln1 = "ln_attn";
        g.ln2 = "ln_mlp";
    } else {
        g.ln1 = "input_layernorm";
        g.ln2 = g.parallel ? NULL : "post_attention_layernorm";
    }
    if (pb_bool(b, "alibi", false))
        pb_fail(b, "config.json: Falcon's alibi is not implemented by the falcon program");
    if (nln != 1 && nln != 2)
        pb_fail(b, "config.json: num_ln_in_parallel_attn %d is not implemented", nln);
    if (!pb_gpt_attn(b, &g, nh, nkv, "num_attention_heads"))
        return;
    g.qkv_layout = arch2 ? 2 : mq ? 0 : 1;
    g.a.rope = true;
    g.a.rot = g.a.head_dim;
    pb_gpt_decoder(b, &g);
}
