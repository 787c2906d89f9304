/* program/models/olmoe.c — OLMoE: OLMo 2's q/k RMSNorms over the whole projection in a pre-norm
 * Llama decoder whose MLP is a mixture of num_experts experts (mlp.experts.N.gate_proj ...),
 * renormalised by norm_topk_prob; clip_qkv is refused (left unclaimed). */
#include "models.h"

void wg_tpl_olmoe(wg_pbuild *b)
{
    pb_dec d;
    pb_dec_defaults(b, &d);
    d.qk_norm = 2;
    d.qkv_bias = d.o_bias = pb_bool(b, "attention_bias", false);
    pb_moe_config(b, &d, d.I, pb_bool(b, "norm_topk_prob", false), "mlp", "gate_proj",
                  "up_proj", "down_proj");
    pb_decoder(b, &d);
}
