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
#endif
