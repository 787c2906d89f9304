/* quant/simd_template.h — the fast per-group kernels, written once and included by simd.c once
 * per vector width. Expects VW (float lanes per vector: 4 or 8), FN(name) (appends the
 * variant's suffix) and ATTR (the variant's function attributes, e.g. a target ISA).
 *
 * Bit-exactness: the reference (quant.c) accumulates in 8 float lanes, element i in lane i % 8;
 * here those 8 lanes are one 8-wide vector or two 4-wide ones, and every lane performs the
 * reference's float operations in the reference's order (no contraction: simd.c is built with
 * -ffp-contract=off). Sums that leave the lanes are folded in lane order, as the reference does.
 */

#define VF FN(vf)
#define VI FN(vi)
typedef float VF __attribute__((vector_size(VW * 4)));
typedef int32_t VI __attribute__((vector_size(VW * 4)));
#define VB FN(vb)
typedef uint8_t VB __attribute__((vector_size(VW)));
#ifndef WG_SIMD_COMMON_TYPES
#define WG_SIMD_COMMON_TYPES
typedef float v4f __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
#endif
#define NV (8 / VW) /* vectors per 8 lanes */
#define INL ATTR static inline __attribute__((always_inline))

INL VF FN(ld)(const float *p) { VF v; memcpy(&v, p, sizeof v); return v; }
INL void FN(st)(float *p, VF v) { memcpy(p, &v, sizeof v); }
INL VI FN(ldb)(const uint8_t *p) { VB v; memcpy(&v, p, sizeof v); return __builtin_convertvector(v, VI); }
/* store lanes holding 0..255 as bytes */
INL void FN(stb)(uint8_t *p, VI v)
{
#if VW == 8 && defined(__x86_64__)
    __m128i w = _mm_packus_epi32(_mm256_castsi256_si128((__m256i)v), _mm256_extracti128_si256((__m256i)v, 1));
    _mm_storel_epi64((__m128i *)p, _mm_packus_epi16(w, w));
#elif VW == 4 && defined(__SSE2__)
    __m128i w = _mm_packs_epi32((__m128i)v, (__m128i)v);
    int32_t b = _mm_cvtsi128_si32(_mm_packus_epi16(w, w));
    memcpy(p, &b, 4);
#else
    VB b = __builtin_convertvector(v, VB);
    memcpy(p, &b, sizeof b);
#endif
}
INL VF FN(splat)(float a) { return (VF){0} + a; }
INL VF FN(sel)(VI m, VF a, VF b) { return (VF)((m & (VI)a) | (~m & (VI)b)); }
/* t < 0 ? 0 : t, then t > c ? c : t: the clamps of code_of(). The x86 min/max instructions
 * return their second operand on equality, so max(-0, +0) gives +0 where the reference keeps
 * -0: both truncate to the same code. */
