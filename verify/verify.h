/* verify/verify.h — reference forward passes and comparison metrics for end-to-end accuracy.
 *
 * Contract: pure computation over memory (no file I/O). A forward pass reads weights through a
 * getter, so the same code runs the original weights and the dequantized ones. Everything is
 * f32 with dot products accumulated in double; results do not depend on the thread count. */
#ifndef WG_VERIFY_H
#define WG_VERIFY_H
#include "../formats/model.h"
#include <stdbool.h>
#include <stdint.h>

/* Returns a rows x K f32 matrix (matrix view of the tensor) the caller frees, or NULL. */
typedef float *(*wg_weight_fn)(void *ctx, const char *name, int64_t *rows, int64_t *K);

typedef struct wg_llama {
    int layers, hidden, heads, kv_heads, head_dim, inter, vocab;
    double eps, theta;
    /* rope scaling: 0 none, 1 linear (every frequency / factor), 2 llama3 (frequencies with a
     * wavelength past orig/low divided by factor, below orig/high kept, smoothly between) */
    int rope_type;
    double rope_factor, rope_low, rope_high, rope_orig;
    float *embed, *final_norm, *head; /* head may alias embed (tied) */
    struct wg_llama_layer {
        float *in_norm, *post_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *gate, *up, *down;
    } *l;
} wg_llama;

/* Load a Llama/Mistral/Qwen2-style model's weights (HF names) through get(). */
int wg_llama_load(wg_llama *lm, const wg_model *m, wg_weight_fn get, void *ctx, wg_error *err);
void wg_llama_free(wg_llama *lm);
/* logits[n][vocab] for tokens[0..n) (causal, positions 0..n-1). */
/* The rotary frequency of pair i (of head_dim/2): theta^(-2i/head_dim), scaled as configured. */
double wg_rope_freq(const wg_llama *lm, int i);
int wg_llama_forward(const wg_llama *lm, const int32_t *tokens, int n, float *logits, int threads);

/* ---- BERT-family encoders (verify/bert.c): BERT, RoBERTa and DistilBERT naming ----
 * Post-LN encoder: x = LN(word[id] + type[tt] + pos[p]); per layer
 *   x = LN1(x + Wo.attn(x) + bo), x = LN2(x + W2.act(W1.x + b1) + b2),
 * bidirectional attention over the keys whose mask is 1 (HF adds the dtype's minimum to the
 * others' scores; a row with no key left therefore averages every key, as HF's does). */
typedef enum wg_bert_kind { WG_BERT_BERT, WG_BERT_ROBERTA, WG_BERT_DISTILBERT } wg_bert_kind;
typedef enum wg_bert_act {
    WG_ACT_GELU,      /* "gelu": x/2 (1 + erf(x/sqrt 2)) */
    WG_ACT_GELU_TANH, /* "gelu_new", "gelu_pytorch_tanh", "gelu_fast": the tanh approximation */
    WG_ACT_RELU,
} wg_bert_act;

typedef struct wg_bert {
    wg_bert_kind kind;
    wg_bert_act act;
    char prefix[16];        /* "bert.", "roberta.", "distilbert." or "" as the weights name it */
    int layers, hidden, heads, head_dim, inter, vocab, max_pos, type_vocab;
    int pad_id;             /* RoBERTa: positions count from pad_id + 1; -1 when unknown */
    double eps;
    float *word, *pos, *type, *emb_ln_w, *emb_ln_b; /* type NULL for DistilBERT */
    struct wg_bert_layer {
        float *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo, *ln1_w, *ln1_b;
        float *w1, *b1, *w2, *b2, *ln2_w, *ln2_b;
    } *l;
} wg_bert;

/* Load an encoder's weights (HF names, with or without the bert./roberta./distilbert. prefix)
 * through get(). Facts come from m->config where given, else from the tensors' shapes; the
 * attention head count has no shape and must come from the config. On error, frees what it
 * loaded. */
int wg_bert_load(wg_bert *b, const wg_model *m, wg_weight_fn get, void *ctx, wg_error *err);
/* BERT-family naming (bert, roberta, xlm-roberta, ...: the "bert" name rules) or DistilBERT:
 * what wg_bert_load reads and `verify` runs as an encoder. */
bool wg_bert_family(const wg_model *m);
void wg_bert_free(wg_bert *b);
/* out[n][hidden] = last_hidden_state of one sequence. type_ids and mask may be NULL (all 0 /
 * all 1). Returns 0, or -1 on a token/type id out of range, n beyond the position table, or
 * out of memory. */
int wg_bert_forward(const wg_bert *b, const int32_t *ids, const int32_t *type_ids,
                    const int32_t *mask, int n, float *out, int threads);
