/* quant/half.c — fp16 and bf16 conversions: round-to-nearest-even, NaN stays NaN, Inf stays
 * Inf, subnormals exact. Freestanding (no libc), so the WebAssembly fallback uses this file. */
#include "quant.h"

static inline uint32_t f2u(float f)
{
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    return u;
}

static inline float u2f(uint32_t u)
{
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}

float wg_f16_to_f32(uint16_t h)
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
    return u2f(u);
}

uint16_t wg_f32_to_f16(float f)
{
    uint32_t u = f2u(f);
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
    return u2f(u);
}

uint16_t wg_f32_to_bf16(float f)
{
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* NaN stays NaN */
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

