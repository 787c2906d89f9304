/* verify/npy.c — NumPy .npy files (format version 1.0/2.0, C order): the interchange format
 * of `wgpack verify` with ONNX Runtime and with user-given inputs. */
#include "npy.h"
#include "../quant/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    wg_dtype dt;
    const char *descr;
    unsigned size;
} types[] = {
    {WG_DT_F32, "<f4", 4}, {WG_DT_F16, "<f2", 2}, {WG_DT_F64, "<f8", 8}, {WG_DT_I64, "<i8", 8},
    {WG_DT_I32, "<i4", 4}, {WG_DT_U8, "|u1", 1}, {WG_DT_I8, "|i1", 1}, {WG_DT_BOOL, "|b1", 1},
};

const char *wg_npy_descr(wg_dtype dt)
{
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (types[i].dt == dt)
            return types[i].descr;
    return NULL;
}

int wg_npy_write(const char *path, wg_dtype dt, int ndim, const int64_t *dims, const void *data,
                 wg_error *err)
{
    const char *descr = wg_npy_descr(dt);
    if (!descr)
        return wg_fail(err, WG_EINPUT, path, "cannot write %s as .npy", wg_dtype_name(dt));
    char shape[256] = "", h[400];
    uint64_t n = 1;
    size_t o = 0;
    for (int i = 0; i < ndim; i++) {
        o += (size_t)snprintf(shape + o, sizeof shape - o, "%lld%s", (long long)dims[i],
                              ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
        n *= (uint64_t)dims[i];
    }
    int hl = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                      descr, shape);
    while ((hl + 11) % 64)
        h[hl++] = ' ';
    h[hl++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 255),
                             (unsigned char)(hl >> 8)};
    uint64_t bytes;
    wg_dtype_bytes(dt, n, &bytes);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(pre, 1, 10, f) != 10 || fwrite(h, 1, (size_t)hl, f) != (size_t)hl ||
        fwrite(data, 1, (size_t)bytes, f) != (size_t)bytes) {
        if (f)
            fclose(f);
        return wg_fail(err, WG_EIO, path, "cannot write");
    }
    return fclose(f) ? wg_fail(err, WG_EIO, path, "cannot write") : 0;
}

int wg_npy_read(const char *path, wg_npy *out, wg_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return wg_fail(err, WG_EINPUT, path, "cannot open");
    unsigned char pre[12];
    char h[4096];
    int rc = WG_EINPUT;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
        wg_fail(err, rc, path, "not a .npy file");
        goto out;
    }
    size_t hl = pre[8] | (size_t)pre[9] << 8;
    if (pre[6] >= 2) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            wg_fail(err, rc, path, "truncated header");
            goto out;
        }
        hl |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    if (hl >= sizeof h || fread(h, 1, hl, f) != hl) {
        wg_fail(err, rc, path, "header too long or truncated");
        goto out;
    }
    h[hl] = 0;
    const char *d = strstr(h, "'descr':"), *s = strstr(h, "'shape':");
    if (!d || !s || strstr(h, "'fortran_order': True")) {
        wg_fail(err, rc, path, "unsupported header (needs descr, shape, C order)");
        goto out;
    }
    d = strchr(d + 8, '\'');
    for (size_t i = 0; d && i < sizeof types / sizeof *types; i++)
        if (!strncmp(d + 1, types[i].descr, 3) && d[4] == '\'')
            out->dtype = types[i].dt;
    if (!out->dtype) {
        wg_fail(err, rc, path, "unsupported dtype");
        goto out;
    }
    s = strchr(s, '(');
    out->numel = 1;
    for (s = s ? s + 1 : NULL; s && *s && *s != ')';) {
        char *e;
        long long v = strtoll(s, &e, 10);
        if (e == s)
            break;
        if (v < 0 || out->ndim >= WG_MAX_DIMS || __builtin_mul_overflow(out->numel, (uint64_t)v, &out->numel)) {
            wg_fail(err, rc, path, "bad shape");
            goto out;
        }
        out->dims[out->ndim++] = v;
        s = e;
        while (*s == ',' || *s == ' ')
            s++;
    }
    uint64_t bytes;
    if (!wg_dtype_bytes(out->dtype, out->numel, &bytes) || bytes > (1ull << 34)) {
        wg_fail(err, rc, path, "too large");
        goto out;
    }
    out->raw = malloc(bytes ? bytes : 1);
    out->f32 = malloc(sizeof(float) * (out->numel ? out->numel : 1));
    if (!out->raw || !out->f32) {
        rc = wg_fail(err, WG_EIO, path, "out of memory");
        goto out;
    }
    if (fread(out->raw, 1, bytes, f) != bytes) {
        wg_fail(err, rc, path, "data shorter than the shape says");
        goto out;
    }
    for (uint64_t i = 0; i < out->numel; i++) {
        const unsigned char *p = (const unsigned char *)out->raw;
        float v = 0;
        switch (out->dtype) {
        case WG_DT_F32: memcpy(&v, p + 4 * i, 4); break;
        case WG_DT_F16: { uint16_t x; memcpy(&x, p + 2 * i, 2); v = wg_f16_to_f32(x); break; }
        case WG_DT_F64: { double x; memcpy(&x, p + 8 * i, 8); v = (float)x; break; }
        case WG_DT_I64: { int64_t x; memcpy(&x, p + 8 * i, 8); v = (float)x; break; }
        case WG_DT_I32: { int32_t x; memcpy(&x, p + 4 * i, 4); v = (float)x; break; }
        case WG_DT_I8: v = (float)(int8_t)p[i]; break;
        default: v = (float)p[i]; break;
        }
        out->f32[i] = v;
    }
    rc = 0;
out:
    fclose(f);
    if (rc)
        wg_npy_free(out);
    return rc;
}

void wg_npy_free(wg_npy *n)
{
    free(n->raw);
    free(n->f32);
    n->raw = NULL;
    n->f32 = NULL;
}
