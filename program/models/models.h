/* program/models/models.h — the family templates (one file per family or per set of variants of
 * one design) and the shared decoder builder they use. */
#ifndef WG_PROGRAM_MODELS_H
#define WG_PROGRAM_MODELS_H
#include "../build.h"

/* a mixture-of-experts MLP (moe.c): each token's hidden state goes through every expert, and the
 * router's weights (0 for the experts it did not choose) add the outputs up */
typedef struct pb_moe {
    int64_t E, k, I;              /* experts (0: no MoE), chosen per token, an expert's width */
    bool norm;                    /* the k chosen weights renormalised to sum 1 */
    const char *block;            /* the MLP's module: "block_sparse_moe" (Mixtral) or "mlp" */
    const char *gate, *up, *down; /* an expert's matrices: "w1", "w3", "w2" or "gate_proj", ... */
    int64_t shared_I;             /* a shared expert gated by sigmoid(shared_expert_gate) (Qwen2-MoE) */
    bool dense[1024];             /* layers with the dense MLP (intermediate_size) instead */
} pb_moe;

/* a pre-norm decoder of the Llama design and its variants, named "<prefix>layers.N...." */
typedef struct pb_dec {
    const char *prefix;           /* "model." */
    int64_t L, H, I, V;
    pb_attn a;                    /* heads, kv_heads, head_dim, rot, interleaved, scale, softcap */
    double eps;
    bool layernorm, norm_bias;    /* LayerNorm (with bias) instead of RMSNorm */
    bool norm_bare;               /* OLMo: LayerNorms without weights */
    double norm_off;              /* Gemma: weights stored as w - 1 */
    double embed_mult, residual_mult, logits_mult, final_softcap;
    bool qkv_bias, o_bias, mlp_bias;
    int qk_norm;                  /* 0 none, 1 per head (Qwen3, Gemma 3), 2 over the projection (OLMo 2) */
    bool fused_qkv, fused_gate_up;/* Phi-3: qkv_proj, gate_up_proj */
    bool sandwich;                /* Gemma 2: norms after attention and MLP too */
    bool post_only;               /* OLMo 2: norms after attention and MLP only */
    bool parallel;                /* Cohere: attention and MLP from one norm, added together */
    bool plain_mlp;               /* c_fc / c_proj with bias (Starcoder 2) */
    bool local_rope;              /* Gemma 3: windowed layers rotate by a second table, */
    double local_theta;           /* of this theta */
    int act;
    int64_t window_of[1024];      /* sliding window per layer (0: full), when L <= 1024 */
    pb_moe moe;                   /* the MLP of some or all layers a mixture of experts */
} pb_dec;

/* layers, heads, sizes, rotary and the window pattern from the common config keys */
void pb_dec_defaults(wg_pbuild *b, pb_dec *d);
/* the sliding window of each layer: config.json's layer_types where given, else by `rule`:
 * 'a' every layer (Mistral, Starcoder 2), 'q' Qwen's use_sliding_window from max_window_layers
 * on, 'e' even layers (Gemma 2), 0 none (a sliding_window key is then refused) */
void pb_dec_windows(wg_pbuild *b, pb_dec *d, char rule);
void pb_decoder(wg_pbuild *b, const pb_dec *d);
/* d->moe from config.json: num_local_experts or num_experts experts of width I,
 * num_experts_per_tok, matrices named block.experts.N.{gate,up,down}.weight; every layer sparse
 * (pb_moe_layers picks dense ones) */
void pb_moe_config(wg_pbuild *b, pb_dec *d, int64_t I, bool norm, const char *block,
                   const char *gate, const char *up, const char *down);
/* Qwen's dense layers: those of mlp_only_layers, and those whose (index + 1) is not a multiple of
 * decoder_sparse_step */
void pb_moe_layers(wg_pbuild *b, pb_dec *d);
/* layer li's mixture of experts of h into y (pb_decoder calls it for the sparse layers) */
void pb_moe_mlp(wg_pbuild *b, const pb_dec *d, int64_t li, int h, int y);

