/* tests/unit/test_quant.c — units for quant/: the format table and exact byte layout. */
#include <criterion/criterion.h>
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
