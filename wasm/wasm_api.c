/* wasm/wasm_api.c — the WebAssembly fallback: the C reference dequantizer (quant/quant.c,
 * quant/half.c, quant/formats.c compiled unchanged for wasm32) behind a tiny exported API, for
 * browsers without WebGPU. Freestanding: no libc, a bump allocator the caller resets.
 *   wg_wasm_alloc(n)   -> pointer into linear memory (grows it)
 *   wg_wasm_reset()    forget every allocation
 *   wg_wasm_dequant(kind, bits, group, sym, scale_f32, rows, K, planes, out) -> 0 / -1
 *        kind: 0 f32, 1 fp16, 2 bf16, 3 integer; planes = data|scales|zeros concatenated
 *   wg_wasm_gemv(same..., x, y) -> 0 / -1: y[r] = sum_k W[r][k] x[k], accumulated in double */
#include "../quant/quant.h"

extern unsigned char __heap_base;
static unsigned long heap_top;

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *a = d;
    const unsigned char *b = s;
    while (n--)
        *a++ = *b++;
    return d;
}

void *memset(void *d, int c, size_t n)
{
    unsigned char *a = d;
    while (n--)
        *a++ = (unsigned char)c;
    return d;
}

__attribute__((export_name("wg_wasm_reset"))) void wg_wasm_reset(void) { heap_top = 0; }

__attribute__((export_name("wg_wasm_alloc"))) void *malloc(size_t n)
{
    if (!heap_top)
        heap_top = ((unsigned long)&__heap_base + 15) & ~15ul;
    unsigned long p = heap_top, end = p + ((n + 15) & ~(size_t)15);
    unsigned long have = __builtin_wasm_memory_size(0) * 65536ul;
    if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1)
        return 0;
    heap_top = end;
    return (void *)p;
}

void *calloc(size_t n, size_t m)
{
    void *p = malloc(n * m);
    return p ? memset(p, 0, n * m) : 0;
}

void free(void *p) { (void)p; }

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
    (void)fmt;
    if (n)
        buf[0] = 0;
    return 0;
}

static int dequant(int kind, int bits, int group, int sym, int scale_f32, int rows, int K,
                   const unsigned char *planes, float *out)
{
    if (kind == 3) {
        wg_qformat f = {.kind = WG_Q_INT, .bits = bits, .group = group, .sym = sym != 0,
                        .scale_f32 = scale_f32 != 0};
        wg_qlayout l;
        if (!wg_qbits_row(bits) || !wg_qformat_layout(&f, rows, K, &l))
            return -1;
        wg_dequantize_rows(&f, &l, planes, 0, rows, true, out);
        return 0;
    }
    unsigned long n = (unsigned long)rows * (unsigned long)K;
    for (unsigned long i = 0; i < n; i++) {
        if (kind == 0) {
            memcpy(&out[i], planes + 4 * i, 4);
        } else {
            uint16_t h;
            memcpy(&h, planes + 2 * i, 2);
            out[i] = kind == 1 ? wg_f16_to_f32(h) : wg_bf16_to_f32(h);
        }
    }
    return 0;
}

__attribute__((export_name("wg_wasm_dequant"))) int wg_wasm_dequant(int kind, int bits, int group,
    int sym, int scale_f32, int rows, int K, const unsigned char *planes, float *out)
{
    return dequant(kind, bits, group, sym, scale_f32, rows, K, planes, out);
}

__attribute__((export_name("wg_wasm_gemv"))) int wg_wasm_gemv(int kind, int bits, int group,
    int sym, int scale_f32, int rows, int K, const unsigned char *planes, const float *x, float *y)
{
    float *w = malloc(sizeof(float) * (size_t)K * (size_t)rows);
    if (!w || dequant(kind, bits, group, sym, scale_f32, rows, K, planes, w))
        return -1;
    for (int r = 0; r < rows; r++) {
        double acc = 0;
        for (int k = 0; k < K; k++)
            acc += (double)w[(long)r * K + k] * x[k];
        y[r] = (float)acc;
    }
    return 0;
}

/* compiler-rt's 128-bit multiply, which clang calls for __builtin_mul_overflow on 64-bit sizes
 * (quant/formats.c); written with 64-bit products only */
typedef union {
    __int128 all;
    struct {
        uint64_t low, high; /* wasm is little-endian */
    } s;
} twords;

__int128 __multi3(__int128 a, __int128 b)
{
    twords x = {.all = a}, y = {.all = b}, r;
    uint64_t al = x.s.low, bl = y.s.low;
    uint64_t a0 = al & 0xffffffffu, a1 = al >> 32, b0 = bl & 0xffffffffu, b1 = bl >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    r.s.low = (p00 & 0xffffffffu) | (mid << 32);
    r.s.high = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32) + x.s.high * bl + al * y.s.high;
    return r.all;
}
