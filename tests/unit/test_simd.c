/* tests/unit/test_simd.c — the vectorised kernels (quant/simd.c) against the scalar reference
 * (quant/quant.c), bit for bit: scale, zero point, codes and every metric including the error
 * histogram, on groups built to reach every branch (all zeros, subnormal and clamped scales,
 * outliers, one value, wide exponent spans that defeat the exact refit shortcut, negative
 * weights that disable the search's bound, padding, per-channel groups longer than a metric
 * chunk); and the streaming quantizer against tensor-by-tensor quantization. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../quant/quant_internal.h"

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static float unif(uint32_t *s) { return (float)rnd(s) / 16777216.0f * 2.0f - 1.0f; }

/* one group of G values (first `valid` real, the rest zero padding) of kind k */
static void make_group(int k, uint32_t *s, float *x, int G, int valid)
{
    for (int i = 0; i < G; i++) {
        float v = unif(s);
        switch (k % 12) {
        case 0: v *= 0.05f; break;                                         /* uniform */
        case 1: v = (unif(s) + unif(s) + unif(s)) * 0.02f; break;          /* bell */
        case 2: v *= (rnd(s) & 15) == 0 ? 0.4f : 0.03f; break;             /* outliers */
        case 3: v = 0.0f; break;                                           /* all zeros */
        case 4: v = 0.25f; break;                                          /* constant */
        case 5: v *= 1e-6f; break;                                         /* subnormal fp16 scales */
        case 6: v *= 3e6f; break;                                          /* scale clamped at 65504 */
        case 7: v = i == 3 ? -0.7f : 0.0f; break;                          /* one value */
        case 8: v *= (i & 1) ? 1e-9f : 1.0f; break;                        /* wide exponent span */
        case 9: v = fabsf(v) * 0.1f; break;                                /* one-signed */
        case 10: v *= 1e-30f; break;                                       /* f32 subnormal range */
        case 11: v = (float)(int)(v * 8.0f) * 0.125f; break;               /* on a grid: ties */
        }
        x[i] = i < valid ? v : 0.0f;
    }
}

static void weights(int k, uint32_t *s, float *w, int G, int valid)
{
    for (int i = 0; i < G; i++) {
        float v = fabsf(unif(s)) * 3.0f;
        if (k == 2 && i == 5)
            v = -0.5f; /* a negative weight: the search must not use its bound */
        if (k == 3)
            v = (i & 3) ? 1.0f : 0.0f;
        w[i] = i < valid ? v : 0.0f;
    }
}

static void same_group(const wg_qkernels *fast, const wg_qformat *f, const float *x,
                       const float *w, int G, int valid, bool search, const char *what)
{
    float d1, d2;
    int z1, z2;
    uint8_t *c1 = malloc((size_t)G), *c2 = malloc((size_t)G);
    wg_qmetrics m1 = {0}, m2 = {0};
    uint32_t h1[4][WG_QHIST_BINS] = {{0}}, h2[4][WG_QHIST_BINS] = {{0}};
    wg_qk_reference.group(x, w, G, valid, f, search, &d1, &z1, c1, &m1, h1);
    fast->group(x, w, G, valid, f, search, &d2, &z2, c2, &m2, h2);
    cr_assert(!memcmp(&d1, &d2, 4), "%s %s: scale %a vs %a", fast->name, what, d1, d2);
    cr_assert_eq(z1, z2, "%s %s: zero", fast->name, what);
    cr_assert(!memcmp(c1, c2, (size_t)G), "%s %s: codes", fast->name, what);
    cr_assert(!memcmp(&m1, &m2, sizeof m1), "%s %s: metrics (sse %a vs %a, max %a vs %a)",
              fast->name, what, m1.sse, m2.sse, m1.max_abs, m2.max_abs);
    for (int b = 0; b < WG_QHIST_BINS; b++)
        cr_assert_eq(h1[0][b] + h1[1][b] + h1[2][b] + h1[3][b],
                     h2[0][b] + h2[1][b] + h2[2][b] + h2[3][b], "%s %s: bin %d", fast->name, what, b);
    free(c1);
    free(c2);
}

static const char *const rows[] = {"generic", "avx2"};

