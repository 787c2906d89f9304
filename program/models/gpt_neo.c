/* program/models/gpt_neo.c — GPT-Neo: learned positions, q/k/v apart without biases, scores not
 * scaled, global and local (window_size) layers as attention_types lists them, biases in the
 * output projection and the feed-forward, the head tied to the embeddings. */
#include "models.h"

#include <string.h>

/* attention_types [[["global", "local"], 2], ...]: the layers' kinds, expanded */
static void layer_kinds(wg_pbuild *b, int64_t L, int64_t W, int64_t *win)
{
    json_t *at = pb_cfg(b, "attention_types");
    int64_t li = 0;
    size_t i, j;
    json_t *e, *k;
    json_array_foreach(at, i, e) {
        json_t *kinds = json_array_get(e, 0), *rep = json_array_get(e, 1);
        if (!json_is_array(kinds) || !json_is_integer(rep) || json_integer_value(rep) < 0) {
            pb_fail(b, "config.json: attention_types[%zu] is not [[kinds...], repeat]", i);
            return;
        }
        for (json_int_t r = 0; r < json_integer_value(rep); r++)
            json_array_foreach(kinds, j, k) {
                const char *s = json_string_value(k);
                if (!s || (strcmp(s, "global") && strcmp(s, "local"))) {
                    pb_fail(b, "config.json: attention type \"%s\" is not implemented", s ? s : "?");
                    return;
                }
                if (li < L)
                    win[li] = strcmp(s, "local") ? 0 : W;
                li++;
            }
    }
    if (li != L && PB_OK(b))
        pb_fail(b, "config.json: attention_types name %lld layers, num_layers is %lld", (long long)li,
                (long long)L);
}

void wg_tpl_gpt_neo(wg_pbuild *b)
{
    pb_gpt g = {.L = pb_need(b, "num_layers"), .H = pb_need(b, "hidden_size"), .V = pb_need(b, "vocab_size"),
                .NP = pb_need(b, "max_position_embeddings"), .eps = pb_num(b, "layer_norm_epsilon", 1e-5),
                .act = pb_act_code(b, "activation_function", "gelu_new"), .wte = "transformer.wte",
                .wpe = "transformer.wpe", .ln_f = "transformer.ln_f", .head = "lm_head",
                .layer = "transformer.h.%lld.", .ln1 = "ln_1", .ln2 = "ln_2", .q = "attn.attention.q_proj",
                .k = "attn.attention.k_proj", .v = "attn.attention.v_proj", .o = "attn.attention.out_proj",
                .fc1 = "mlp.c_fc", .fc2 = "mlp.c_proj", .o_bias = true, .mlp_bias = true};
    g.I = pb_int(b, "intermediate_size", 4 * g.H);
    int64_t nh = pb_need(b, "num_heads"), W = pb_int(b, "window_size", 256);
    if (g.L > 1024 || W <= 0)
        pb_fail(b, "config.json: more than 1024 layers, or window_size <= 0");
    if (!pb_gpt_attn(b, &g, nh, nh, "num_heads"))
        return;
    layer_kinds(b, g.L, W, g.window_of);
    g.a.scale = 1; /* GPT-Neo does not scale its scores */
    pb_gpt_decoder(b, &g);
}