INL VF FN(clamp)(VF t, VF c)
{
#if VW == 8 && defined(__x86_64__)
    return (VF)_mm256_min_ps(_mm256_max_ps((__m256)t, _mm256_setzero_ps()), (__m256)c);
#elif VW == 4 && defined(__SSE2__)
    return (VF)_mm_min_ps(_mm_max_ps((__m128)t, _mm_setzero_ps()), (__m128)c);
#else
    t = (VF)((VI)t & ~(t < FN(splat)(0.0f)));
    return FN(sel)(t > c, c, t);
#endif
}
/* a > b ? a : b */
INL VF FN(max)(VF a, VF b)
{
#if VW == 8 && defined(__x86_64__)
    return (VF)_mm256_max_ps((__m256)a, (__m256)b);
#elif VW == 4 && defined(__SSE2__)
    return (VF)_mm_max_ps((__m128)a, (__m128)b);
#else
    return FN(sel)(a > b, a, b);
#endif
}
/* (float)(int)t for t already clamped to [0, qmax] */
INL VF FN(trunc)(VF t)
{
#if VW == 8 && defined(__x86_64__)
    return (VF)_mm256_round_ps((__m256)t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
#else
    return __builtin_convertvector(__builtin_convertvector(t, VI), VF);
#endif
}
/* inv_scale() lane by lane */
INL VF FN(inv)(VF d)
{
    const VF big = FN(splat)(3.4028234e38f);
    VF id = FN(splat)(1.0f) / d;
    id = FN(sel)(id > big, big, id);
    id = FN(sel)(id < -big, -big, id);
    return (VF)((VI)id & ~(d == FN(splat)(0.0f)));
}

/* store_scale(): clamp, then round to fp16 precision (round_f16 lane by lane) unless f32 */
INL VF FN(store_scale)(VF d, bool f32)
{
    const VF lim = FN(splat)(f32 ? 3.4028234e38f : 65504.0f);
    d = FN(sel)(d > lim, lim, d);
    d = FN(sel)(d < -lim, -lim, d);
    if (f32)
        return d;
    VI u = (VI)d, e = (u >> 23) & 0xff;
    e = e + ((e < 113) & (113 - e)); /* below fp16's normal range: its subnormal step */
    VF s = (VF)(((e + 13) << 23) | 0x400000), r = (d + s) - s;
    return (VF)((VI)r | (u & (int32_t)0x80000000u));
}

/* Weighted squared error of one candidate (d, z): cand_err() */
INL double FN(cand_err)(const float *x, const float *w, int G, float d, int z, int qmax)
{
    const float id = inv_scale(d);
    const VF vid = FN(splat)(id), zh = FN(splat)((float)z + 0.5f), fq = FN(splat)((float)qmax),
             zf = FN(splat)((float)z), vd = FN(splat)(d);
    VF acc[NV];
    for (int k = 0; k < NV; k++)
        acc[k] = FN(splat)(0.0f);
    if (w) {
        for (int i = 0; i < G; i += 8)
            for (int k = 0; k < NV; k++) {
                VF xv = FN(ld)(x + i + k * VW), t = FN(clamp)(xv * vid + zh, fq);
                VF e = xv - vd * (FN(trunc)(t) - zf);
                acc[k] += FN(ld)(w + i + k * VW) * e * e;
            }
    } else {
        for (int i = 0; i < G; i += 8)
            for (int k = 0; k < NV; k++) {
                VF xv = FN(ld)(x + i + k * VW), t = FN(clamp)(xv * vid + zh, fq);
                VF e = xv - vd * (FN(trunc)(t) - zf);
                acc[k] += e * e;
            }
    }
    double err = 0;
    for (int l = 0; l < 8; l++)
        err += acc[l / VW][l % VW];
    return err;
}

/* largest value and smallest value, both starting from +0 (as rtn_params) */
INL void FN(range)(const float *x, int G, float *mn_out, float *mx_out)
{
    VF mx = FN(splat)(0.0f), mn = FN(splat)(0.0f);
    for (int i = 0; i < G; i += VW) {
        VF v = FN(ld)(x + i);
        mx = FN(sel)(v > mx, v, mx);
        mn = FN(sel)(v < mn, v, mn);
    }
    float a = 0, b = 0;
    for (int l = 0; l < VW; l++) {
        a = mx[l] > a ? mx[l] : a;
        b = mn[l] < b ? mn[l] : b;
    }
    *mn_out = b;
    *mx_out = a;
}

/* Refit d* = sum w x q / sum w q^2 with the codes of (d, z) fixed, as search_params(). Without
 * weights every term x*q is exact in double (24-bit x times a code of at most 9 bits) and so is
 * every q^2; when the exponents of the x with q != 0 span little enough that every partial sum
 * is exact too, any summation order gives the reference's bits, so the sums run in vectors. */
INL bool FN(refit)(const float *x, const float *w, int G, float d, int z, int qmax, bool f32,
                   float *out)
{
    double num = 0, den = 0;
    bool exact = false;
    if (!w && G <= WG_METRIC_CHUNK) {
        const VF vid = FN(splat)(inv_scale(d)), zh = FN(splat)((float)z + 0.5f),
                 fq = FN(splat)((float)qmax);
        VI emin = (VI){0} + 255, emax = (VI){0}, q2 = (VI){0};
        v4d s = {0, 0, 0, 0};
        for (int i = 0; i < G; i += VW) {
            VF xv = FN(ld)(x + i);
            VI q = __builtin_convertvector(FN(clamp)(xv * vid + zh, fq), VI) - z;
            VI e = ((VI)xv >> 23) & 0xff;
            e |= (e == 0) & 1; /* subnormals: the step of exponent 1 */
            emax = ((e > emax) & e) | (~(e > emax) & emax);
            VI eq = (q != 0) & e;
            eq |= (q == 0) & 255;
            emin = ((eq < emin) & eq) | (~(eq < emin) & emin);
            q2 += q * q;
            for (int h = 0; h < VW; h += 4) {
                v4f xh;
                int32_t qa[4];
                memcpy(&xh, (float *)&xv + h, sizeof xh);
                memcpy(qa, (int32_t *)&q + h, sizeof qa);
                v4d qd = {qa[0], qa[1], qa[2], qa[3]};
                s += __builtin_convertvector(xh, v4d) * qd;
            }
        }
        int mn = 255, mxe = 0;
        int64_t sq = 0;
        for (int l = 0; l < VW; l++) {
            mn = emin[l] < mn ? emin[l] : mn;
            mxe = emax[l] > mxe ? emax[l] : mxe;
            sq += q2[l];
        }
        int lg = 0;
        while ((1 << lg) < G)
            lg++;
        /* terms are multiples of 2^(emin-150), |sum| < G * 2^(bits+1) * 2^(emax-126) */
        const int bits = 32 - __builtin_clz((unsigned)qmax);
        if (mn == 255 || mxe - mn <= 53 - 24 - (bits + 1) - lg) {
            exact = true;
            num = (s[0] + s[1]) + (s[2] + s[3]);
            den = (double)sq;
        }
    }
    if (!exact) {
        float id = inv_scale(d);
        for (int i = 0; i < G; i++) {
            int q = code_ref(x[i], id, z, qmax) - z;
            double wi = w ? w[i] : 1.0;
            num += wi * x[i] * q;
            den += wi * (double)q * q;
        }
    }
    if (!(den > 0))
        return false;
    *out = store_scale((float)(num / den), f32);
    return true;
}

/* Errors of 8 candidates (d[c], zf[c]) at once, with the candidates across the vector lanes:
 * lane c of acc[l] is candidate c's reference lane l (elements l, l+8, l+16, ...), so every
 * candidate's sums are cand_err()'s, in its order, and folding the 8 lanes into a double runs
 * over l for 8 (or 4) candidates per instruction. */
INL void FN(batch_err)(const float *x, const float *w, int G, const float *d, const float *zf,
                       int qmax, double *err)
{
    VF vd[NV], vid[NV], vzf[NV], vzh[NV], acc[8][NV];
    const VF fq = FN(splat)((float)qmax);
    for (int k = 0; k < NV; k++) {
        vd[k] = FN(ld)(d + k * VW);
        vid[k] = FN(inv)(vd[k]);
        vzf[k] = FN(ld)(zf + k * VW);
        vzh[k] = vzf[k] + 0.5f;
        for (int l = 0; l < 8; l++)
            acc[l][k] = FN(splat)(0.0f);
    }
    for (int i = 0; i < G; i += 8)
        for (int l = 0; l < 8; l++) {
            const VF xb = FN(splat)(x[i + l]), wb = FN(splat)(w ? w[i + l] : 1.0f);
            for (int k = 0; k < NV; k++) {
                VF t = FN(clamp)(xb * vid[k] + vzh[k], fq);
                VF e = xb - vd[k] * (FN(trunc)(t) - vzf[k]);
                acc[l][k] += w ? wb * e * e : e * e;
            }
        }
    float lanes[8][8];
    for (int l = 0; l < 8; l++)
        for (int k = 0; k < NV; k++)
            FN(st)(lanes[l] + k * VW, acc[l][k]);
    v4d e0 = {0, 0, 0, 0}, e1 = e0;
    for (int l = 0; l < 8; l++) {
        v4f a, b;
        memcpy(&a, lanes[l], sizeof a);
        memcpy(&b, lanes[l] + 4, sizeof b);
        e0 += __builtin_convertvector(a, v4d);
        e1 += __builtin_convertvector(b, v4d);
    }
    memcpy(err, &e0, sizeof e0);
    memcpy(err + 4, &e1, sizeof e1);
}

/* A lower bound on candidates' errors from one element (value xm, weight wm): its term lands in
 * one lane, every lane only grows (weights >= 0) and the lanes' double sum is at least any one
 * of them, so a candidate whose bound is at least an earlier candidate's error cannot become
 * the best (the reference keeps the first of equal errors). */
INL void FN(bound)(float xm, float wm, bool weighted, const float *d, const float *zf, int qmax,
                   float *term)
{
    const VF xb = FN(splat)(xm), fq = FN(splat)((float)qmax);
    for (int k = 0; k < NV; k++) {
        VF vd = FN(ld)(d + k * VW), vzf = FN(ld)(zf + k * VW);
        VF t = FN(clamp)(xb * FN(inv)(vd) + (vzf + 0.5f), fq);
        VF e = xb - vd * (FN(trunc)(t) - vzf);
        FN(st)(term + k * VW, weighted ? FN(splat)(wm) * e * e : e * e);
    }
}

/* The first index of the smallest of n errors: the candidate the reference keeps (it replaces
 * the best only on a strictly smaller error). No NaN reaches here. */
INL int FN(first_min)(const double *err, int n, double *best)
{
    double mn = err[0];
    for (int c = 1; c < n; c++)
        mn = err[c] < mn ? err[c] : mn;
    int c = 0;
    while (err[c] != mn)
        c++;
    *best = mn;
    return c;
}

/* search_params(), symmetric. Its 24 candidates (12 clip ratios, each also mirrored to the
 * positive side) are evaluated in batches of 8: A = 0-7 (clip 1.00-0.72), B = 12-19 (the same
 * mirrored), then C = 8-11 and 20-23 (clip 0.68-0.56), which rarely win: C is skipped when every
 * candidate in it is bounded strictly above the best error of A and B (strictly, so a skipped
 * candidate could not even tie a later one; the reference keeps the first of equal errors). */
INL void FN(search_sym)(const float *x, const float *w, int G, const wg_qformat *f, float *d_out)
{
    const int qmax = (1 << f->bits) - 1, half = 1 << (f->bits - 1);
    float mn, mx;
    FN(range)(x, G, &mn, &mx);
    const float m = mx >= -mn ? mx : mn;
    enum { CV = (WG_N_CLIP + VW - 1) / VW };
    float cand[2][CV * VW], zf[8], term[8], dc[8];
    double err[2 * WG_N_CLIP], ea[8], eb[8], ec[8], best;
    for (int v = 0; v < CV; v++) {
        VF k;
        for (int l = 0; l < VW; l++)
            k[l] = (float)(v * VW + l);
        VF clip = 1.0f - 0.04f * k;
        VF dv = FN(store_scale)(clip * m / (float)-half, f->scale_f32);
        FN(st)(cand[0] + v * VW, dv);
        FN(st)(cand[1] + v * VW, FN(store_scale)(-dv * (float)half / (float)(half - 1), f->scale_f32));
    }
    if (m == 0.0f) { /* all zeros: every candidate is d = -0, error 0; the first is kept */
        *d_out = cand[0][0];
        return;
    }
    for (int l = 0; l < 8; l++)
        zf[l] = (float)half;
    memcpy(dc, cand[0] + 8, 4 * sizeof(float));
    memcpy(dc + 4, cand[1] + 8, 4 * sizeof(float));
    FN(batch_err)(x, w, G, cand[0], zf, qmax, ea);
    FN(batch_err)(x, w, G, cand[1], zf, qmax, eb);
    memcpy(err, ea, sizeof ea);
    memcpy(err + 12, eb, sizeof eb);
    double thr = eb[0];
    for (int j = 0; j < 8; j++) {
        thr = ea[j] < thr ? ea[j] : thr;
        thr = eb[j] < thr ? eb[j] : thr;
    }
    bool need = false;
    float wm = 1.0f;
    for (int i = 0; w && i < G; i++) {
        need |= !(w[i] >= 0.0f); /* the bound needs weights >= 0 */
        wm = x[i] == m ? w[i] : wm;
    }
    FN(bound)(m, wm, w != NULL, dc, zf, qmax, term);
    for (int j = 0; j < 8; j++)
        need |= !((double)term[j] > thr);
    if (need)
        FN(batch_err)(x, w, G, dc, zf, qmax, ec);
    else
        for (int j = 0; j < 8; j++)
            ec[j] = INFINITY;
    memcpy(err + 8, ec, 4 * sizeof(double));
    memcpy(err + 20, ec + 4, 4 * sizeof(double));
    int c = FN(first_min)(err, 2 * WG_N_CLIP, &best);
    float bd = cand[c / WG_N_CLIP][c % WG_N_CLIP], dr;
    if (FN(refit)(x, w, G, bd, half, qmax, f->scale_f32, &dr) && dr != bd &&
        FN(cand_err)(x, w, G, dr, half, qmax) < best)
        bd = dr;
    *d_out = bd;
}

/* search_params(), asymmetric: 12 clip ratios of the range (8 + 4 per batch), then the refit */
INL void FN(search_asym)(const float *x, const float *w, int G, const wg_qformat *f,
                         float *d_out, int *z_out)
{
    const int qmax = (1 << f->bits) - 1;
    float mn, mx, d[16], zf[16];
    int z[16];
    double err[16];
    FN(range)(x, G, &mn, &mx);
    for (int c = 0; c < 16; c++) {
        asym_params(mn, mx, 1.0f - 0.04f * (float)(c < WG_N_CLIP ? c : 0), qmax, f->scale_f32,
                    &d[c], &z[c]);
        zf[c] = (float)z[c];
    }
    FN(batch_err)(x, w, G, d, zf, qmax, err);
    FN(batch_err)(x, w, G, d + 8, zf + 8, qmax, err + 8);
    double best;
    int c = FN(first_min)(err, WG_N_CLIP, &best);
    float bd = d[c];
    int bz = z[c];
    float dr;
    if (FN(refit)(x, w, G, bd, bz, qmax, f->scale_f32, &dr) && dr != bd &&
        FN(cand_err)(x, w, G, dr, bz, qmax) < best)
        bd = dr;
    *d_out = bd;
    *z_out = bz;
}

INL void FN(params)(const float *x, const float *w, int G, const wg_qformat *f,
                            bool search, float *d, int *z)
{
    if (f->sym) {
        *z = 1 << (f->bits - 1);
        if (search) {
            FN(search_sym)(x, w, G, f, d);
            return;
        }
        float mn, mx;
        FN(range)(x, G, &mn, &mx);
        float m = mx >= -mn ? mx : mn;
        *d = store_scale(1.0f * m / (float)-*z, f->scale_f32);
    } else if (search)
        FN(search_asym)(x, w, G, f, d, z);
    else {
        float mn, mx;
        FN(range)(x, G, &mn, &mx);
        asym_params(mn, mx, 1.0f, (1 << f->bits) - 1, f->scale_f32, d, z);
    }
}

/* Fold a chunk's 8 lanes into m in lane order, as metric_group() does. */
INL void FN(fold)(wg_qmetrics *m, const VF *ssx, const VF *ssq, const VF *dot, const VF *sse,
                  const VF *wsse, const VF *mxv, const VI *clip)
{
#if VW == 8 && defined(__x86_64__)
    /* (ssx, ssq, dot, sse) of lane l side by side: a 4x8 transpose, then one v4d chain */
    __m256 t0 = _mm256_unpacklo_ps((__m256)ssx[0], (__m256)ssq[0]),
           t1 = _mm256_unpackhi_ps((__m256)ssx[0], (__m256)ssq[0]),
           t2 = _mm256_unpacklo_ps((__m256)dot[0], (__m256)sse[0]),
           t3 = _mm256_unpackhi_ps((__m256)dot[0], (__m256)sse[0]);
    __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xee),
                   _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xee)};
    __m256d a = _mm256_set_pd(m->sse, m->dot, m->ssq, m->ssx);
    for (int l = 0; l < 4; l++)
        a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm256_castps256_ps128(u[l])));
    for (int l = 0; l < 4; l++)
        a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm256_extractf128_ps(u[l], 1)));
    double r[4];
    _mm256_storeu_pd(r, a);
    m->ssx = r[0], m->ssq = r[1], m->dot = r[2], m->sse = r[3];
