/* program/models/codegen.c — CodeGen: GPT-J's block (attention and feed-forward side by side
 * from one LayerNorm, interleaved rotary on rotary_dim, no attention biases, a head with a bias)
 * with q, v, k in one matrix of four groups (the model-parallel layout it was trained in). */
#include "models.h"


void wg_tpl_codegen(wg_pbuild *b)
{
    pb_gpt g = {.L = pb_need(b, "n_layer"), .H = pb_need(b, "n_embd"), .V = pb_need(b, "vocab_size"),
                .NP = pb_need(b, "n_positions"), .eps = pb_num(b, "layer_norm_epsilon", 1e-5),
                .act = pb_act_code(b, "activation_function", "gelu_new"), .wte = "transformer.wte",
                .ln_f = "transformer.ln_f", .head = "lm_head", .head_bias = true,
                .layer = "transformer.h.%lld.", .ln1 = "ln_1", .parallel = true, .qkv = "attn.qkv_proj",
                .qkv_layout = 3, .o = "attn.out_proj", .fc1 = "mlp.fc_in", .fc2 = "mlp.fc_out",
                .mlp_bias = true};
    int64_t nh = pb_need(b, "n_head");
    g.I = pb_int(b, "n_inner", 4 * g.H);
    if (nh % 4)
        pb_fail(b, "config.json: n_head %lld is not a multiple of the 4 groups", (long long)nh);
    if (!pb_gpt_attn(b, &g, nh, nh, "n_head"))
        return;
    g.a.rope = g.a.interleaved = true;
    g.a.rot = pb_int(b, "rotary_dim", g.a.head_dim);
    pb_gpt_decoder(b, &g);
}
