/* convert/kernel_ref.c — `wgpack kernel-ref DIR TENSOR [--part I] [--x FILE --n N] -o OUTDIR`:
 * the C reference outputs the WGSL kernels are checked against. Reads one tensor part from a
 * bundle's shard exactly as a loader binds it, and writes dequant.f32 ([rows][K], the scalar
 * reference dequantizer), and with an input matrix x [n][K] (f32): gemv.f32 (W x_0) and
 * gemm.f32 ([n][rows]), both accumulated in double. */
#include "cli.h"
#include "../quant/quant.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static int put(const char *dir, const char *name, const float *v, size_t n)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(v, sizeof(float), n, f) != n || fclose(f))
        return WG_EIO;
    return 0;
}

int cmd_kernel_ref(int argc, char **argv)
{
    static const struct option opts[] = {{"part", required_argument, 0, 'p'}, {"x", required_argument, 0, 'x'},
                                         {"n", required_argument, 0, 'n'}, {"output", required_argument, 0, 'o'},
                                         {0, 0, 0, 0}};
    int part = 0, nx = 1, c;
    const char *xf = NULL, *od = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:x:n:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'p': part = atoi(optarg); break;
        case 'x': xf = optarg; break;
        case 'n': nx = atoi(optarg); break;
        case 'o': od = optarg; break;
        default: return cli_usage("kernel-ref", "bad option");
        }
    }
    if (optind != argc - 2 || !od || nx < 1)
        return cli_usage("kernel-ref", "expected DIR TENSOR -o OUTDIR");
    const char *dir = argv[optind], *name = argv[optind + 1];
    char mp[4096];
    snprintf(mp, sizeof mp, "%s/manifest.json", dir);
    json_t *man = json_load_file(mp, 0, NULL), *t = NULL, *v;
    size_t i;
    json_array_foreach(json_object_get(man, "tensors"), i, v)
        if (!strcmp(json_string_value(json_object_get(v, "name")), name))
            t = v;
    json_t *pt = t ? json_array_get(json_object_get(t, "parts"), (size_t)part) : NULL;
    wg_qformat f;
    if (!pt || !wg_qformat_parse(json_string_value(json_object_get(t, "format")), &f)) {
        fprintf(stderr, "wgpack kernel-ref: no part %d of a quantized tensor '%s' in %s\n", part, name, mp);
        json_decref(man);
        return WG_EINPUT;
    }
    int64_t rows = json_integer_value(json_object_get(pt, "rows")),
            K = json_integer_value(json_object_get(t, "K"));
    const char *file = json_string_value(json_object_get(json_array_get(json_object_get(man, "shards"),
                                         (size_t)json_integer_value(json_object_get(pt, "shard"))), "file"));
    char sp[4096];
    snprintf(sp, sizeof sp, "%s/%s", dir, file);
    size_t sn;
    uint8_t *shard = slurp(sp, &sn);
    float *w = malloc(sizeof(float) * (size_t)(rows * K));
    int rc = WG_EIO;
    if (!shard || !w)
        goto out;
    wg_plan_entry e = {.fmt = f, .rows = rows, .K = K};
    wg_qlayout l = {0};
    if (f.kind == WG_Q_INT)
        wg_qformat_layout(&f, rows, K, &l);
    else
        l.data_bytes = (uint64_t)(rows * K) * (f.kind == WG_Q_F32 ? 4 : 2);
    uint8_t *planes = calloc(1, l.data_bytes + l.scale_bytes + l.zero_bytes + 1);
    static const char *pn[3] = {"data", "scales", "zeros"};
    uint64_t dst[3] = {0, l.data_bytes, l.data_bytes + l.scale_bytes}, want[3] = {l.data_bytes, l.scale_bytes, l.zero_bytes};
    for (int q = 0; q < 3; q++) {
        json_t *pl = json_object_get(pt, pn[q]);
        if (!want[q])
            continue;
        uint64_t off = (uint64_t)json_integer_value(json_object_get(pl, "offset")),
                 b = (uint64_t)json_integer_value(json_object_get(pl, "bytes"));
        if (!pl || b != want[q] || off + b > sn) {
            fprintf(stderr, "wgpack kernel-ref: %s plane of '%s' does not match its format\n", pn[q], name);
            free(planes);
            rc = WG_EINPUT;
            goto out;
        }
        memcpy(planes + dst[q], shard + off, b);
    }
    if (f.kind == WG_Q_INT)
        wg_dequantize_rows(&f, &l, planes, 0, rows, true, w);
    else
        wg_dequantize_tensor(&e, planes, w);
    free(planes);
    if ((rc = put(od, "dequant.f32", w, (size_t)(rows * K))))
        goto out;
    if (xf) {
        size_t xn;
        float *x = (float *)slurp(xf, &xn);
        if (!x || xn != sizeof(float) * (size_t)(nx * K)) {
            fprintf(stderr, "wgpack kernel-ref: %s must hold %d x %lld f32\n", xf, nx, (long long)K);
            free(x);
            rc = WG_EINPUT;
            goto out;
        }
        float *y = malloc(sizeof(float) * (size_t)(nx * rows));
        for (int mm = 0; mm < nx; mm++)
            for (int64_t r = 0; r < rows; r++) {
                double acc = 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)w[r * K + k] * x[mm * K + k];
                y[mm * rows + r] = (float)acc;
            }
        rc = put(od, "gemv.f32", y, (size_t)rows);
        if (!rc)
            rc = put(od, "gemm.f32", y, (size_t)(nx * rows));
        free(y);
        free(x);
    }
out:
    free(shard);
    free(w);
    json_decref(man);
    if (rc == WG_EIO)
        fprintf(stderr, "wgpack kernel-ref: cannot read %s or write %s\n", sp, od);
    return rc;
}
