/* tests/unit/test_formats.c — units for formats/: glob rules, dtype sizes, shapes, errors. */
#include <criterion/criterion.h>
#include <string.h>
#include "../../formats/model.h"

Test(glob, star_and_layer_capture)
{
    long l;
    cr_assert(wg_glob_match("*layers.#.self_attn.q_proj.weight", "model.layers.12.self_attn.q_proj.weight", &l));
    cr_assert_eq(l, 12);
    cr_assert(wg_glob_match("encoder.block.#.layer.?.SelfAttention.q.weight", "encoder.block.3.layer.0.SelfAttention.q.weight", &l));
    cr_assert_eq(l, 3, "the first # captures, not a later digit");
    cr_assert_not(wg_glob_match("*layers.#.mlp", "model.layers.x.mlp", &l));
    cr_assert(wg_glob_match("*bias", "a.b.bias", &l));
    cr_assert_eq(l, -1);
    cr_assert_not(wg_glob_match("a?c", "ac", NULL));
}

Test(glob, long_names_never_match)
{
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_assert_not(wg_glob_match("*", big, NULL));
}

Test(dtype, sizes_and_overflow)
{
    uint64_t b;
    cr_assert(wg_dtype_bytes(WG_DT_BF16, 10, &b) && b == 20);
    cr_assert(wg_dtype_bytes(WG_DT_I4, 3, &b) && b == 2, "sub-byte types round up");
    cr_assert_not(wg_dtype_bytes(WG_DT_F64, UINT64_MAX / 4, &b));
    cr_assert_not(wg_dtype_bytes(WG_DT_STRING, 1, &b));
    cr_assert_str_eq(wg_dtype_name(WG_DT_F4E2M1), "f4e2m1");
}

Test(shape, numel_rejects_negative_and_overflow)
{
    uint64_t n;
    int64_t ok[3] = {2, 3, 4}, neg[2] = {2, -1}, ovf[3] = {1LL << 32, 1LL << 32, 2};
    cr_assert(wg_shape_numel(ok, 3, &n) && n == 24);
    cr_assert(wg_shape_numel(ok, 0, &n) && n == 1, "a scalar has one element");
    cr_assert_not(wg_shape_numel(neg, 2, &n));
    cr_assert_not(wg_shape_numel(ovf, 3, &n));
}

Test(error, first_error_wins_and_is_one_line)
{
    wg_error e = {0};
    cr_assert_eq(wg_fail(&e, WG_EINPUT, "a.bin", "bad name '%s'", "x\ny"), WG_EINPUT);
    wg_fail(&e, WG_EIO, "b.bin", "later");
    cr_assert_eq(e.code, WG_EINPUT);
    cr_assert_str_eq(e.msg, "a.bin: bad name 'x?y'");
}

Test(roles, names_round_trip)
{
    for (int r = 0; r < WG_ROLE_COUNT; r++)
        cr_assert_eq(wg_role_parse(wg_role_name((wg_role)r)), r);
    cr_assert_eq(wg_role_parse("nope"), -1);
}
