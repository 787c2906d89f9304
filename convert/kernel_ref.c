/* convert/kernel_ref.c — `wgpack kernel-ref DIR TENSOR [--part I] [--x FILE --n N] -o OUTDIR`:
 * the C reference outputs the WGSL kernels are checked against. Reads one tensor part from a
 * bundle's shard exactly as a loader binds it, and writes dequant.f32 ([rows][K], the scalar
 * reference dequantizer), and with an input matrix x [n][K] (f32): gemv.f32 (W x_0) and
 * gemm.f32 ([n][rows]), both accumulated in double.
 * The manifest is untrusted input: it is read by wg_manifest_read() and the part by
 * wg_bundle_part_f32() (pack/pack.h), so every offset, size and shape has been checked against
 * the format and the shard. */
#include "cli.h"
#include "../pack/pack.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a regular file (not through a symlink) of exactly `want` bytes, or any size when want < 0 */
static uint8_t *read_all(const char *path, int64_t want, size_t *n, wg_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || (want >= 0 && st.st_size != want)) {
        wg_fail(err, WG_EINPUT, path, "%s", fd < 0 ? strerror(errno) : want >= 0 ?
                "not a regular file of the size the manifest gives" : "not a regular file");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    *n = (size_t)st.st_size;
    uint8_t *b = malloc(*n ? *n : 1);
    size_t got = 0;
    ssize_t r = 1;
    while (b && got < *n && (r = read(fd, b + got, *n - got)) > 0)
        got += (size_t)r;
    close(fd);
    if (!b || got != *n) {
        free(b);
        wg_fail(err, b ? WG_EINPUT : WG_EIO, path, b ? "short read" : "out of memory");
        return NULL;
    }
    return b;
}

static int put(const char *dir, const char *name, const float *v, size_t n, wg_error *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    wg_atomic_file f;
    int rc = wg_atomic_open(&f, p, err);
    if (!rc)
        rc = wg_atomic_write(&f, v, n * sizeof(float), err);
    return rc ? rc : wg_atomic_commit(&f, err);
}

/* y[n][rows] = x[n][K] . W^T, accumulated in double; gemv.f32 is row 0 */
static int products(const char *od, const char *xf, int nx, const float *w, int64_t rows,
                    int64_t K, wg_error *err)
{
    size_t xn, need, cnt;
    if (__builtin_mul_overflow((size_t)nx, (size_t)K * sizeof(float), &need) ||
        __builtin_mul_overflow((size_t)nx, (size_t)rows, &cnt))
        return wg_fail(err, WG_EINPUT, xf, "--n %d x K %lld is too large", nx, (long long)K);
    float *x = (float *)read_all(xf, (int64_t)need, &xn, err);
    if (!x)
        return err->code == WG_EIO ? WG_EIO
                                   : wg_fail(err, WG_EINPUT, xf, "must hold %d x %lld f32", nx,
                                             (long long)K);
    float *y = malloc(sizeof(float) * (cnt ? cnt : 1));
    if (!y) {
        free(x);
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    }
    for (int mm = 0; mm < nx; mm++)
        for (int64_t r = 0; r < rows; r++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += (double)w[r * K + k] * x[(size_t)mm * (size_t)K + (size_t)k];
            y[(size_t)mm * (size_t)rows + (size_t)r] = (float)acc;
        }
    int rc = put(od, "gemv.f32", y, (size_t)rows, err);
    if (!rc)
        rc = put(od, "gemm.f32", y, cnt, err);
    free(y);
    free(x);
    return rc;
}

static const char *kernel_ref_help =
    "usage: wgpack kernel-ref DIR TENSOR [--part I] [--x FILE --n N] -o OUTDIR\n"
    "  the C reference outputs the WGSL kernels are checked against, from one tensor part of\n"
    "  the bundle DIR (its shard's SHA-256 checked first): OUTDIR/dequant.f32 [rows][K], and\n"
    "  with --x (f32 [n][K]) gemv.f32 (W x_0) and gemm.f32 [n][rows]\n"
    "  --part I          the tensor's part (default 0)\n"
    "  --x FILE --n N    the input matrix and its row count (default 1)\n"
    "  -o OUTDIR         an existing directory\n";

int cmd_kernel_ref(int argc, char **argv)
{
    static const struct option opts[] = {{"part", required_argument, 0, 'p'}, {"x", required_argument, 0, 'x'},
                                         {"n", required_argument, 0, 'n'}, {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int part = 0, nx = 1, c, rc;
    const char *xf = NULL, *od = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:x:n:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': if ((rc = cli_int("kernel-ref", "--part", optarg, 0, 1 << 30, &part))) return rc; break;
        case 'x': xf = optarg; break;
        case 'n': if ((rc = cli_int("kernel-ref", "--n", optarg, 1, 1 << 20, &nx))) return rc; break;
        case 'h': fputs(kernel_ref_help, stdout); return 0;
        case 'o': od = optarg; break;
        default: return cli_usage("kernel-ref", "bad option");
        }
    }
    if (optind != argc - 2 || !od || nx < 1 || part < 0)
        return cli_usage("kernel-ref", "expected DIR TENSOR -o OUTDIR (--part >= 0, --n >= 1)");
    const char *dir = argv[optind], *name = argv[optind + 1];
    wg_error err = {0};
    wg_manifest man;
    if (wg_manifest_read(dir, &man, &err)) {
        err.code = err.code == WG_EIO ? WG_EIO : WG_EINPUT; /* a bad manifest is bad input here */
        return cli_report(&err);
    }
    const wg_man_tensor *t = wg_manifest_tensor(&man, name);
    rc = WG_EINPUT;
    float *w = NULL;
    if (!t || t->raw || (size_t)part >= t->nparts) {
        wg_fail(&err, WG_EINPUT, man.path, "no part %d of a quantized tensor '%s'", part, name);
        goto out;
    }
    const wg_man_part *p = &man.parts[t->part0 + (size_t)part];
    if (!(w = wg_bundle_part_f32(dir, &man, t, p, &err)))
        goto out;
    if ((rc = put(od, "dequant.f32", w, (size_t)p->rows * (size_t)t->K, &err)))
        goto out;
    if (xf)
        rc = products(od, xf, nx, w, p->rows, t->K, &err);
out:
    free(w);
    wg_manifest_free(&man);
    return rc ? cli_report(&err) : 0;
}
