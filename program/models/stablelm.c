/* program/models/stablelm.c — StableLM: LayerNorm with bias, partial rotary, optional q/k/v
 * biases (use_qkv_bias); per-head LayerNorms of q and k and the parallel residual are refused. */
#include "models.h"

void wg_tpl_stablelm(wg_pbuild *b)
{
    pb_dec d;
    pb_dec_defaults(b, &d);
    d.layernorm = d.norm_bias = true;
    d.eps = pb_num(b, "layer_norm_eps", 1e-5);
    d.qkv_bias = pb_bool(b, "use_qkv_bias", false);
    if (pb_bool(b, "qk_layernorm", false) || pb_bool(b, "use_parallel_residual", false))
        pb_fail(b, "config.json: qk_layernorm / use_parallel_residual are not implemented by the "
                "stablelm program");
    pb_decoder(b, &d);
}
