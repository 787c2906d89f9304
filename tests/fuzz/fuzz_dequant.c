/* tests/fuzz/fuzz_dequant.c — the unpacker/dequantizer for every format on arbitrary bytes and
 * shapes, differential: the scalar reference and the fast path must agree bit for bit. */
#include "fuzz_common.h"
#include "../../quant/quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 4)
        return 0;
    static const int bits[6] = {2, 3, 4, 5, 6, 8}, groups[5] = {32, 64, 128, 256, 0};
    wg_qformat f = {.kind = WG_Q_INT, .bits = bits[data[0] % 6], .group = groups[(data[0] / 6) % 5],
                    .sym = data[1] & 1, .scale_f32 = (data[1] >> 1) & 1};
    int64_t rows = 1 + data[2] % 8, K = 1 + data[3] * 3;
    wg_qlayout l;
    if (!wg_qformat_layout(&f, rows, K, &l))
        abort();
    if (l.total_bytes > n - 4)
        return 0;
    float *a = malloc(sizeof(float) * (size_t)(rows * K)), *b = malloc(sizeof(float) * (size_t)(rows * K));
    wg_dequantize_rows(&f, &l, data + 4, 0, rows, true, a);
    wg_dequantize_rows(&f, &l, data + 4, 0, rows, false, b);
    if (memcmp(a, b, sizeof(float) * (size_t)(rows * K)))
        abort();
    /* and quantizing the result must not crash either (NaN/Inf refused, not mishandled) */
    uint8_t *q = malloc(l.total_bytes + 1);
    wg_qopts o = {.search = data[1] & 4};
    wg_qmetrics m = {0};
    wg_quantize_rows(&f, &l, a, 0, rows, &o, q, &m);
    free(q);
    free(a);
    free(b);
    return 0;
}
