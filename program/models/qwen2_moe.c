/* program/models/qwen2_moe.c — Qwen2-MoE and Qwen3-MoE: Qwen 2's decoder (q/k/v biases per
 * qkv_bias) or Qwen 3's (per-head q/k RMSNorm; no max_window_layers), with mixtures of num_experts experts of
 * moe_intermediate_size (mlp.experts.N.gate_proj ...), renormalised by norm_topk_prob; layers of
 * mlp_only_layers or off decoder_sparse_step keep a dense MLP of intermediate_size. Qwen2-MoE
 * adds a shared expert (shared_expert_intermediate_size) gated by sigmoid(shared_expert_gate). */
#include "models.h"

#include <string.h>

/* transformers 5: Qwen2-MoE windows the layers its config.json's layer_types says (without them
 * transformers 4 and 5 window different layers: refused); Qwen3-MoE every layer when
 * use_sliding_window, its layer_types left unclaimed (refused); sliding_window is dropped when
 * use_sliding_window is off */
static void windows(wg_pbuild *b, pb_dec *d, bool q3)
{
    bool on = pb_bool(b, "use_sliding_window", false);
    pb_int(b, "max_window_layers", 0);
    if (!q3 && pb_cfg(b, "layer_types")) {
        pb_dec_windows(b, d, 'q');
        return;
    }
    int64_t w = pb_int(b, "sliding_window", 0);
    if (on && !q3)
        pb_fail(b, "config.json: use_sliding_window without layer_types is not implemented by the "
                "qwen2_moe program (transformers 4 and 5 window different layers)");
    for (int64_t li = 0; on && li < d->L; li++)
        d->window_of[li] = w;
}

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
    windows(b, &d, q3);
    pb_moe_config(b, &d, pb_need(b, "moe_intermediate_size"),
                  pb_bool(b, "norm_topk_prob", false), "mlp", "gate_proj", "up_proj", "down_proj");
    if (!q3)
        d.moe.shared_I = pb_need(b, "shared_expert_intermediate_size");
    pb_moe_layers(b, &d);
    pb_decoder(b, &d);
}
