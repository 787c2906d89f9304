/* tests/unit/test_quant.c — units for quant/: the format table and exact byte layout. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../../quant/quant.h"

Test(qformat, parse_and_name_round_trip)
{
    const char *names[] = {"fp16", "bf16", "f32", "q4g32s", "q4g128a", "q8cs", "q3g64s.s32",
                           "q2g256a", "q5g32s", "q6cs"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        wg_qformat f;
        char buf[32];
        cr_assert(wg_qformat_parse(names[i], &f), "%s", names[i]);
        cr_assert_str_eq(wg_qformat_name(&f, buf, sizeof buf), names[i]);
    }
    wg_qformat f;
    cr_assert(wg_qformat_parse("q4", &f) && f.bits == 4 && f.group == 32 && f.sym);
    cr_assert_not(wg_qformat_parse("q7", &f));
    cr_assert_not(wg_qformat_parse("q4g48s", &f));
    cr_assert_not(wg_qformat_parse("q4g32x", &f));
    cr_assert_not(wg_qformat_parse("fp16.s32", &f));
}

Test(qformat, exact_layout_bytes)
{
    wg_qformat f;
    wg_qlayout l;
    /* q4 g32 sym, 4096 x 4096: 4096*4096/2 data + 4096*128 fp16 scales */
    wg_qformat_parse("q4g32s", &f);
    cr_assert(wg_qformat_layout(&f, 4096, 4096, &l));
    cr_assert_eq(l.data_bytes, 4096ull * 4096 / 2);
    cr_assert_eq(l.scale_bytes, 4096ull * 128 * 2);
    cr_assert_eq(l.zero_bytes, 0);
    /* q3 g128 asym, K=300 pads to 384 = 3 groups; 3 bits * 384 / 8 = 144 bytes per row */
    wg_qformat_parse("q3g128a", &f);
    cr_assert(wg_qformat_layout(&f, 10, 300, &l));
    cr_assert_eq(l.Kp, 384);
    cr_assert_eq(l.data_bytes, 10 * 144);
    cr_assert_eq(l.scale_bytes, 10 * 3 * 2);
    cr_assert_eq(l.zero_bytes, 10 * 3);
    /* per-channel: one group per row, K rounded up to 32 */
    wg_qformat_parse("q8cs.s32", &f);
    cr_assert(wg_qformat_layout(&f, 7, 33, &l));
    cr_assert_eq(l.Kp, 64);
    cr_assert_eq(l.ngroups, 1);
    cr_assert_eq(l.total_bytes, 7 * 64 + 7 * 4);
    cr_assert_float_eq(wg_qformat_bpw(&f, 64), 8.0 + 32.0 / 64, 1e-9);
}

Test(qformat, every_group_is_whole_u32_words)
{
    for (int b = 2; b <= 8; b++) {
        const wg_qbits *q = wg_qbits_row(b);
        if (!q)
            continue;
        cr_assert_eq(q->words_per_32 * 32, 32 * b);
        cr_assert_eq(q->qmax, (1 << b) - 1);
    }
    cr_assert_null(wg_qbits_row(7));
}

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

Test(fp16, exhaustive_round_trip_and_nan_inf)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = wg_f16_to_f32((uint16_t)h);
        uint16_t back = wg_f32_to_f16(f);
        if (isnan(f))
            cr_assert(isnan(wg_f16_to_f32(back)), "NaN %04x must stay NaN", h);
        else
            cr_assert_eq(back, h, "%04x -> %g -> %04x", h, f, back);
    }
    cr_assert_eq(wg_f32_to_f16(65520.0f), 0x7c00, "rounds up to Inf");
    cr_assert_eq(wg_f32_to_f16(65519.0f), 0x7bff);
    cr_assert_eq(wg_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00, "tie to even (down)");
    cr_assert_eq(wg_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02, "tie to even (up)");
    cr_assert_eq(wg_f32_to_f16(5.960464477539063e-08f), 0x0001, "smallest subnormal");
    cr_assert_eq(wg_f32_to_f16(2.98023223876953125e-08f), 0x0000, "half of it ties to 0");
    cr_assert_eq(wg_f32_to_f16(-INFINITY), 0xfc00);
    cr_assert_eq(wg_f32_to_bf16(1.00390625f), 0x3f80, "bf16 tie to even");
    cr_assert(isnan(wg_bf16_to_f32(wg_f32_to_bf16(NAN))));
}

