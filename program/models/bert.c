/* program/models/bert.c — BERT-family encoders: BERT, RoBERTa, XLM-RoBERTa, CamemBERT (positions
 * counted from pad_token_id + 1), ELECTRA (embedding_size = hidden_size only), DistilBERT (its
 * own names, no token types) and MPNet (its own names, no token types, positions counted from
 * HF's fixed padding_idx 1 + 1, and a relative position bias shared by every layer: buckets of
 * key - query by 32 buckets over 128 positions, as HF's compute_position_bias calls them). Post-LN: x = LN(word + type + pos); per layer
 * x = LN1(x + Wo.attn(x) + bo), x = LN2(x + W2.act(W1.x + b1) + b2); bidirectional attention
 * over the keys whose attention_mask is 1. Output: last_hidden_state. */
#include "models.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* the family's head names (heads.c builds what architectures asks for) */
static void bert_head(wg_pbuild *b, const char *pre, int wte, int64_t H, int64_t V, double eps,
                      int act, int x)
{
    const char *mt = b->p->model_type;
    char pooler[64];
    snprintf(pooler, sizeof pooler, "%spooler.dense", pre);
    pb_enc_head e = {.H = H, .V = V, .eps = eps, .word_embeddings = wte, .seq_act = 6,
                     .mlm_dense = "lm_head.dense", .mlm_norm = "lm_head.layer_norm",
                     .mlm_decoder = "lm_head.decoder", .mlm_bias = "lm_head.bias", .mlm_act = 1,
                     .seq_pre = "classifier.dense", .seq_out = "classifier.out_proj"};
    if (!strcmp(mt, "bert"))
        e = (pb_enc_head){.H = H, .V = V, .eps = eps, .word_embeddings = wte, .seq_act = 6,
                          .mlm_dense = "cls.predictions.transform.dense",
                          .mlm_norm = "cls.predictions.transform.LayerNorm",
                          .mlm_decoder = "cls.predictions.decoder", .mlm_bias = "cls.predictions.bias",
                          .mlm_act = act, .seq_pre = pooler, .seq_out = "classifier"};
    else if (!strcmp(mt, "distilbert"))
        e = (pb_enc_head){.H = H, .V = V, .eps = 1e-12, .word_embeddings = wte, .seq_act = 3,
                          .mlm_dense = "vocab_transform", .mlm_norm = "vocab_layer_norm",
                          .mlm_decoder = "vocab_projector", .mlm_bias = "vocab_projector.bias",
                          .mlm_act = act, .seq_pre = "pre_classifier", .seq_out = "classifier"};
    else if (!strcmp(mt, "electra")) {
        e.mlm_dense = "generator_predictions.dense";
        e.mlm_norm = "generator_predictions.LayerNorm";
        e.mlm_decoder = "generator_lm_head";
        e.mlm_bias = "generator_lm_head.bias";
        e.seq_act = 1;
    }
    pb_encoder_head(b, &e, x);
}

