/* program/models/cohere.c — Cohere (Command R): LayerNorm without bias, attention and the
 * feed-forward side by side from one norm, interleaved rotary pairs, logits times logit_scale;
 * use_qk_norm is refused. */
#include "models.h"

void wg_tpl_cohere(wg_pbuild *b)
{
    pb_dec d;
    pb_dec_defaults(b, &d);
    d.layernorm = true;
    d.eps = pb_num(b, "layer_norm_eps", 1e-5);
    d.parallel = true;
    d.a.interleaved = true;
    d.qkv_bias = d.o_bias = pb_bool(b, "attention_bias", false);
    d.logits_mult = pb_num(b, "logit_scale", 0.0625);
    if (pb_bool(b, "use_qk_norm", false))
        pb_fail(b, "config.json: use_qk_norm is not implemented by the cohere program");
    pb_dec_windows(b, &d, 0);
    pb_decoder(b, &d);
}
