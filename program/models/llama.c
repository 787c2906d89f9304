/* program/models/llama.c — Llama and the families that keep its design: Mistral (a sliding
 * window on every layer), Qwen 2 (q/k/v biases; a window from max_window_layers on), Qwen 3
 * (per-head RMSNorm of q and k), Granite (multipliers on the embeddings, attention scores,
 * residual branches and logits). */
#include "models.h"

#include <math.h>
#include <string.h>

void wg_tpl_llama(wg_pbuild *b)
{
    const char *mt = b->p->model_type;
    pb_dec d;
    pb_dec_defaults(b, &d);
    bool qwen2 = !strcmp(mt, "qwen2"), qwen3 = !strcmp(mt, "qwen3"), granite = !strcmp(mt, "granite");
    d.qkv_bias = d.o_bias = pb_bool(b, "attention_bias", false);
    if (qwen2)
        d.qkv_bias = true, d.o_bias = false;
    d.mlp_bias = pb_bool(b, "mlp_bias", false);
    d.qk_norm = qwen3 ? 1 : 0;
    pb_dec_windows(b, &d, !strcmp(mt, "mistral") ? 'a' : qwen2 || qwen3 ? 'q' : 0);
    if (granite) {
        d.embed_mult = pb_num(b, "embedding_multiplier", 1);
        d.residual_mult = pb_num(b, "residual_multiplier", 1);
        d.a.scale = pb_num(b, "attention_multiplier", d.a.scale);
        double ls = pb_num(b, "logits_scaling", 1);
        if (!(ls > 0))
            pb_fail(b, "config.json: logits_scaling %g is not positive", ls);
        d.logits_mult = 1 / ls;
    }
    pb_decoder(b, &d);
}
