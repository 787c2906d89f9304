/* formats/model_internal.h — state shared by the readers in formats/ only. */
#ifndef WG_MODEL_INTERNAL_H
#define WG_MODEL_INTERNAL_H
#include "model.h"

struct wg_owned {
    struct wg_owned *next;
    _Alignas(16) unsigned char data[];
};

struct wg_model_internal {
    struct wg_owned *owned;   /* inline tensor data and other owned buffers */
    void *onnx;               /* Onnx__ModelProto * (unpacked), or NULL */
    /* per-tensor ONNX consumer facts, parallel to m->tensors (NULL for safetensors) */
    struct wg_onnx_use *uses;
    wg_name_index index;      /* tensor name -> index into m->tensors (first of duplicates) */
};

/* What consumes an ONNX initializer: op type and input slot of the first consumer. */
struct wg_onnx_use {
    char op[32];
    int slot;
    int trans_b; /* Gemm transB */
};

void wg_onnx_release(wg_model *m);
/* Scope name of a subgraph: "<scope>/<node name or op_index>.<attr>[idx]" (idx < 0: none).
 * node is an Onnx__NodeProto. Used by the reader and the ONNX exporter alike. */
void wg_onnx_sub_scope(char *out, size_t n, const char *scope, const void *node, size_t ni,
                       const char *attr, long idx);
int wg_strptr_cmp(const void *a, const void *b);
/* Strict decimal/JSON helpers */
bool wg_parse_u64(const char *s, uint64_t *out);

#endif
