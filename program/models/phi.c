/* program/models/phi.c — Phi (1, 1.5, 2): attention and feed-forward side by side from one
 * LayerNorm, biases everywhere, partial rotary, a head with a bias; qk_layernorm is refused. */
#include "models.h"

#include <math.h>

void wg_tpl_phi(wg_pbuild *b)
{
    pb_gpt g = {.L = pb_need(b, "num_hidden_layers"), .H = pb_need(b, "hidden_size"),
                .I = pb_need(b, "intermediate_size"), .V = pb_need(b, "vocab_size"),
                .NP = pb_need(b, "max_position_embeddings"), .eps = pb_num(b, "layer_norm_eps", 1e-5),
                .act = pb_act_code(b, "hidden_act", "gelu_new"), .wte = "model.embed_tokens",
                .ln_f = "model.final_layernorm", .head = "lm_head", .head_bias = true,
                .layer = "model.layers.%lld.", .ln1 = "input_layernorm", .parallel = true,
                .q = "self_attn.q_proj", .k = "self_attn.k_proj", .v = "self_attn.v_proj",
                .o = "self_attn.dense", .fc1 = "mlp.fc1", .fc2 = "mlp.fc2", .qkv_bias = true,
                .o_bias = true, .mlp_bias = true};
    int64_t nh = pb_need(b, "num_attention_heads");
    if (pb_bool(b, "qk_layernorm", false))
        pb_fail(b, "config.json: qk_layernorm is not implemented by the phi program");
    if (!PB_OK(b) || g.H % nh) {
        pb_fail(b, "config.json: hidden_size is not a multiple of num_attention_heads");
        return;
    }
    int64_t hd = g.H / nh;
    g.a = (pb_attn){.heads = nh, .kv_heads = pb_int(b, "num_key_value_heads", nh), .head_dim = hd,
                    .causal = true, .rope = true, .mask = -1, .scale = 1 / sqrt((double)hd),
                    .rot = (int64_t)(hd * pb_partial_rotary(b, 0.5))};
    pb_gpt_decoder(b, &g);
}
