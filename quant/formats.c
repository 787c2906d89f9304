/* quant/formats.c — the format table: names, bit widths, exact byte layout. */
#include "quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row per supported bit width. 32 elements of b bits are exactly b u32 words, which is
 * why every group size is a multiple of 32: a group never shares a word with its neighbour. */
static const wg_qbits qbits_table[] = {
    {2, 3, 2}, {3, 7, 3}, {4, 15, 4}, {5, 31, 5}, {6, 63, 6}, {8, 255, 8},
};

const wg_qbits *wg_qbits_row(int bits)
{
    for (size_t i = 0; i < sizeof qbits_table / sizeof *qbits_table; i++)
        if (qbits_table[i].bits == bits)
            return &qbits_table[i];
    return NULL;
}

bool wg_qformat_parse(const char *s, wg_qformat *f)
{
    memset(f, 0, sizeof *f);
    char buf[32];
    size_t n = strlen(s);
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n + 1);
    char *dot = strchr(buf, '.');
    if (dot) {
        if (strcmp(dot, ".s32"))
            return false;
        f->scale_f32 = true;
        *dot = 0;
    }
    if (!strcmp(buf, "fp16") || !strcmp(buf, "f16")) {
        f->kind = WG_Q_F16;
        return !dot;
    }
    if (!strcmp(buf, "bf16")) {
        f->kind = WG_Q_BF16;
        return !dot;
    }
    if (!strcmp(buf, "f32") || !strcmp(buf, "fp32")) {
        f->kind = WG_Q_F32;
        return !dot;
    }
    if (buf[0] != 'q' || buf[1] < '2' || buf[1] > '8')
        return false;
    f->kind = WG_Q_INT;
    f->bits = buf[1] - '0';
    if (!wg_qbits_row(f->bits))
        return false;
    f->group = 32;
    f->sym = true;
    const char *p = buf + 2;
    if (!*p)
        return true; /* "q4" = q4g32s */
    if (*p == 'g') {
        char *end;
        long g = strtol(p + 1, &end, 10);
        if (end == p + 1 || (g != 32 && g != 64 && g != 128 && g != 256))
            return false;
        f->group = (int)g;
        p = end;
    } else if (*p == 'c') {
        f->group = 0;
        p++;
    } else
        return false;
    if (!strcmp(p, "s") || !*p)
        f->sym = true;
    else if (!strcmp(p, "a"))
        f->sym = false;
    else
        return false;
    return true;
}

const char *wg_qformat_name(const wg_qformat *f, char *buf, size_t n)
{
    switch (f->kind) {
    case WG_Q_RAW: snprintf(buf, n, "raw"); break;
    case WG_Q_F32: snprintf(buf, n, "f32"); break;
    case WG_Q_F16: snprintf(buf, n, "fp16"); break;
    case WG_Q_BF16: snprintf(buf, n, "bf16"); break;
    case WG_Q_INT:
        if (f->group)
            snprintf(buf, n, "q%dg%d%c%s", f->bits, f->group, f->sym ? 's' : 'a',
                     f->scale_f32 ? ".s32" : "");
        else
            snprintf(buf, n, "q%dc%c%s", f->bits, f->sym ? 's' : 'a', f->scale_f32 ? ".s32" : "");
        break;
    }
    return buf;
}

bool wg_qformat_layout(const wg_qformat *f, int64_t rows, int64_t K, wg_qlayout *o)
{
    memset(o, 0, sizeof *o);
    if (rows < 0 || K < 0)
        return false;
    o->rows = rows;
    o->K = K;
    uint64_t n;
    if (__builtin_mul_overflow((uint64_t)rows, (uint64_t)K, &n))
        return false;
    if (f->kind == WG_Q_RAW)
        return false; /* size is the tensor's own: see wg_plan_entry_size */
    if (f->kind != WG_Q_INT) {
        unsigned esz = f->kind == WG_Q_F32 ? 4 : 2;
        o->Kp = K;
        if (__builtin_mul_overflow(n, esz, &o->data_bytes))
            return false;
        o->total_bytes = o->data_bytes;
        return true;
    }
    int64_t G = f->group ? f->group : ((K + 31) / 32) * 32;
    if (G == 0)
        G = 32;
    o->group = G;
    o->Kp = ((K + G - 1) / G) * G;
    o->ngroups = o->Kp / G;
    uint64_t elems, groups;
    if (__builtin_mul_overflow((uint64_t)rows, (uint64_t)o->Kp, &elems) ||
        __builtin_mul_overflow((uint64_t)rows, (uint64_t)o->ngroups, &groups) ||
        __builtin_mul_overflow(elems / 8, (uint64_t)f->bits, &o->data_bytes))
        return false;
    o->scale_bytes = groups * (f->scale_f32 ? 4 : 2);
    o->zero_bytes = f->sym ? 0 : groups;
    o->total_bytes = o->data_bytes + o->scale_bytes + o->zero_bytes;
    return o->total_bytes >= o->data_bytes;
}

double wg_qformat_bpw(const wg_qformat *f, int64_t K)
{
    wg_qlayout l;
    if (K <= 0 || !wg_qformat_layout(f, 1, K, &l))
        return 0;
    return 8.0 * (double)l.total_bytes / (double)K;
}
