/* program/models/opt.c — OPT: learned positions offset by 2, pre-LN layers (do_layer_norm_before;
 * the post-LN variant is refused), biases everywhere, a ReLU feed-forward, the head tied to the
 * embeddings; a projected embedding (word_embed_proj_dim) is refused. */
#include "models.h"


void wg_tpl_opt(wg_pbuild *b)
{
    pb_gpt g = {.L = pb_need(b, "num_hidden_layers"), .H = pb_need(b, "hidden_size"),
                .I = pb_need(b, "ffn_dim"), .V = pb_need(b, "vocab_size"),
                .NP = pb_need(b, "max_position_embeddings"), .pos_offset = 2, .eps = 1e-5,
                .act = pb_act_code(b, "activation_function", "relu"), .wte = "model.decoder.embed_tokens",
                .wpe = "model.decoder.embed_positions", .ln_f = "model.decoder.final_layer_norm",
                .head = "lm_head", .layer = "model.decoder.layers.%lld.", .ln1 = "self_attn_layer_norm",
                .ln2 = "final_layer_norm", .q = "self_attn.q_proj", .k = "self_attn.k_proj",
                .v = "self_attn.v_proj", .o = "self_attn.out_proj", .fc1 = "fc1", .fc2 = "fc2"};
    g.qkv_bias = g.o_bias = g.mlp_bias = pb_bool(b, "enable_bias", true);
    int64_t nh = pb_need(b, "num_attention_heads");
    if (!pb_bool(b, "do_layer_norm_before", true) || pb_int(b, "word_embed_proj_dim", g.H) != g.H ||
        !pb_bool(b, "layer_norm_elementwise_affine", true))
        pb_fail(b, "config.json: post-LN OPT, a projected embedding or LayerNorms without weights "
                "are not implemented by the opt program");
    if (pb_gpt_attn(b, &g, nh, nh, "num_attention_heads"))
        pb_gpt_decoder(b, &g);
}
