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

/* activations of the references (verify/ops.c) */
typedef enum wg_bert_act {
    WG_ACT_GELU,      /* "gelu": x/2 (1 + erf(x/sqrt 2)) */
    WG_ACT_GELU_TANH, /* "gelu_new", "gelu_pytorch_tanh", "gelu_fast": the tanh approximation */
    WG_ACT_RELU,
} wg_bert_act;

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
