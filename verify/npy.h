/* verify/npy.h — NumPy .npy read/write (C order; f32 f16 f64 i64 i32 u8 i8 bool). */
#ifndef WG_NPY_H
#define WG_NPY_H
#include "../formats/model.h"

typedef struct wg_npy {
    wg_dtype dtype;
    int ndim;
    int64_t dims[WG_MAX_DIMS];
    uint64_t numel;
    void *raw;   /* the file's element bytes */
    float *f32;  /* the same values as f32 */
} wg_npy;

const char *wg_npy_descr(wg_dtype dt); /* NULL: not writable */
int wg_npy_write(const char *path, wg_dtype dt, int ndim, const int64_t *dims, const void *data,
                 wg_error *err);
int wg_npy_read(const char *path, wg_npy *out, wg_error *err);
void wg_npy_free(wg_npy *n);
#endif
