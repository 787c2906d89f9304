/* program/models/olmo2.c — OLMo 2: norms after the attention and the feed-forward only (none
 * before), RMSNorm of q and k over the whole projection. */
#include "models.h"

void wg_tpl_olmo2(wg_pbuild *b)
{
    pb_dec d;
    pb_dec_defaults(b, &d);
    d.post_only = true;
    d.qk_norm = 2;
    d.qkv_bias = d.o_bias = pb_bool(b, "attention_bias", false);
    pb_decoder(b, &d);
}