/* Published test vectors: x_i = (i-16)/4 (+0.1 when i%3==0), one group of 32, RTN.
 * Expected bytes computed independently from the README's layout description. */
static void golden(const char *fmt, const char *hex, float scale)
{
    float x[32];
    for (int i = 0; i < 32; i++)
        x[i] = (float)(i - 16) * 0.25f + (i % 3 == 0 ? 0.1f : 0.0f);
    wg_qformat f;
    wg_qlayout l;
    cr_assert(wg_qformat_parse(fmt, &f));
    cr_assert(wg_qformat_layout(&f, 1, 32, &l));
    uint8_t out[64] = {0};
    wg_qopts o = {.reference = true};
    cr_assert_eq(wg_quantize_rows(&f, &l, x, 0, 1, &o, out, NULL), 0);
    char got[200] = "";
    for (uint64_t i = 0; i < l.data_bytes; i++)
        sprintf(got + 2 * i, "%02x", out[i]);
    cr_assert_str_eq(got, hex, "%s packed bytes", fmt);
    uint16_t h;
    memcpy(&h, out + l.data_bytes, 2);
    cr_assert_float_eq(wg_f16_to_f32(h), scale, 0, "%s scale", fmt);
    o.reference = false;
    uint8_t fast[64] = {0};
    wg_quantize_rows(&f, &l, x, 0, 1, &o, fast, NULL);
    cr_assert_arr_eq(out, fast, l.total_bytes, "%s fast path differs from reference", fmt);
}

Test(qvectors, published_golden_bytes)
{
    golden("q4g32s", "002122335455668798a9bacbdcedfeff", 0.487548828125f);
    golden("q3g32s", "00924892b68d64dbdaf6ffff", 0.97509765625f);
    golden("q2g32a", "545595aaaafeffff", 2.55078125f);
    golden("q5g32a", "2088418a3928a9c59a7b30ca49abbd396bcefbff", 0.246826171875f);
    golden("q8g32s", "00050d191e2631363e4a4f576267707b80889499a1acb1b9c5cad2dee2ebf6fb", 0.0304718017578125f);
    golden("q6g32s", "40301847c23890445999c67da0589ae8cabab15cdff9eeff", 0.12188720703125f);
}

static float gauss(unsigned *s)
{
    float a = 0;
    for (int i = 0; i < 12; i++) {
        *s = *s * 1103515245u + 12345u;
        a += (float)((*s >> 8) & 0xffff) / 65536.0f;
    }
    return a - 6.0f;
}

Test(qref, fast_equals_reference_all_formats)
{
    const int bits[] = {2, 3, 4, 5, 6, 8}, groups[] = {32, 64, 128, 256, 0};
    unsigned s = 7;
    enum { R = 3, K = 300 };
    float *x = malloc(sizeof(float) * R * K), *d1 = malloc(sizeof(float) * R * K),
          *d2 = malloc(sizeof(float) * R * K);
    for (int i = 0; i < R * K; i++)
        x[i] = gauss(&s) * (i % 17 == 0 ? 5.0f : 1.0f);
    for (size_t b = 0; b < 6; b++)
        for (size_t g = 0; g < 5; g++)
            for (int sym = 0; sym < 2; sym++)
                for (int search = 0; search < 2; search++) {
                    wg_qformat f = {.kind = WG_Q_INT, .bits = bits[b], .group = groups[g], .sym = sym};
                    wg_qlayout l;
                    cr_assert(wg_qformat_layout(&f, R, K, &l));
                    uint8_t *a = calloc(1, l.total_bytes), *c = calloc(1, l.total_bytes);
                    wg_qopts o1 = {.search = search, .reference = true}, o2 = {.search = search};
                    wg_qmetrics m1 = {0}, m2 = {0};
                    wg_quantize_rows(&f, &l, x, 0, R, &o1, a, &m1);
                    wg_quantize_rows(&f, &l, x, 0, R, &o2, c, &m2);
                    cr_assert_arr_eq(a, c, l.total_bytes, "bits %d group %d sym %d", bits[b], groups[g], sym);
                    cr_assert_eq(m1.sse, m2.sse);
                    wg_dequantize_rows(&f, &l, a, 0, R, true, d1);
                    wg_dequantize_rows(&f, &l, a, 0, R, false, d2);
                    cr_assert_arr_eq(d1, d2, sizeof(float) * R * K);
                    /* metrics agree with an independent recomputation from the dequantized data */
                    double sse = 0;
                    for (int i = 0; i < R * K; i++)
                        sse += ((double)x[i] - d1[i]) * ((double)x[i] - d1[i]);
                    cr_assert_float_eq(sse, m1.sse, 1e-5 * sse, "float group sums: 1e-5 relative");
                    free(a);
                    free(c);
                }
    free(x);
    free(d1);
    free(d2);
}

