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
#define NV (8 / VW) /* vectors per 8 lanes */
#define INL ATTR static inline __attribute__((always_inline))

INL VF FN(ld)(const float *p) { VF v; memcpy(&v, p, sizeof v); return v; }
INL void FN(st)(float *p, VF v) { memcpy(p, &v, sizeof v); }
INL VF FN(splat)(float a) { return (VF){0} + a; }
INL VF FN(sel)(VI m, VF a, VF b) { return (VF)((m & (VI)a) | (~m & (VI)b)); }
/* t < 0 ? 0 : t, then t > c ? c : t: the clamps of code_of() */
INL VF FN(clamp)(VF t, VF c)
{
    t = (VF)((VI)t & ~(t < FN(splat)(0.0f)));
    return FN(sel)(t > c, c, t);
}
/* (float)(int)t for t already clamped to [0, qmax] */
INL VF FN(trunc)(VF t) { return __builtin_convertvector(__builtin_convertvector(t, VI), VF); }

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

ATTR static void FN(codes)(const float *x, int G, float d, int z, int qmax, uint8_t *codes)
{
    const VF vid = FN(splat)(inv_scale(d)), zh = FN(splat)((float)z + 0.5f),
             fq = FN(splat)((float)qmax);
    for (int i = 0; i < G; i += VW) {
        VI q = __builtin_convertvector(FN(clamp)(FN(ld)(x + i) * vid + zh, fq), VI);
        for (int l = 0; l < VW; l++)
            codes[i + l] = (uint8_t)q[l];
    }
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
 * weights every term x*q is exact in double (24-bit x times a code of at most 9 bits); when the
 * exponents of the x with q != 0 span little enough that every partial sum is exact too, any
 * summation order gives the reference's bits, so the sums run in 4 independent chains. */
INL bool FN(refit)(const float *x, const float *w, int G, float d, int z, int qmax, bool f32,
                   float *out)
{
    uint8_t c[WG_METRIC_CHUNK];
    double num = 0, den = 0;
    bool exact = false;
    if (!w && G <= WG_METRIC_CHUNK) {
        FN(codes)(x, G, d, z, qmax, c);
        int emin = 255, emax = 0;
        int64_t q2 = 0;
        double s[4] = {0, 0, 0, 0};
        for (int i = 0; i < G; i++) {
            int q = c[i] - z;
            uint32_t u;
            memcpy(&u, &x[i], 4);
            int e = (int)(u >> 23 & 0xff);
            e = e ? e : 1;
            emin = q && e < emin ? e : emin;
            emax = e > emax ? e : emax;
            q2 += q * q;
            s[i & 3] += (double)x[i] * q;
        }
        int lg = 0;
        while ((1 << lg) < G)
            lg++;
        /* terms are multiples of 2^(emin-150); |sum| < G * 2^(bits+1) * 2^(emax-126) */
        int bits = 1;
        while ((1 << bits) <= qmax)
            bits++;
        if (emin == 255 || emax - emin <= 53 - 24 - (bits + 1) - lg) {
            exact = true;
            num = (s[0] + s[1]) + (s[2] + s[3]);
            den = (double)q2;
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

/* search_params(), symmetric: the 24 candidate scales are computed 8 (or 4) at a time; a
 * candidate equal to the best so far or to the previous one has the same error and is skipped
 * (the reference keeps the first of equal errors, so skipping cannot change the choice). */
INL void FN(search_sym)(const float *x, const float *w, int G, const wg_qformat *f, float *d_out)
{
    const int qmax = (1 << f->bits) - 1, half = 1 << (f->bits - 1);
    float mn, mx;
    FN(range)(x, G, &mn, &mx);
    const float m = mx >= -mn ? mx : mn;
    enum { CV = (WG_N_CLIP + VW - 1) / VW };
    float cand[2][CV * VW];
    for (int v = 0; v < CV; v++) {
        VF k;
        for (int l = 0; l < VW; l++)
            k[l] = (float)(v * VW + l);
        VF clip = 1.0f - 0.04f * k;
        VF dv = FN(store_scale)(clip * m / (float)-half, f->scale_f32);
        FN(st)(cand[0] + v * VW, dv);
        FN(st)(cand[1] + v * VW, FN(store_scale)(-dv * (float)half / (float)(half - 1), f->scale_f32));
    }
    float bd = cand[0][0], prev = bd;
    double best = FN(cand_err)(x, w, G, bd, half, qmax);
    for (int c = 1; c < 2 * WG_N_CLIP; c++) {
        float d = cand[c / WG_N_CLIP][c % WG_N_CLIP];
        if (d == prev || d == bd) {
            prev = d;
            continue;
        }
        prev = d;
        double e = FN(cand_err)(x, w, G, d, half, qmax);
        if (e < best) {
            best = e;
            bd = d;
        }
    }
    float d;
    if (FN(refit)(x, w, G, bd, half, qmax, f->scale_f32, &d) && d != bd &&
        FN(cand_err)(x, w, G, d, half, qmax) < best)
        bd = d;
    *d_out = bd;
}

/* search_params(), asymmetric: 12 clip ratios of the range, then the refit */
INL void FN(search_asym)(const float *x, const float *w, int G, const wg_qformat *f,
                         float *d_out, int *z_out)
{
    const int qmax = (1 << f->bits) - 1;
    float mn, mx, bd = 0, pd = 0;
    int bz = 0, pz = 0;
    double best = 0;
    FN(range)(x, G, &mn, &mx);
    for (int c = 0; c < WG_N_CLIP; c++) {
        float d;
        int z;
        asym_params(mn, mx, 1.0f - 0.04f * (float)c, qmax, f->scale_f32, &d, &z);
        if (c && ((d == bd && z == bz) || (d == pd && z == pz))) {
            pd = d, pz = z;
            continue;
        }
        pd = d, pz = z;
        double e = FN(cand_err)(x, w, G, d, z, qmax);
        if (!c || e < best) {
            best = e;
            bd = d;
            bz = z;
        }
    }
    float d;
    if (FN(refit)(x, w, G, bd, bz, qmax, f->scale_f32, &d) && d != bd &&
        FN(cand_err)(x, w, G, d, bz, qmax) < best)
        bd = d;
    *d_out = bd;
    *z_out = bz;
}

ATTR static void FN(params)(const float *x, const float *w, int G, const wg_qformat *f,
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

/* metric_group() on n <= WG_METRIC_CHUNK values; a last partial 8 goes through a zero-padded
 * copy whose padding adds exactly nothing (x = 0, code = z, weight 0) and is not binned. */
ATTR static void FN(metrics)(wg_qmetrics *m, const float *x, const uint8_t *codes, int n,
                             float d, int z, const float *w, int qmax,
                             uint32_t (*hist4)[WG_QHIST_BINS])
{
    VF ssx[NV], ssq[NV], dot[NV], sse[NV], wsse[NV], mxv[NV];
    VI clip[NV];
    for (int k = 0; k < NV; k++) {
        ssx[k] = ssq[k] = dot[k] = sse[k] = wsse[k] = mxv[k] = FN(splat)(0.0f);
        clip[k] = (VI){0};
    }
    uint8_t bins[WG_METRIC_CHUNK + 8];
    const float inv = d != 0.0f ? 1.0f / fabsf(d) : 0.0f, half = 0.5f * fabsf(d) * 1.0001f;
    const VF zf = FN(splat)((float)z), vd = FN(splat)(d), vinv = FN(splat)(inv),
             vhalf = FN(splat)(half), hb = FN(splat)((float)((WG_QHIST_BINS - 2) / 2)),
             top = FN(splat)((float)(WG_QHIST_BINS - 1)), one = FN(splat)(1.0f);
    float tx[8], tw[8];
    uint8_t tc[8];
    for (int i = 0; i < n; i += 8) {
        const float *xp = x + i, *wp = w ? w + i : NULL;
        const uint8_t *cp = codes + i;
        if (n - i < 8) { /* the tail, padded */
            for (int l = 0; l < 8; l++) {
                bool in = i + l < n;
                tx[l] = in ? x[i + l] : 0.0f;
                tw[l] = in && w ? w[i + l] : 0.0f;
                tc[l] = in ? codes[i + l] : (uint8_t)z;
            }
            xp = tx, cp = tc, wp = w ? tw : NULL;
        }
        for (int k = 0; k < NV; k++) {
            VI cv;
            for (int l = 0; l < VW; l++)
                cv[l] = cp[k * VW + l];
            VF xi = FN(ld)(xp + k * VW), y = vd * (__builtin_convertvector(cv, VF) - zf),
               e = xi - y, ae = (VF)((VI)e & 0x7fffffff);
            ssx[k] += xi * xi;
            ssq[k] += y * y;
            dot[k] += xi * y;
            sse[k] += e * e;
            wsse[k] += wp ? FN(ld)(wp + k * VW) * e * e : e * e;
            mxv[k] = FN(sel)(ae > mxv[k], ae, mxv[k]);
            clip[k] -= ((cv == 0) | (cv == qmax)) & (ae > vhalf);
            VF r = (e * vinv + one) * hb + one;
            r = (VF)((VI)r & (r >= FN(splat)(0.0f))); /* NaN -> bin 0 */
            r = FN(sel)(r > top, top, r);
            VI b = __builtin_convertvector(r, VI);
            for (int l = 0; l < VW; l++)
                bins[i + k * VW + l] = (uint8_t)b[l];
        }
    }
    for (int l = 0; l < 8; l++) {
        int k = l / VW, j = l % VW;
        m->ssx += ssx[k][j];
        m->ssq += ssq[k][j];
        m->dot += dot[k][j];
        m->sse += sse[k][j];
        m->wsse += wsse[k][j];
        m->max_abs = mxv[k][j] > m->max_abs ? mxv[k][j] : m->max_abs;
        m->clipped += (uint32_t)clip[k][j];
    }
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        hist4[0][bins[i]]++;
        hist4[1][bins[i + 1]]++;
        hist4[2][bins[i + 2]]++;
        hist4[3][bins[i + 3]]++;
    }
    for (; i < n; i++)
        hist4[0][bins[i]]++;
}

#undef VF
#undef VI
#undef NV
#undef INL