#else
    for (int l = 0; l < 8; l++) {
        m->ssx += ssx[l / VW][l % VW];
        m->ssq += ssq[l / VW][l % VW];
        m->dot += dot[l / VW][l % VW];
        m->sse += sse[l / VW][l % VW];
    }
#endif
    float mx = 0;
    for (int l = 0; l < 8; l++) {
        m->wsse += wsse[l / VW][l % VW];
        mx = mxv[l / VW][l % VW] > mx ? mxv[l / VW][l % VW] : mx;
        m->clipped += (uint32_t)clip[l / VW][l % VW];
    }
    m->max_abs = mx > m->max_abs ? mx : m->max_abs;
}

/* codes and metric_group() for one chunk of n <= WG_METRIC_CHUNK values (a multiple of 8), the
 * first nm of which are measured. Values past nm are the group's zero padding (x = 0, code z,
 * weight 0): they add exactly nothing to the lanes and are not binned. */
INL void FN(chunk)(const float *x, const float *w, int n, int nm, float d, int z, int qmax,
                   uint8_t *codes, wg_qmetrics *m, uint32_t (*hist4)[WG_QHIST_BINS])
{
    const VF vid = FN(splat)(inv_scale(d)), zh = FN(splat)((float)z + 0.5f),
             fq = FN(splat)((float)qmax);
    int i = 0;
    if (m) {
        VF ssx[NV], ssq[NV], dot[NV], sse[NV], wsse[NV], mxv[NV];
        VI clip[NV];
        for (int k = 0; k < NV; k++) {
            ssx[k] = ssq[k] = dot[k] = sse[k] = wsse[k] = mxv[k] = FN(splat)(0.0f);
            clip[k] = (VI){0};
        }
        uint8_t bins[WG_METRIC_CHUNK];
        const float inv = d != 0.0f ? 1.0f / fabsf(d) : 0.0f, half = 0.5f * fabsf(d) * 1.0001f;
        const VF zf = FN(splat)((float)z), vd = FN(splat)(d), vinv = FN(splat)(inv),
                 vhalf = FN(splat)(half), hb = FN(splat)((float)((WG_QHIST_BINS - 2) / 2)),
                 top = FN(splat)((float)(WG_QHIST_BINS - 1)), one = FN(splat)(1.0f);
        for (; i < nm; i += 8)
            for (int k = 0; k < NV; k++) {
                const int o = i + k * VW;
                VF xi = FN(ld)(x + o);
                VI q = __builtin_convertvector(FN(clamp)(xi * vid + zh, fq), VI);
                FN(stb)(codes + o, q);
                VF y = vd * (__builtin_convertvector(q, VF) - zf), e = xi - y,
                   ae = (VF)((VI)e & 0x7fffffff), ee = e * e;
                ssx[k] += xi * xi;
                ssq[k] += y * y;
                dot[k] += xi * y;
                sse[k] += ee;
                wsse[k] += w ? FN(ld)(w + o) * e * e : ee;
                mxv[k] = FN(max)(ae, mxv[k]);
                clip[k] -= ((q == 0) | (q == qmax)) & (ae > vhalf);
                VF r = (e * vinv + one) * hb + one;
                r = (VF)((VI)r & (r >= FN(splat)(0.0f))); /* NaN -> bin 0 */
                FN(stb)(bins + o, __builtin_convertvector(FN(sel)(r > top, top, r), VI));
            }
        FN(fold)(m, ssx, ssq, dot, sse, wsse, mxv, clip);
        int j = 0;
        for (; j + 4 <= nm; j += 4) {
            hist4[0][bins[j]]++;
            hist4[1][bins[j + 1]]++;
            hist4[2][bins[j + 2]]++;
            hist4[3][bins[j + 3]]++;
        }
        for (; j < nm; j++)
            hist4[0][bins[j]]++;
    }
    for (; i < n; i += VW)
        FN(stb)(codes + i, __builtin_convertvector(FN(clamp)(FN(ld)(x + i) * vid + zh, fq), VI));
}

/* One group: scale and zero point, codes, and (m != NULL) the metrics of its first `valid`
 * values in chunks of WG_METRIC_CHUNK, as quant.c's reference group. */
ATTR static void FN(group)(const float *x, const float *w, int G, int valid,
                           const wg_qformat *f, bool search, float *d, int *z, uint8_t *codes,
                           wg_qmetrics *m, uint32_t (*hist4)[WG_QHIST_BINS])
{
    FN(params)(x, w, G, f, search, d, z);
    const int qmax = (1 << f->bits) - 1;
    for (int c = 0; c < G; c += WG_METRIC_CHUNK) {
        int n = G - c < WG_METRIC_CHUNK ? G - c : WG_METRIC_CHUNK, nm = valid - c;
        nm = nm < 0 ? 0 : nm > n ? n : nm;
        FN(chunk)(x + c, w ? w + c : NULL, n, nm, *d, *z, qmax, codes + c, nm ? m : NULL, hist4);
    }
}

#undef VF
#undef VI
#undef VB
#undef NV
#undef INL
