/* quant/simd.c — vectorised fast paths of quant.c's per-group steps (scale choice and search,
 * codes, metrics), bit for bit equal to the reference (see quant_internal.h).
 *
 * One source (simd_template.h) is compiled per vector width with GCC/Clang vector extensions:
 * "generic" (4 lanes: SSE2 on any x86-64, NEON on arm64) and, on x86-64, "avx2" (8 lanes),
 * chosen at run time from the CPU. The speed comes from four things: vectors over each group's
 * contiguous values; the group's range found once, not once per candidate; candidate scales
 * computed 8 at a time with a branch-free fp16 rounding; and the refit's sums split into
 * independent chains where the algebra proves every partial sum exact. */
#include "quant_internal.h"

#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define WG_N_CLIP 12 /* clip ratios 1.00 .. 0.56, as quant.c's N_CLIP */

/* Round to fp16 precision by adding and removing 1.5 * 2^(e+13): the sum's last bit has the
 * weight of the fp16 last bit at d's exponent e (clamped to fp16's subnormal step), so the
 * addition rounds to nearest-even exactly as wg_f32_to_f16 does; zero keeps d's sign. */
float wg_qk_round_f16(float d)
{
    uint32_t u, su;
    memcpy(&u, &d, 4);
    uint32_t e = u >> 23 & 0xff;
    e = e < 113 ? 113 : e;
    su = (e + 13) << 23 | 0x400000;
    float s, r;
    memcpy(&s, &su, 4);
    r = (d + s) - s;
    uint32_t ru;
    memcpy(&ru, &r, 4);
    ru |= u & 0x80000000u;
    memcpy(&r, &ru, 4);
    return r;
}

static inline float store_scale(float d, bool f32)
{
    const float lim = f32 ? 3.4028234e38f : 65504.0f;
    d = d > lim ? lim : d < -lim ? -lim : d;
    return f32 ? d : wg_qk_round_f16(d);
}

static inline float inv_scale(float d)
{
    if (d == 0.0f)
        return 0.0f;
    float id = 1.0f / d;
    return id > 3.4028234e38f ? 3.4028234e38f : id < -3.4028234e38f ? -3.4028234e38f : id;
}

static inline int code_ref(float x, float id, int z, int qmax)
{
    float t = x * id + ((float)z + 0.5f);
    t = t < 0.0f ? 0.0f : t;
    t = t > (float)qmax ? (float)qmax : t;
    return (int)t;
}

/* rtn_params(), asymmetric, from the group's range */
static inline void asym_params(float mn, float mx, float clip, int qmax, bool f32, float *d_out,
                               int *z_out)
{
    mn *= clip;
    mx *= clip;
    float d = store_scale((mx - mn) / (float)qmax, f32);
    float zf = d != 0.0f ? floorf(-mn * inv_scale(d) + 0.5f) : 0.0f;
    *z_out = zf < 0.0f ? 0 : zf > (float)qmax ? qmax : (int)zf;
    *d_out = d;
}

#define VW 4
#define FN(n) n##_generic
#define ATTR
#include "simd_template.h"
#undef VW
#undef FN
#undef ATTR

static const wg_qkernels qk_generic = {"generic", group_generic};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WG_HAVE_AVX2 1
#define VW 8
#define FN(n) n##_avx2
#define ATTR __attribute__((target("avx2")))
#include "simd_template.h"
#undef VW
#undef FN
#undef ATTR
static const wg_qkernels qk_avx2 = {"avx2", group_avx2};
#endif

/* fp16 -> f32 for n values with F16C, 8 at a time; NaN lanes go through the scalar conversion
 * (which keeps a signalling NaN's payload as it is, where the instruction would quiet it), so
 * the result is wg_f16_to_f32's, bit for bit. False when this CPU has no F16C. */
#ifdef WG_HAVE_AVX2
__attribute__((target("avx2,f16c"))) static void f16_f16c(const uint8_t *in, float *out,
                                                          uint64_t n)
{
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + 2 * i)));
        _mm256_storeu_ps(out + i, v);
        if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)))
            for (int l = 0; l < 8; l++) {
                uint16_t h;
                memcpy(&h, in + 2 * (i + (uint64_t)l), 2);
                out[i + (uint64_t)l] = wg_f16_to_f32(h);
            }
    }
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, in + 2 * i, 2);
        out[i] = wg_f16_to_f32(h);
    }
}
#endif

#ifdef WG_HAVE_AVX2
#include <cpuid.h>
/* F16C from CPUID leaf 1, ECX bit 29 (clang 14's __builtin_cpu_supports has no "f16c") */
static bool has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

bool wg_qk_f16_to_f32(const uint8_t *in, float *out, uint64_t n)
{
#ifdef WG_HAVE_AVX2
    if (__builtin_cpu_supports("avx2") && has_f16c()) {
        f16_f16c(in, out, n);
        return true;
    }
#endif
    (void)in, (void)out, (void)n;
    return false;
}

const wg_qkernels *wg_qk_fast(const char *name)
{
#ifdef WG_HAVE_AVX2
    bool avx2 = __builtin_cpu_supports("avx2");
    if (!name)
        return avx2 ? &qk_avx2 : &qk_generic;
    if (!strcmp(name, "avx2"))
        return avx2 ? &qk_avx2 : NULL;
#endif
    if (!name || !strcmp(name, "generic"))
        return &qk_generic;
    return NULL;
}
