/* program/models/gemma.c — Gemma, Gemma 2 and Gemma 3 (text): RMSNorm weights stored as w - 1,
 * embeddings scaled by sqrt(hidden), a GeGLU feed-forward (tanh GELU); Gemma 2 adds norms after
 * the attention and the feed-forward, a sliding window on even layers, soft-capped attention
 * scores and logits, and scores scaled by query_pre_attn_scalar^-1/2; Gemma 3 adds per-head
 * RMSNorms of q and k, windows by layer_types and a rotary table of its own theta for the
 * windowed layers (rope_local_base_freq, or rope_parameters.sliding_attention). */
#include "models.h"

#include <math.h>
#include <string.h>

/* the sliding layers' rotary table: its theta, unscaled */
static void gemma3(wg_pbuild *b, pb_dec *d)
{
    json_t *rp = pb_cfg(b, "rope_parameters"), *sl = json_is_object(rp) ? json_object_get(rp, "sliding_attention") : NULL;
    double theta = 10000;
    if (sl) {
        json_t *t = json_object_get(sl, "rope_type"), *th = json_object_get(sl, "rope_theta");
        if (!json_is_object(sl) || (t && !(json_is_string(t) && !strcmp(json_string_value(t), "default"))))
            pb_fail(b, "config.json: rope_parameters.sliding_attention other than a default rope is not implemented");
        if (json_is_number(th))
            theta = json_number_value(th);
    }
    d->local_theta = pb_num(b, "rope_local_base_freq", theta);
    d->local_rope = true;
    d->qk_norm = 1;
    if (!pb_cfg(b, "layer_types"))
        pb_fail(b, "config.json: a gemma3_text config without layer_types is not implemented");
}

void wg_tpl_gemma(wg_pbuild *b)
{
    bool g3 = !strcmp(b->p->model_type, "gemma3_text"), g2 = g3 || !strcmp(b->p->model_type, "gemma2");
    b->rope_by_type = g3;
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
        pb_dec_windows(b, &d, g3 ? 0 : 'e');
        d.a.scale = 1 / sqrt(pb_num(b, "query_pre_attn_scalar", (double)d.a.head_dim));
        d.a.softcap = pb_num(b, "attn_logit_softcapping", 0);
        d.final_softcap = pb_num(b, "final_logit_softcapping", 0);
    }
    if (g3)
        gemma3(b, &d);
    pb_decoder(b, &d);
}
