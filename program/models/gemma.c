/* program/models/gemma.c — Gemma and Gemma 2: RMSNorm weights stored as w - 1, embeddings
 * scaled by sqrt(hidden), a GeGLU feed-forward (tanh GELU); Gemma 2 adds norms after the
 * attention and the feed-forward, a sliding window on even layers, soft-capped attention
 * scores and logits, and scores scaled by query_pre_attn_scalar^-1/2. */
#include "models.h"

#include <math.h>
#include <string.h>

void wg_tpl_gemma(wg_pbuild *b)
{
    bool g2 = !strcmp(b->p->model_type, "gemma2");
    pb_dec d;
    pb_dec_defaults(b, &d);
    /* HF's Gemma MLPs use hidden_activation where set (hidden_act is the legacy key) */
    json_t *ha = pb_cfg(b, "hidden_activation");
    d.act = pb_act_code(b, ha ? "hidden_activation" : "hidden_act", "gelu_pytorch_tanh");
    d.norm_off = 1;
    d.embed_mult = (double)(float)sqrt((double)d.H);
    d.qkv_bias = d.o_bias = pb_bool(b, "attention_bias", false);
    if (g2) {
        d.sandwich = true;
        pb_dec_windows(b, &d, 'e');
        d.a.scale = 1 / sqrt(pb_num(b, "query_pre_attn_scalar", (double)d.a.head_dim));
        d.a.softcap = pb_num(b, "attn_logit_softcapping", 0);
        d.final_softcap = pb_num(b, "final_logit_softcapping", 0);
    }
    pb_decoder(b, &d);
}
