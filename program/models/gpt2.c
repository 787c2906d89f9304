/* program/models/gpt2.c — GPT-2 and GPT-BigCode: learned positions, q, k and v in one matrix
 * (GPT-2's Conv1D is stored [in, out]: the bundle's matrix view is [out][in]; BigCode's
 * multi-query one has one key/value head), biases everywhere, the head tied to the embeddings. */
#include "models.h"

#include <math.h>
#include <string.h>

void wg_tpl_gpt2(wg_pbuild *b)
{
    bool bigcode = !strcmp(b->p->model_type, "gpt_bigcode");
    pb_gpt g = {.L = pb_need(b, "n_layer"), .H = pb_need(b, "n_embd"), .V = pb_need(b, "vocab_size"),
                .NP = pb_need(b, "n_positions"), .eps = pb_num(b, "layer_norm_epsilon", 1e-5),
                .act = pb_act_code(b, "activation_function", bigcode ? "gelu_pytorch_tanh" : "gelu_new"),
                .ln1 = "ln_1", .ln2 = "ln_2", .qkv = "attn.c_attn", .o = "attn.c_proj",
                .fc1 = "mlp.c_fc", .fc2 = "mlp.c_proj", .qkv_bias = true, .o_bias = true,
                .mlp_bias = true, .head = "lm_head"};
    int64_t nh = pb_need(b, "n_head");
    g.I = pb_int(b, "n_inner", 4 * g.H);
    bool scaled = pb_bool(b, "scale_attn_weights", true);
    pb_bool(b, "reorder_and_upcast_attn", false); /* upcasting only: f32 computes the same */
    if (bigcode)
        pb_bool(b, "attention_softmax_in_fp32", true), pb_bool(b, "scale_attention_softmax_in_fp32", true);
    if (!PB_OK(b))
        return;
    if (g.H % nh)
        pb_fail(b, "config.json: n_embd %lld is not a multiple of n_head %lld", (long long)g.H, (long long)nh);
    int64_t hd = g.H / nh;
    g.a = (pb_attn){.heads = nh, .kv_heads = bigcode && pb_bool(b, "multi_query", true) ? 1 : nh,
                    .head_dim = hd, .causal = true, .mask = -1, .scale = scaled ? 1 / sqrt((double)hd) : 1};
    const char *pre = pb_has(b, "transformer.wte.weight") ? "transformer." : "";
    g.wte = *pre ? "transformer.wte" : "wte";
    g.wpe = *pre ? "transformer.wpe" : "wpe";
    g.ln_f = *pre ? "transformer.ln_f" : "ln_f";
    g.layer = *pre ? "transformer.h.%lld." : "h.%lld.";
    pb_gpt_decoder(b, &g);
}
