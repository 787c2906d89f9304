/* program/models/mixtral.c — Mixtral: Mistral's decoder (a sliding window on every layer when
 * set) whose MLP is a mixture of num_local_experts SwiGLU experts (block_sparse_moe.experts.N.w1
 * gate, w3 up, w2 down), num_experts_per_tok a token, their weights always renormalised. */
#include "models.h"

void wg_tpl_mixtral(wg_pbuild *b)
{
    pb_dec d;
    pb_dec_defaults(b, &d);
    pb_dec_windows(b, &d, 'a');
    pb_moe_config(b, &d, d.I, true, "block_sparse_moe", "w1", "w3", "w2");
    pb_decoder(b, &d);
}
