/* quant/fp.c — float conversions (fp16, bf16, round-to-nearest-even, NaN/Inf preserved) and
 * reading a tensor's matrix view as float32 rows. Pure memory, no I/O. */
#include "quant.h"

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

/* A 256 KiB table: the branchy conversion below costs several ns per element; bulk readers
 * (wg_read_rows) use the table. */
float wg_f16_to_f32(uint16_t h)
{
    return f16_convert(h);
}

static float f16_convert(uint16_t h)
{
    uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0x1f)
        u = s | 0x7f800000u | (m << 13); /* Inf / NaN (payload kept) */
    else if (e)
        u = s | ((e + 112) << 23) | (m << 13);
    else if (!m)
        u = s;
    else { /* subnormal: normalise */
        int sh = 0;
        while (!(m & 0x400)) {
            m <<= 1;
            sh++;
        }
        u = s | ((uint32_t)(113 - sh) << 23) | ((m & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t wg_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t s = (u >> 16) & 0x8000, a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* Inf or NaN: NaN stays NaN (quiet bit forced) */
        return (uint16_t)(s | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0));
    if (a >= 0x477ff000u) /* rounds to >= 65520: overflow to Inf */
        return (uint16_t)(s | 0x7c00);
    if (a < 0x38800000u) { /* result is subnormal or zero: exact RNE via integer shift */
        if (a < 0x33000000u)
            return (uint16_t)s; /* < 2^-25: rounds to zero */
        uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return (uint16_t)(s | q);
    }
    uint32_t r = a + 0xfff + ((a >> 13) & 1); /* RNE on the 13 dropped bits */
    return (uint16_t)(s | ((r - 0x38000000u) >> 13));
}

float wg_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t wg_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* NaN stays NaN */
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

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
        pthread_once(&f16_once, f16_init);
        const uint8_t *q = p + 2 * base;
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