/* a LayerNorm decoder of the GPT design (gptlike.c); layer names are "<layer % li>.<name>" */
typedef struct pb_gpt {
    int64_t L, H, I, V, NP, pos_offset;
    double eps;
    int act;
    pb_attn a;
    const char *wte, *wpe, *ln_f, *head; /* wpe NULL: rotary; head NULL or absent: tied */
    const char *emb_ln;                  /* a LayerNorm of the embeddings (BLOOM), or NULL */
    double embed_mult;                   /* the token embeddings' scale (BioGPT), 0: 1 */
    bool head_bias, ln_no_bias;          /* ln_no_bias: LayerNorms without bias (MPT) */
    int64_t window_of[1024];             /* sliding window per layer (GPT-Neo's local layers) */
    const char *layer;                   /* "transformer.h.%lld." */
    const char *ln1, *ln2;               /* parallel && ln2 NULL: one norm for both */
    bool parallel;
    const char *qkv, *q, *k, *v, *o, *fc1, *fc2; /* qkv NULL: q, k, v apart */
    int qkv_layout;                      /* 0 [q|k|v], 1 per head, 2 per kv group, 3 CodeGen */
    bool qkv_bias, o_bias, mlp_bias;
} pb_gpt;
void pb_gpt_decoder(wg_pbuild *b, const pb_gpt *g);
/* g->a: causal attention of nh heads (nkv key/value heads) over g->H, scores scaled by
 * 1/sqrt(head_dim), no rotary; false (the build failed, or refused naming `key` when the sizes do
 * not divide) */
bool pb_gpt_attn(wg_pbuild *b, pb_gpt *g, int64_t nh, int64_t nkv, const char *key);

/* an encoder's task head (heads.c): names of the family's head weights */
typedef struct pb_enc_head {
    int64_t H, V, E;              /* E: the masked-LM head's width (ALBERT's embeddings), 0: H */
    double eps;
    int word_embeddings;          /* the tied decoder of the masked-LM head */
    /* the masked-LM head's tensors without ".weight" (mlm_dense NULL: none); mlm_bias the
     * vocabulary bias's whole name, read when the decoder has no bias of its own */
    const char *mlm_dense, *mlm_norm, *mlm_decoder, *mlm_bias;
    int mlm_act;
    const char *seq_pre, *seq_out;/* the sequence classifier's dense (NULL: none) and output */
    int seq_act;
} pb_enc_head;
/* the stage "head" for what config.json's architectures names (nothing for a base model), over
 * the last hidden state x */
void pb_encoder_head(wg_pbuild *b, const pb_enc_head *e, int x);

void wg_tpl_llama(wg_pbuild *b);   /* llama, mistral, qwen2, qwen3, granite */
void wg_tpl_mixtral(wg_pbuild *b);
void wg_tpl_qwen2_moe(wg_pbuild *b); /* qwen2_moe, qwen3_moe */
void wg_tpl_olmoe(wg_pbuild *b);
void wg_tpl_gemma(wg_pbuild *b);   /* gemma, gemma2, gemma3_text */
void wg_tpl_phi3(wg_pbuild *b);
void wg_tpl_olmo2(wg_pbuild *b);
void wg_tpl_starcoder2(wg_pbuild *b);
void wg_tpl_stablelm(wg_pbuild *b);
void wg_tpl_cohere(wg_pbuild *b);
void wg_tpl_gpt2(wg_pbuild *b);     /* gpt2, gpt_bigcode */
void wg_tpl_gptj(wg_pbuild *b);
void wg_tpl_gpt_neox(wg_pbuild *b);
void wg_tpl_phi(wg_pbuild *b);
void wg_tpl_opt(wg_pbuild *b);
void wg_tpl_bloom(wg_pbuild *b);
void wg_tpl_mpt(wg_pbuild *b);
void wg_tpl_falcon(wg_pbuild *b);
void wg_tpl_gpt_neo(wg_pbuild *b);
void wg_tpl_codegen(wg_pbuild *b);
void wg_tpl_biogpt(wg_pbuild *b);
void wg_tpl_olmo(wg_pbuild *b);
void wg_tpl_vit(wg_pbuild *b);     /* vit, deit */
void wg_tpl_bert(wg_pbuild *b);    /* bert, roberta, xlm-roberta, camembert, distilbert, electra, mpnet */
void wg_tpl_albert(wg_pbuild *b);
void wg_tpl_modernbert(wg_pbuild *b);
#endif
