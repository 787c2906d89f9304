/* formats/wgsl_ops.h — the WGSL kernels of a model's other operations (everything but the
 * weight-matrix products and lookups, which formats/wgsl.h generates per weight format).
 *
 * Contract
 *  - One row of a table per operation: its name, WGSL text, workgroup size, bindings, parameter
 *    block and dispatch rule. wg_wgsl_op_emit() writes the text; deterministic.
 *  - Activations are f32 in every op (storage and arithmetic): these ops move a few values per
 *    weight byte the matrix kernels stream, and f32 keeps them within rounding of the C
 *    reference (verify/), whichever variant the matrix kernels use.
 *  - Every op reads its parameters from a 64-byte uniform block (16 u32 words; f32 values are
 *    stored as their bits) at the binding the table names; the fields are listed per op.
 *  - Elementwise ops run 256 invocations per workgroup over `count` values:
 *      W = ceil(count/256): dispatch (min(W,65535), ceil(W/65535), 1).
 *    Norms run one workgroup per row: (n, 1, 1). Attention one workgroup per (head, query):
 *    (heads, n, 1); head_dim must be a multiple of 4 and at most 1024.
 *  - Ops (bindings in order; r = read-only storage, rw = read-write storage, u = uniform):
 *      rmsnorm    x rw, r r, w r, y rw, p u  P{n, H, eps, has_residual}: x += r (when
 *                 has_residual: the previous block's residual add), y = w * x / sqrt(mean(x^2) + eps)
 *      layernorm  x r, w r, b r, y rw, p u P{n, H, eps}        y = (x - mean) / sqrt(var + eps) * w + b
 *      bias_act   y rw, b r, p u           P{count, R, act, has_bias}   y = act(y + b[i % R]);
 *                 act: 0 none, 1 gelu (erf), 2 gelu (tanh), 3 relu, 4 silu
 *      silu_mul   g rw, u r, p u           P{count}            g = silu(g) * u
 *      add        a rw, b r, p u           P{count}            a = a + b
 *      rope_kv    q r, k r, v r, tab r, qr rw, kc rw, vc rw, p u   P{n, heads, kv_heads, hd, pos0}:
 *                 rotary embedding ("rotate half" layout) of q into qr and of k into the key
 *                 cache rows pos0.., v copied into the value cache rows pos0..; tab[pos][i] =
 *                 (cos, sin) of pos * freq_i (a table the runtime computes in double, as the C
 *                 reference does, rope scaling included)
 *      attention  q r, k r, v r, mask r, s rw, o rw, p u
 *                 P{n, heads, kv_heads, hd, pos0, causal, T, stride, scale}: softmax(q.k * scale)
 *                 . v per head over keys 0..pos0+t (causal) or 0..T-1 with mask (0 = excluded:
 *                 the f32 minimum is added, as HF does); k, v: [positions][kv_heads][hd];
 *                 s: scratch [n][heads][stride] scores
 */
#ifndef WG_WGSL_OPS_H
#define WG_WGSL_OPS_H
#include <stddef.h>

typedef struct wg_op_binding {
    int binding;
    const char *resource, *type; /* type: read-only-storage, storage, uniform */
} wg_op_binding;

typedef struct wg_op {
    const char *name;
    int workgroup_size;
    const char *dispatch; /* the rule, in words */
    const char *params;   /* the uniform block's fields, in words */
    wg_op_binding bindings[8];
    int nbindings;
    const char *text;     /* the WGSL (wg_wgsl_op_emit copies it out) */
} wg_op;

/* The table; *n gets its length. */
const wg_op *wg_ops(int *n);
/* Write op `i`'s WGSL into buf. Returns the length, or -1 if buf is too small. */
int wg_wgsl_op_emit(int i, char *buf, size_t n);

#endif