Test(simd, every_kernel_row_equals_the_reference_bit_for_bit)
{
    static const int bits[] = {2, 3, 4, 5, 6, 8}, groups[] = {32, 64, 128, 256, 2080, 4128};
    float *x = malloc(sizeof(float) * 4128), *w = malloc(sizeof(float) * 4128);
    uint32_t s = 12345;
    int tested = 0;
    for (size_t r = 0; r < 2; r++) {
        const wg_qkernels *fast = wg_qk_fast(rows[r]);
        if (!fast)
            continue; /* this CPU cannot run it */
        for (int k = 0; k < 12; k++)
            for (size_t b = 0; b < 6; b++)
                for (size_t g = 0; g < 6; g++)
                    for (int mode = 0; mode < 8; mode++) {
                        int G = groups[g], valid = mode & 4 ? G - 7 - (int)(rnd(&s) % 20) : G;
                        wg_qformat f = {.kind = WG_Q_INT, .bits = bits[b], .group = G,
                                        .sym = !(mode & 1), .scale_f32 = (k + mode) % 3 == 0};
                        make_group(k, &s, x, G, valid);
                        int wk = (int)(rnd(&s) % 4);
                        if (mode & 2)
                            weights(wk, &s, w, G, valid);
                        char what[96];
                        snprintf(what, sizeof what, "kind %d q%d g%d %s valid %d w%d", k,
                                 bits[b], G, f.sym ? "sym" : "asym", valid, mode & 2 ? wk : -1);
                        for (int search = 0; search < 2; search++)
                            same_group(fast, &f, x, mode & 2 ? w : NULL, G, valid, search, what);
                        tested++;
                    }
    }
    cr_assert_gt(tested, 0);
    free(x);
    free(w);
}

Test(simd, generic_row_runs_everywhere)
{
    cr_assert_not_null(wg_qk_fast("generic"));
    cr_assert_not_null(wg_qk_fast(NULL));
    cr_assert_null(wg_qk_fast("no-such-row"));
}

/* the branch-free fp16 rounding the fast search uses to compute its candidate scales */
Test(simd, round_f16_equals_the_conversion_pair)
{
    uint32_t s = 99;
    for (uint32_t h = 0; h < 0x7c00; h++) /* every finite fp16, +-, and both neighbours */
        for (int sign = 0; sign < 2; sign++) {
            float f = wg_f16_to_f32((uint16_t)(h | (uint32_t)sign << 15));
            uint32_t u;
            memcpy(&u, &f, 4);
            for (int dlt = -2; dlt <= 2; dlt++) {
                uint32_t v = u + (uint32_t)dlt;
                float g;
                memcpy(&g, &v, 4);
                if (!(fabsf(g) <= 65504.0f))
                    continue;
                float a = wg_f16_to_f32(wg_f32_to_f16(g)), b = wg_qk_round_f16(g);
                cr_assert(!memcmp(&a, &b, 4), "%a: %a vs %a", g, a, b);
            }
        }
    for (int i = 0; i < 2000000; i++) { /* and random floats of every magnitude up to 65504 */
        uint32_t v = rnd(&s) << 8 | (rnd(&s) & 255);
        float g;
        memcpy(&g, &v, 4);
        if (!(fabsf(g) <= 65504.0f))
            continue;
        float a = wg_f16_to_f32(wg_f32_to_f16(g)), b = wg_qk_round_f16(g);
        cr_assert(!memcmp(&a, &b, 4), "%a: %a vs %a", g, a, b);
    }
}

/* whole rows through wg_quantize_rows: each fast row gives the reference's bytes and metrics */
Test(simd, quantize_rows_same_bytes_every_row)
{
    enum { R = 5, K = 700 };
    float *x = malloc(sizeof(float) * R * K);
    uint32_t s = 3;
    for (int i = 0; i < R * K; i++)
        x[i] = unif(&s) * ((rnd(&s) & 63) == 0 ? 0.5f : 0.04f);
    const char *fmts[] = {"q4", "q3g64a", "q8cs", "q2g256s.s32", "q5g128a", "q6"};
    for (size_t fi = 0; fi < 6; fi++)
        for (int search = 0; search < 2; search++) {
            wg_qformat f;
            wg_qlayout l;
            cr_assert(wg_qformat_parse(fmts[fi], &f));
            cr_assert(wg_qformat_layout(&f, R, K, &l));
            uint8_t *a = calloc(1, l.total_bytes), *b = calloc(1, l.total_bytes);
            wg_qmetrics ma = {0};
            wg_qopts ref = {.search = search, .reference = true};
            cr_assert_eq(wg_quantize_rows(&f, &l, x, 0, R, &ref, a, &ma), 0);
            for (size_t r = 0; r < 2; r++) {
                wg_qopts o = {.search = search, .kernels = rows[r]};
                wg_qmetrics mb = {0};
                memset(b, 0, l.total_bytes);
                int rc = wg_quantize_rows(&f, &l, x, 0, R, &o, b, &mb);
                if (!wg_qk_fast(rows[r])) {
                    cr_assert_eq(rc, -1, "an unavailable row is refused");
                    continue;
                }
                cr_assert_eq(rc, 0);
                cr_assert(!memcmp(a, b, l.total_bytes), "%s %s search %d", rows[r], fmts[fi], search);
                cr_assert(!memcmp(&ma, &mb, sizeof ma), "%s %s metrics", rows[r], fmts[fi]);
            }
            free(a);
            free(b);
        }
    free(x);
}

