/* pack/pack_internal.h — the bundle layout shared by the files of pack/. */
#ifndef WG_PACK_INTERNAL_H
#define WG_PACK_INTERNAL_H
#include "pack.h"

typedef struct wg_part_t {
    size_t tensor;          /* index into the model's tensors */
    size_t shard;
    int64_t row0, nrows;    /* rows [row0, row0+nrows) of the matrix view (raw: bytes) */
    uint64_t off[3];        /* offsets of data, scales, zeros inside the shard */
    uint64_t bytes[3];
} wg_part_t;

typedef struct wg_shard_t {
    const char *component;
    int layer;              /* -1: the component's non-layer tensors */
    int unit_index;         /* k-th shard of its (component, layer) unit */
    uint64_t size;
    char file[160];         /* content-hashed name, set when written */
    uint64_t xxh3, zst_size;
    char sri[64];
} wg_shard_t;

typedef struct wg_layout_t {
    const char **comps;     /* components in order of first appearance */
    size_t ncomps;
    size_t *order;          /* tensor indices in bundle order */
    wg_part_t *parts;       /* in bundle order; a tensor's parts are consecutive */
    size_t nparts;
    wg_shard_t *shards;
    size_t nshards;
    uint64_t largest;       /* the largest shard's size (<= the cap): sizes the write buffer */
    /* component c's tensors are order[tensor0[c] .. tensor0[c+1]), its shards
     * shards[shard0[c] .. shard0[c+1]): both are grouped by component */
    size_t *tensor0, *shard0;
} wg_layout_t;

int wg_layout(const wg_model *m, const wg_plan_entry *plan, uint64_t cap, wg_layout_t *L,
              wg_error *err);
void wg_layout_free(wg_layout_t *L);
void wg_row_bytes(const wg_tensor *t, const wg_plan_entry *e, uint64_t rb[3], int64_t *rows);
/* The index of s in list (NULL-terminated), or -1 (also for s NULL). */
int wg_str_index(const char *s, const char *const *list);
int wg_bundle_kernels(const wg_model *m, const wg_plan_entry *plan, const char *dir,
                      json_t **section, wg_error *err);
int wg_bundle_wasm(const char *dir, json_t **entry, wg_error *err);
void wg_sri_sha256(const void *data, size_t n, char out[64]);
#endif
