/* verify/ops.c — the reference forward passes' building blocks: a threaded matrix product with
 * double accumulation and activations, written for clarity (they are the spec the
 * WebGPU kernels are checked against, not a fast path). */
#include "verify.h"
#include "../quant/quant.h"

#include <math.h>

typedef struct mm_job {
    const float *x, *W, *b;
    float *y;
    int n, rows, K;
} mm_job;

enum { MM_BLOCK = 16 }; /* output rows per work item */

static void mm_rows(void *ctx, int64_t blk, int tid)
{
    (void)tid;
    const mm_job *j = ctx;
    int r0 = (int)blk * MM_BLOCK, r1 = r0 + MM_BLOCK < j->rows ? r0 + MM_BLOCK : j->rows;
    for (int t = 0; t < j->n; t++)
        for (int r = r0; r < r1; r++) {
            const float *a = j->x + (size_t)t * j->K, *w = j->W + (size_t)r * j->K;
            double s = 0;
            for (int k = 0; k < j->K; k++)
                s += (double)a[k] * w[k];
            j->y[(size_t)t * j->rows + r] = (float)s + (j->b ? j->b[r] : 0.0f);
        }
}

void wg_ref_matmul(const float *x, const float *W, const float *b, float *y, int n, int rows,
                   int K, int threads)
{
    mm_job j = {x, W, b, y, n, rows, K};
    wg_parallel_for(threads, (rows + MM_BLOCK - 1) / MM_BLOCK, mm_rows, &j);
}

float wg_ref_act(wg_bert_act act, float x)
{
    double v = x;
    switch (act) {
    case WG_ACT_GELU:
        return (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
    case WG_ACT_GELU_TANH:
        return (float)(0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))));
    case WG_ACT_RELU:
        return x > 0 ? x : 0.0f;
    }
    return x;
}