/* the stream hands every tensor over in order, with wg_quantize_tensor's bytes and metrics */
typedef struct collected {
    const wg_model *m;
    const wg_plan_entry *p;
    size_t next;
    int fail_at;
} collected;

static int check_sink(void *ctx, size_t i, const uint8_t *data, uint64_t bytes,
                      const wg_qmetrics *qm, wg_error *err)
{
    collected *c = ctx;
    cr_assert_eq(i, c->next++, "in order");
    cr_assert_eq(bytes, c->p[i].bytes);
    if ((int)i == c->fail_at)
        return wg_fail(err, WG_EIO, "sink", "stops at %zu", i);
    uint8_t *want = malloc(bytes ? bytes : 1);
    wg_qmetrics wm;
    wg_error e = {0};
    wg_qopts o = {.search = true, .threads = 1};
    cr_assert_eq(wg_quantize_tensor(&c->m->tensors[i], &c->p[i], &o, want, &wm, &e), 0);
    cr_assert(!memcmp(want, data, bytes), "tensor %zu bytes", i);
    cr_assert(!memcmp(&wm, qm, sizeof wm), "tensor %zu metrics", i);
    free(want);
    return 0;
}

Test(simd, stream_equals_tensor_by_tensor_and_stops_on_sink_error)
{
    wg_model *m;
    wg_error e = {0};
    cr_assert_eq(wg_model_open("models/tinyllama", NULL, &m, &e), 0, "%s", e.msg);
    wg_plan_entry *p = calloc(m->n_tensors, sizeof *p);
    wg_plan_opts po;
    wg_plan_opts_default(&po);
    po.preset = WG_PRESET_Q4;
    cr_assert_eq(wg_plan_preset(m, &po, p, &e), 0);
    collected c = {m, p, 0, -1};
    wg_qopts o = {.search = true, .threads = 2};
    cr_assert_eq(wg_quantize_stream(m, p, &o, check_sink, &c, &e), 0, "%s", e.msg);
    cr_assert_eq(c.next, m->n_tensors);
    collected c2 = {m, p, 0, 5};
    wg_error e2 = {0};
    cr_assert_eq(wg_quantize_stream(m, p, &o, check_sink, &c2, &e2), WG_EIO);
    cr_assert(strstr(e2.msg, "stops at 5"), "%s", e2.msg);
    cr_assert_eq(c2.next, 6, "nothing after the failing tensor");
    free(p);
    wg_model_free(m);
}

/* the F16C reader gives wg_f16_to_f32's bits for all 65536 halves, signalling NaNs included */
Test(simd, f16_reader_bit_for_bit_every_half)
{
    uint8_t *in = malloc(2 * 65536 + 6);
    float *out = malloc(sizeof(float) * 65539);
    for (uint32_t h = 0; h < 65536 + 3; h++) { /* 3 more: a partial last vector */
        uint16_t v = (uint16_t)(h * 40503u);
        memcpy(in + 2 * h, &v, 2);
    }
    if (!wg_qk_f16_to_f32(in, out, 65539)) {
        cr_skip_test("this CPU has no F16C");
    }
    for (uint32_t h = 0; h < 65539; h++) {
        uint16_t v;
        memcpy(&v, in + 2 * h, 2);
        float want = wg_f16_to_f32(v);
        cr_assert(!memcmp(&want, &out[h], 4), "half %04x", v);
    }
    free(in);
    free(out);
}
