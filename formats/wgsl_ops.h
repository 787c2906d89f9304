/* formats/wgsl_ops.h — the WGSL kernels of a model's other operations (everything but the
 * weight-matrix products and lookups, which formats/wgsl.h generates per weight format).
 *
 * Contract
 *  - One row of a table per operation: its name, WGSL text, workgroup size, bindings and
 *    dispatch rule; its uniform fields and their meaning are the program op of the same name
 *    (program/ops.c: the C reference), which the kernel reads in that order (16 u32 words of a
 *    64-byte block; f32 fields as their bits). wg_wgsl_op_emit() writes the text; deterministic.
 *  - Activations are f32 in every op (storage and arithmetic): these ops move a few values per
 *    weight byte the matrix kernels stream, and f32 keeps them within rounding of the C
 *    reference whichever variant the matrix kernels use.
 *  - Elementwise ops run 256 invocations per workgroup over `count` values:
 *      W = ceil(count/256): dispatch (min(W,65535), ceil(W/65535), 1).
 *    moe_router runs one invocation per token the same way (over n; E <= 256).
 *    Norms run one workgroup per row: (n, 1, 1). Attention one workgroup per (head, query):
 *    (heads, n, 1); head_dim must be a multiple of 4 and at most 1024 (encoder_attention: the
 *    same). The attention's scores binding is the runtime's scratch [n][heads][stride].
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
    wg_op_binding bindings[9];
    int nbindings;
    const char *text;     /* the WGSL (wg_wgsl_op_emit copies it out) */
    const char *grid_x, *grid_y; /* the fields that size the grid (grid_y NULL: 1 or the split) */
    int grid_div;                /* grid_x's field / grid_div workgroups */
} wg_op;

/* The table; *n gets its length. */
const wg_op *wg_ops(int *n);
/* Write op `i`'s WGSL into buf. Returns the length, or -1 if buf is too small. */
int wg_wgsl_op_emit(int i, char *buf, size_t n);

#endif
