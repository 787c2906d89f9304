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
    float *embed, *final_norm, *head; /* head may alias embed (tied) */
    struct wg_llama_layer {
        float *in_norm, *post_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *gate, *up, *down;
    } *l;
} wg_llama;

/* Load a Llama/Mistral/Qwen2-style model's weights (HF names) through get(). */
int wg_llama_load(wg_llama *lm, const wg_model *m, wg_weight_fn get, void *ctx, wg_error *err);
void wg_llama_free(wg_llama *lm);
/* logits[n][vocab] for tokens[0..n) (causal, positions 0..n-1). */
int wg_llama_forward(const wg_llama *lm, const int32_t *tokens, int n, float *logits, int threads);

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
