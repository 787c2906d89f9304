/* program/models/albert.c — ALBERT: BERT's post-LN encoder with embeddings of their own width
 * (embedding_size) projected to hidden_size (encoder.embedding_hidden_mapping_in), and
 * num_hidden_groups groups of inner_group_num layers shared by the num_hidden_layers passes: pass
 * i runs group int(i / (L / G)) (HF's float arithmetic), each of the group's layers in turn, so
 * a stage "layer i" names the weights of its group (the same tensors as other passes of it).
 * Layer: x = LN(x + Wd.attn(x) + bd) (attention.LayerNorm), x = LN(x + W2.act(W1.x + b1) + b2)
 * (ffn, ffn_output, full_layer_layer_norm). Output: last_hidden_state. */
#include "models.h"

#include <math.h>
#include <stdio.h>

/* one AlbertLayer: layer j of group g, on x [S][H] */
static void albert_layer(wg_pbuild *b, const char *pre, int64_t g, int64_t j, const pb_attn *a,
                         int64_t H, int64_t I, int act, double eps, int x)
{
    char stem[128];
    snprintf(stem, sizeof stem, "%sencoder.albert_layer_groups.%lld.albert_layers.%lld.", pre,
             (long long)g, (long long)j);
#define AW(rows, K, name) pb_w(b, false, rows, K, "%s%s", stem, name)
    int q = pb_act(b, "q", H), k = pb_act(b, "k", H), v = pb_act(b, "v", H), att = pb_act(b, "att", H),
        o = pb_act(b, "o", H), f = pb_act(b, "gate", I);
    pb_matmul(b, x, AW(H, H, "attention.query.weight"), AW(1, H, "attention.query.bias"), q);
    pb_matmul(b, x, AW(H, H, "attention.key.weight"), AW(1, H, "attention.key.bias"), k);
    pb_matmul(b, x, AW(H, H, "attention.value.weight"), AW(1, H, "attention.value.bias"), v);
    pb_attention(b, a, 0, q, k, v, att);
    pb_matmul(b, att, AW(H, H, "attention.dense.weight"), AW(1, H, "attention.dense.bias"), o);
    pb_add(b, o, x);
    pb_layernorm(b, o, AW(1, H, "attention.LayerNorm.weight"), AW(1, H, "attention.LayerNorm.bias"), x, eps);
    pb_matmul(b, x, AW(I, H, "ffn.weight"), AW(1, I, "ffn.bias"), f);
    pb_bias_act(b, f, -1, act, 1, 1);
    pb_matmul(b, f, AW(H, I, "ffn_output.weight"), AW(1, H, "ffn_output.bias"), o);
    pb_add(b, o, x);
    pb_layernorm(b, o, AW(1, H, "full_layer_layer_norm.weight"), AW(1, H, "full_layer_layer_norm.bias"),
                 x, eps);
#undef AW
}

void wg_tpl_albert(wg_pbuild *b)
{
    const char *pre = pb_has(b, "albert.embeddings.word_embeddings.weight") ? "albert." : "";
    int64_t H = pb_need(b, "hidden_size"), E = pb_need(b, "embedding_size"), V = pb_need(b, "vocab_size"),
            nh = pb_need(b, "num_attention_heads"), L = pb_need(b, "num_hidden_layers"),
            I = pb_need(b, "intermediate_size"), NP = pb_need(b, "max_position_embeddings"),
            G = pb_need(b, "num_hidden_groups"), J = pb_need(b, "inner_group_num");
    int64_t TV = pb_int(b, "type_vocab_size", 2);
    double eps = pb_num(b, "layer_norm_eps", 1e-12);
    int act = pb_act_code(b, "hidden_act", "gelu_new");
    if (!PB_OK(b))
        return;
    if (H % nh)
        pb_fail(b, "config.json: hidden size %lld is not a multiple of %lld heads", (long long)H,
                (long long)nh);
    pb_describe(b, false, "x", V, H, NP, "arange");
    pb_attn a = {.heads = nh, .kv_heads = nh, .head_dim = H / nh, .mask = pb_input(b, "attention_mask"),
                 .scale = 1 / sqrt((double)(H / nh))};
    pb_stage(b, "embed");
    int x = pb_act(b, "x", H), e = pb_act(b, "e", E), o = pb_act(b, "eo", E), en = pb_act(b, "en", E);
    int wte = pb_w(b, false, V, E, "%sembeddings.word_embeddings.weight", pre);
    pb_gather(b, e, wte, pb_input(b, "input_ids"));
    int tt = pb_w(b, TV == 0, TV, E, "%sembeddings.token_type_embeddings.weight", pre);
    if (tt >= 0) {
        pb_gather(b, o, tt, pb_input(b, "token_type_ids"));
        pb_add(b, e, o);
    }
    pb_gather(b, o, pb_w(b, false, NP, E, "%sembeddings.position_embeddings.weight", pre),
              pb_input(b, "position_ids"));
    pb_add(b, e, o);
    pb_layernorm(b, e, pb_w(b, false, 1, E, "%sembeddings.LayerNorm.weight", pre),
                 pb_w(b, false, 1, E, "%sembeddings.LayerNorm.bias", pre), en, eps);
    pb_matmul(b, en, pb_w(b, false, H, E, "%sencoder.embedding_hidden_mapping_in.weight", pre),
              pb_w(b, false, 1, H, "%sencoder.embedding_hidden_mapping_in.bias", pre), x);
    for (int64_t i = 0; i < L && PB_OK(b); i++) {
        int64_t g = (int64_t)((double)i / ((double)L / (double)G)); /* as HF: int(i / (L / G)) */
        pb_stage(b, "layer %lld", (long long)i);
        for (int64_t j = 0; j < J && PB_OK(b); j++)
            albert_layer(b, pre, g < G ? g : G - 1, j, &a, H, I, act, eps, x);
    }
    /* AlbertForMaskedLM: predictions.dense (E x H), act, LayerNorm, decoder (tied) + bias;
     * AlbertForSequenceClassification: the pooler (dense, tanh) on the first token */
    char pooler[64];
    snprintf(pooler, sizeof pooler, "%spooler", pre);
    pb_enc_head hd = {.H = H, .V = V, .E = E, .eps = eps, .word_embeddings = wte, .mlm_act = act,
                      .mlm_dense = "predictions.dense", .mlm_norm = "predictions.LayerNorm",
                      .mlm_decoder = "predictions.decoder", .mlm_bias = "predictions.bias",
                      .seq_pre = pooler, .seq_out = "classifier", .seq_act = 6};
    pb_encoder_head(b, &hd, x);
}
