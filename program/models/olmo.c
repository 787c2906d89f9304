/* program/models/olmo.c — OLMo (the first): the Llama design with LayerNorms that have no
 * weights and no bias; clip_qkv is refused (left unclaimed). */
#include "models.h"

void wg_tpl_olmo(wg_pbuild *b)
{
    pb_dec d;
    pb_dec_defaults(b, &d);
    d.layernorm = d.norm_bare = true;
    d.eps = 1e-5;
    d.qkv_bias = d.o_bias = pb_bool(b, "attention_bias", false);
    pb_decoder(b, &d);
}
