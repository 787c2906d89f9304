/* program/models/starcoder2.c — Starcoder 2: LayerNorm with bias (norm_epsilon), biases on every
 * projection (use_bias), a plain c_fc / c_proj feed-forward, a window on every layer. */
#include "models.h"

void wg_tpl_starcoder2(wg_pbuild *b)
{
    pb_dec d;
    pb_dec_defaults(b, &d);
    d.layernorm = d.norm_bias = true;
    d.eps = pb_num(b, "norm_epsilon", 1e-5);
    d.qkv_bias = d.o_bias = d.mlp_bias = pb_bool(b, "use_bias", true);
    d.plain_mlp = true;
    d.act = pb_act_code(b, "hidden_act", "gelu_pytorch_tanh");
    pb_dec_windows(b, &d, 'a');
    pb_decoder(b, &d);
}
