/* quant/fp.c — reading a tensor's matrix view as float32 rows (any float dtype, either layout).
 * Pure memory, no I/O. */
#include "quant_internal.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

static float f16_table[65536];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;
static float f16_convert(uint16_t h);
static void f16_init(void)
{
    for (uint32_t i = 0; i < 65536; i++)
        f16_table[i] = f16_convert((uint16_t)i);
}

/* A 256 KiB table: the branchy conversion (half.c) costs several ns per element; the bulk
 * reader below uses the table. */
static float f16_convert(uint16_t h) { return wg_f16_to_f32(h); }

static inline float elem_f32(const uint8_t *p, wg_dtype dt, uint64_t i)
{
    switch (dt) {
    case WG_DT_F32: { float f; memcpy(&f, p + 4 * i, 4); return f; }
    case WG_DT_F16: { uint16_t h; memcpy(&h, p + 2 * i, 2); return wg_f16_to_f32(h); }
    case WG_DT_BF16: { uint16_t h; memcpy(&h, p + 2 * i, 2); return wg_bf16_to_f32(h); }
    case WG_DT_F64: { double d; memcpy(&d, p + 8 * i, 8); return (float)d; }
    default: return 0.0f;
    }
}

bool wg_read_rows(const wg_tensor *t, int64_t r0, int64_t n, float *out)
{
    int64_t rows, K;
    wg_tensor_matrix(t, &rows, &K);
    if (r0 < 0 || n < 0 || r0 + n > rows || !t->data)
        return n == 0;
    if (t->dtype != WG_DT_F32 && t->dtype != WG_DT_F16 && t->dtype != WG_DT_BF16 &&
        t->dtype != WG_DT_F64)
        return false;
    const uint8_t *p = t->data;
    if (t->in_dim_first && t->ndim == 2) {
        /* stored [K][rows]: gather a column per output row */
        for (int64_t r = 0; r < n; r++)
            for (int64_t k = 0; k < K; k++)
                out[r * K + k] = elem_f32(p, t->dtype, (uint64_t)(k * rows + r0 + r));
        return true;
    }
    uint64_t base = (uint64_t)r0 * (uint64_t)K, cnt = (uint64_t)n * (uint64_t)K;
    switch (t->dtype) {
    case WG_DT_F32:
        memcpy(out, p + 4 * base, 4 * cnt);
        break;
    case WG_DT_F16: {
        const uint8_t *q = p + 2 * base;
        if (wg_qk_f16_to_f32(q, out, cnt))
            break;
        pthread_once(&f16_once, f16_init);
        for (uint64_t i = 0; i < cnt; i++) {
            uint16_t h;
            memcpy(&h, q + 2 * i, 2);
            out[i] = f16_table[h];
        }
        break;
    }
    default:
        for (uint64_t i = 0; i < cnt; i++)
            out[i] = elem_f32(p, t->dtype, base + i);
    }
    return true;
}
