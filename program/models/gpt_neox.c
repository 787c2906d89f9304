/* program/models/gpt_neox.c — GPT-NeoX (Pythia): q, k and v in one matrix laid out per head,
 * rotary on the first rotary_pct of each head, attention and feed-forward from two LayerNorms of
 * the same input side by side (use_parallel_residual) or in sequence, an untied head. */
#include "models.h"

#include <math.h>

void wg_tpl_gpt_neox(wg_pbuild *b)
{
    pb_gpt g = {.L = pb_need(b, "num_hidden_layers"), .H = pb_need(b, "hidden_size"),
                .I = pb_need(b, "intermediate_size"), .V = pb_need(b, "vocab_size"),
                .NP = pb_need(b, "max_position_embeddings"), .eps = pb_num(b, "layer_norm_eps", 1e-5),
                .act = pb_act_code(b, "hidden_act", "gelu"), .wte = "gpt_neox.embed_in",
                .ln_f = "gpt_neox.final_layer_norm", .head = "embed_out", .layer = "gpt_neox.layers.%lld.",
                .ln1 = "input_layernorm", .ln2 = "post_attention_layernorm",
                .parallel = pb_bool(b, "use_parallel_residual", true), .qkv = "attention.query_key_value",
                .qkv_layout = 1, .o = "attention.dense", .fc1 = "mlp.dense_h_to_4h", .fc2 = "mlp.dense_4h_to_h",
                .mlp_bias = true};
    g.qkv_bias = g.o_bias = pb_bool(b, "attention_bias", true);
    int64_t nh = pb_need(b, "num_attention_heads");
    if (!PB_OK(b) || g.H % nh) {
        pb_fail(b, "config.json: hidden_size is not a multiple of num_attention_heads");
        return;
    }
    int64_t hd = g.H / nh;
    double pct = pb_partial_rotary(b, 1);
    double base = pb_num(b, "rotary_emb_base", 0);
    g.a = (pb_attn){.heads = nh, .kv_heads = nh, .head_dim = hd, .causal = true, .rope = true,
                    .rot = (int64_t)(hd * pct), .mask = -1, .scale = 1 / sqrt((double)hd)};
    if (base > 0 && !pb_cfg(b, "rope_theta")) /* older configs name the base rotary_emb_base */
        pb_fail(b, "config.json: rotary_emb_base without rope_theta is not implemented");
    pb_gpt_decoder(b, &g);
}