Test(qsearch, search_beats_rtn_every_width)
{
    unsigned s = 99;
    enum { R = 64, K = 256 };
    float *x = malloc(sizeof(float) * R * K);
    for (int i = 0; i < R * K; i++)
        x[i] = gauss(&s) * (i % 31 == 0 ? 4.0f : 1.0f); /* heavy-ish tails, like real weights */
    const int bits[] = {2, 3, 4, 5, 6, 8};
    for (int b = 0; b < 6; b++)
        for (int sym = 0; sym < 2; sym++) {
            wg_qformat f = {.kind = WG_Q_INT, .bits = bits[b], .group = 32, .sym = sym};
            wg_qlayout l;
            wg_qformat_layout(&f, R, K, &l);
            uint8_t *buf = calloc(1, l.total_bytes);
            wg_qmetrics rtn = {0}, srch = {0};
            wg_qopts o = {0};
            wg_quantize_rows(&f, &l, x, 0, R, &o, buf, &rtn);
            o.search = true;
            wg_quantize_rows(&f, &l, x, 0, R, &o, buf, &srch);
            cr_assert_gt(wg_qm_sqnr_db(&srch), wg_qm_sqnr_db(&rtn), "bits %d sym %d: search %.2f dB, rtn %.2f dB",
                         bits[b], sym, wg_qm_sqnr_db(&srch), wg_qm_sqnr_db(&rtn));
            free(buf);
        }
    free(x);
}

Test(qnan, nonfinite_refused_by_integer_formats)
{
    float x[32] = {0};
    x[5] = NAN;
    wg_qformat f;
    wg_qlayout l;
    wg_qformat_parse("q4g32s", &f);
    wg_qformat_layout(&f, 1, 32, &l);
    uint8_t out[64]; /* 32 fp16 values */
    cr_assert_eq(wg_quantize_rows(&f, &l, x, 0, 1, NULL, out, NULL), 1);
    wg_qformat h = {.kind = WG_Q_F16};
    wg_qmetrics m = {0};
    cr_assert_eq(wg_cast_rows(&h, x, 32, out, &m), 0);
    cr_assert_eq(m.nonfinite, 1);
}

/* Per-channel rows longer than any fixed buffer (a real bug: dequantization used a 2048-code
 * stack array, and per-channel groups are a whole row). */
Test(qref, per_channel_long_rows_round_trip)
{
    const char *names[] = {"q8cs", "q3ca", "q4cs"};
    const int64_t rows = 3, K = 5000;
    float *x = malloc(sizeof(float) * rows * K), *y = malloc(sizeof(float) * rows * K),
          *z = malloc(sizeof(float) * rows * K);
    for (int64_t i = 0; i < rows * K; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (size_t n = 0; n < sizeof names / sizeof *names; n++) {
        wg_qformat f;
        wg_qlayout l;
        cr_assert(wg_qformat_parse(names[n], &f));
        cr_assert(wg_qformat_layout(&f, rows, K, &l));
        cr_assert_eq(l.ngroups, 1);
        uint8_t *planes = calloc(1, l.total_bytes);
        wg_qmetrics m = {0};
        cr_assert_eq(wg_quantize_rows(&f, &l, x, 0, rows, NULL, planes, &m), 0);
        wg_dequantize_rows(&f, &l, planes, 0, rows, false, y);
        wg_dequantize_rows(&f, &l, planes, 0, rows, true, z);
        cr_assert_eq(memcmp(y, z, sizeof(float) * rows * K), 0, "%s fast != ref", names[n]);
        double step = 2.0 / ((1 << f.bits) - 1), worst = 0;
        for (int64_t i = 0; i < rows * K; i++)
            worst = fabs(x[i] - y[i]) > worst ? fabs(x[i] - y[i]) : worst;
        cr_assert(worst <= step, "%s: max error %g > step %g", names[n], worst, step);
        free(planes);
    }
    free(x);
    free(y);
    free(z);
}
