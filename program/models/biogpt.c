/* program/models/biogpt.c — BioGPT: token embeddings scaled by sqrt(hidden) (scale_embedding),
 * learned positions offset by 2, pre-LN layers with biases everywhere, a GELU feed-forward, a
 * final LayerNorm and the output projection (tied to the embeddings when absent). */
#include "models.h"

#include <math.h>

void wg_tpl_biogpt(wg_pbuild *b)
{
    pb_gpt g = {.L = pb_need(b, "num_hidden_layers"), .H = pb_need(b, "hidden_size"),
                .I = pb_need(b, "intermediate_size"), .V = pb_need(b, "vocab_size"),
                .NP = pb_need(b, "max_position_embeddings"), .pos_offset = 2,
                .eps = pb_num(b, "layer_norm_eps", 1e-12), .act = pb_act_code(b, "hidden_act", "gelu"),
                .wte = "biogpt.embed_tokens", .wpe = "biogpt.embed_positions", .ln_f = "biogpt.layer_norm",
                .head = "output_projection", .layer = "biogpt.layers.%lld.", .ln1 = "self_attn_layer_norm",
                .ln2 = "final_layer_norm", .q = "self_attn.q_proj", .k = "self_attn.k_proj",
                .v = "self_attn.v_proj", .o = "self_attn.out_proj", .fc1 = "fc1", .fc2 = "fc2",
                .qkv_bias = true, .o_bias = true, .mlp_bias = true};
    g.embed_mult = pb_bool(b, "scale_embedding", true) ? (double)(float)sqrt((double)g.H) : 1;
    int64_t nh = pb_need(b, "num_attention_heads");
    if (pb_gpt_attn(b, &g, nh, nh, "num_attention_heads"))
        pb_gpt_decoder(b, &g);
}