/* RoBERTa's position ids (HF create_position_ids_from_input_ids), BERT's 0..n-1 otherwise. */
void wg_bert_positions(const wg_bert *b, const int32_t *ids, int n, int32_t *pos);

/* Compare two hidden-state sets [n][H] (a: reference). Per-token errors are L2 norms. */
typedef struct wg_hidden_compare {
    int positions;
    double cosine;          /* over all values */
    double min_cosine;      /* the worst token's */
    double max_rel_err;     /* max over tokens of |a_t - b_t| / |a_t| */
    double max_abs, rel_rmse;
} wg_hidden_compare;
void wg_hidden_compare_run(const float *a, const float *b, int n, int H, wg_hidden_compare *out);

/* ---- reference building blocks (verify/ops.c), shared by the forward passes ----
 * y[n][rows] = x[n][K] . W[rows][K]^T (+ b), dot products in double, threads over row blocks
 * (the result does not depend on the thread count). */
void wg_ref_matmul(const float *x, const float *W, const float *b, float *y, int n, int rows,
                   int K, int threads);
/* y[n][H] = (x - mean) / sqrt(var + eps) * w + b per row, statistics in double. */
void wg_ref_layernorm(const float *x, const float *w, const float *b, float *y, int n, int H,
                      double eps);
float wg_ref_act(wg_bert_act act, float x);

/* ---- the reference of a bundle (verify/bundle_ref.c) ----
 * The bundle's program (wg_manifest_read checked it) run by the C interpreter with the bundle's
 * stored tensors dequantized by the reference dequantizer as weights: what a runtime running
 * the bundle computes, up to f32 rounding. dir is the bundle directory. Returns 0, WG_EINPUT (no
 * program, a shard missing or of another size), WG_EIO. */
struct wg_manifest;
struct wg_pinputs;
int wg_bundle_program_run(const char *dir, const struct wg_manifest *m,
                          const struct wg_pinputs *in, float *out, int threads, wg_error *err);

/* How far a runtime's output may stray from the reference by accumulation order alone, as a
 * relative error (README, "wgpack run", gives the reasoning): a dot product of length K summed
 * in another order in a float of unit roundoff u (2^-24 for f32) is off by about sqrt(K) u
 * relative (rounding errors of random sign: a random walk); about four matrix products lie on
 * each layer's path to the residual stream, and the errors add up over the layers (norms keep
 * them relative), so  eps = WG_ORDER_SAFETY x (4 layers + 1) x sqrt(kmax) x u,  the safety
 * factor standing for what the model leaves out (gain of the layers' Jacobians, transcendental
 * functions a few ulp off, fused multiply-adds). */
#define WG_ORDER_SAFETY 16.0
double wg_f32_order_eps(int layers, int64_t kmax, double unit);
/* Index of the largest of z[0..V) (the first on ties); the lead of the largest over the runner-up. */
int wg_argmax(const float *z, int V);
double wg_top1_margin(const float *z, int V);
/* Positions (rows of [n][V]) whose argmax differs between ref and b although ref's top-1 leads
 * its runner-up by more than 2 tol: differences no error within tol explains. */
int wg_decided_disagreements(const float *ref, const float *b, int n, int V, double tol);

/* Compare two logit sets position by position. NLL uses the next token as the target. */
typedef struct wg_lm_compare {
    int positions;
    double nll_a, nll_b;        /* mean negative log-likelihood (nats/token) of each */
    double kl;                  /* mean KL(a || b) over positions */
    double top1_agree;          /* fraction of positions with the same argmax */
    double max_abs, rel_rmse, cosine; /* over all logits */
} wg_lm_compare;
void wg_lm_compare_logits(const float *a, const float *b, const int32_t *tokens, int n, int vocab,
                          wg_lm_compare *out);

/* Output comparison (verify/compare.c). Sums add up over samples; a class axis (the last one)
 * gives top-1 agreement and mean KL(original || quantized) per row. */
typedef struct wg_out_compare {
    uint64_t n, nonfinite;        /* values; values finite in one run only */
    double sse, ssa, ssb, dot, max_abs;
    int class_kind;               /* 0 none, 1 logits (softmax taken), 2 probabilities */
    uint64_t rows, agree;
    double kl_sum;
} wg_out_compare;
/* 1 if `name` says logits, 2 if every row of the last axis of a is a probability
 * distribution, else 0. */
int wg_class_axis(const char *name, const float *a, uint64_t n, int64_t last);
void wg_out_compare_add(wg_out_compare *c, const float *a, const float *b, uint64_t n,
                        int64_t last, int class_kind);
double wg_out_rel_rmse(const wg_out_compare *c);
double wg_out_cosine(const wg_out_compare *c);
#endif