void wg_tpl_bert(wg_pbuild *b)
{
    wg_prog *p = b->p;
    const char *mt = p->model_type;
    bool distil = !strcmp(mt, "distilbert"), mpnet = !strcmp(mt, "mpnet"),
         roberta = !strcmp(mt, "roberta") || !strcmp(mt, "xlm-roberta") || !strcmp(mt, "camembert");
    static const char *const prefixes[] = {"bert.", "roberta.", "distilbert.", "electra.", "camembert.",
                                           "mpnet.", ""};
    const char *pre = "";
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (pb_has(b, "%sembeddings.word_embeddings.weight", prefixes[i])) {
            pre = prefixes[i];
            break;
        }
    int64_t H = pb_need(b, distil ? "dim" : "hidden_size"), V = pb_need(b, "vocab_size"),
            nh = pb_need(b, distil ? "n_heads" : "num_attention_heads"),
            L = pb_need(b, distil ? "n_layers" : "num_hidden_layers"),
            I = pb_need(b, distil ? "hidden_dim" : "intermediate_size"),
            NP = pb_need(b, "max_position_embeddings");
    int64_t TV = distil || mpnet ? 0 : pb_int(b, "type_vocab_size", 2),
            RB = mpnet ? pb_int(b, "relative_attention_num_buckets", 32) : 0;
    double eps = distil ? 1e-12 : pb_num(b, "layer_norm_eps", 1e-12);
    int act = pb_act_code(b, distil ? "activation" : "hidden_act", "gelu");
    if (!strcmp(mt, "electra") && pb_int(b, "embedding_size", H) != H)
        pb_fail(b, "config.json: electra embedding_size %lld differs from hidden_size (the "
                "embeddings projection is not implemented)", (long long)pb_int(b, "embedding_size", H));
    if (mpnet && RB < 32)
        pb_fail(b, "config.json: relative_attention_num_buckets %lld: HF's MPNet indexes 32 buckets",
                (long long)RB);
    if (!PB_OK(b))
        return;
    if (H % nh)
        pb_fail(b, "config.json: hidden size %lld is not a multiple of %lld heads", (long long)H,
                (long long)nh);
    pb_describe(b, false, "x", V, H, NP, roberta || mpnet ? "padding" : "arange");
    p->pad_id = mpnet ? 1 : pb_int(b, "pad_token_id", roberta ? 1 : 0);
    if (roberta && !(p->pad_id >= 0 && p->pad_id < NP))
        pb_fail(b, "config.json: pad_token_id %lld outside the position table", (long long)p->pad_id);
    pb_attn a = {.heads = nh, .kv_heads = nh, .head_dim = H / nh, .mask = pb_input(b, "attention_mask"),
                 .scale = 1 / sqrt((double)(H / nh))};
    if (mpnet) {
        pb_rel_buckets(b, 32, 128);
        a.has_rel_bias = true;
        a.rel_bias = pb_w(b, false, RB, nh, "%sencoder.relative_attention_bias.weight", pre);
    }
    pb_stage(b, "embed");
    int x = pb_act(b, "x", H), e = pb_act(b, "e", H), o = pb_act(b, "o", H);
    int wte = pb_w(b, false, V, H, "%sembeddings.word_embeddings.weight", pre);
    pb_gather(b, e, wte, pb_input(b, "input_ids"));
    int tt = distil ? -1 : pb_w(b, TV == 0, TV, H, "%sembeddings.token_type_embeddings.weight", pre);
    if (tt >= 0) {
        pb_gather(b, o, tt, pb_input(b, "token_type_ids"));
        pb_add(b, e, o);
    }
    pb_gather(b, o, pb_w(b, false, NP, H, "%sembeddings.position_embeddings.weight", pre),
              pb_input(b, "position_ids"));
    pb_add(b, e, o);
    pb_layernorm(b, e, pb_w(b, false, 1, H, "%sembeddings.LayerNorm.weight", pre),
                 pb_w(b, false, 1, H, "%sembeddings.LayerNorm.bias", pre), x, eps);
    static const char *const bert_n[] = {
        "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
        "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"};
    static const char *const distil_n[] = {
        "attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
        "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"};
    static const char *const mpnet_n[] = {
        "attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
        "attention.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"};
    const char *const *nm = distil ? distil_n : mpnet ? mpnet_n : bert_n;
    const char *stem = distil ? "transformer.layer" : "encoder.layer";
    for (int64_t li = 0; li < L && PB_OK(b); li++) {
        pb_stage(b, "layer %lld", (long long)li);
#define LW(rows, K, i, wb) pb_w(b, false, rows, K, "%s%s.%lld.%s." wb, pre, stem, (long long)li, nm[i])
        int q = pb_act(b, "q", H), k = pb_act(b, "k", H), v = pb_act(b, "v", H),
            att = pb_act(b, "att", H), f = pb_act(b, "gate", I);
        pb_matmul(b, x, LW(H, H, 0, "weight"), LW(1, H, 0, "bias"), q);
        pb_matmul(b, x, LW(H, H, 1, "weight"), LW(1, H, 1, "bias"), k);
        pb_matmul(b, x, LW(H, H, 2, "weight"), LW(1, H, 2, "bias"), v);
        pb_attention(b, &a, (int)li, q, k, v, att);
        pb_matmul(b, att, LW(H, H, 3, "weight"), LW(1, H, 3, "bias"), o);
        pb_add(b, o, x);
        pb_layernorm(b, o, LW(1, H, 4, "weight"), LW(1, H, 4, "bias"), x, eps);
        pb_matmul(b, x, LW(I, H, 5, "weight"), LW(1, I, 5, "bias"), f);
        pb_bias_act(b, f, -1, act, 1, 1);
        pb_matmul(b, f, LW(H, I, 6, "weight"), LW(1, H, 6, "bias"), o);
        pb_add(b, o, x);
        pb_layernorm(b, o, LW(1, H, 7, "weight"), LW(1, H, 7, "bias"), x, eps);
#undef LW
    }
    bert_head(b, pre, wte, H, V, eps, act, x);
}
