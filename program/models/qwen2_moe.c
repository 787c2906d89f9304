/* program/models/qwen2_moe.c — Qwen2-MoE and Qwen3-MoE: Qwen 2's decoder (q/k/v biases per
 * qkv_bias) or Qwen 3's (per-head q/k RMSNorm), with mixtures of num_experts experts of
 * moe_intermediate_size (mlp.experts.N.gate_proj ...), renormalised by norm_topk_prob; layers of
 * mlp_only_layers or off decoder_sparse_step keep a dense MLP of intermediate_size. Qwen2-MoE
 * adds a shared expert (shared_expert_intermediate_size) gated by sigmoid(shared_expert_gate). */
#include "models.h"

#include <string.h>

void wg_tpl_qwen2_moe(wg_pbuild *b)
{
    bool q3 = !strcmp(b->p->model_type, "qwen3_moe");
    pb_dec d;
    pb_dec_defaults(b, &d);
    if (q3) {
        d.qk_norm = 1;
        d.qkv_bias = d.o_bias = pb_bool(b, "attention_bias", false);
    } else {
        d.qkv_bias = pb_bool(b, "qkv_bias", true);
    }
    pb_dec_windows(b, &d, 'q');
    pb_moe_config(b, &d, pb_need(b, "moe_intermediate_size"),
                  pb_bool(b, "norm_topk_prob", false), "mlp", "gate_proj", "up_proj", "down_proj");
    if (!q3)
        d.moe.shared_I = pb_need(b, "shared_expert_intermediate_size");
    pb_moe_layers(b, &d);
    pb_decoder(b, &d);
}
