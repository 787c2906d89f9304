/* verify/bundle_ref.c — the C reference forward passes of a bundle: the manifest's forward
 * section names the tensors and facts, and every weight is the bundle's stored tensor
 * dequantized by the scalar reference dequantizer (wg_bundle_tensor_f32), i.e. the very numbers
 * a runtime multiplies by. Also the tolerance a runtime's f32 output is held to. */
#include "verify.h"
#include "../pack/pack.h"
#include "../program/program.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* a program weight: the bundle's stored tensor dequantized by the reference dequantizer */
typedef struct bundle_getter {
    const char *dir;
    const wg_manifest *m;
    wg_error *err;
} bundle_getter;

static float *bundle_get(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    bundle_getter *g = ctx;
    const wg_man_tensor *t = wg_manifest_tensor(g->m, name);
    if (!t)
        return NULL;
    *rows = t->rows;
    *K = t->K;
    return wg_bundle_tensor_f32(g->dir, g->m, t, g->err);
}

int wg_bundle_program_run(const char *dir, const wg_manifest *m, const wg_pinputs *in, float *out,
                          int threads, wg_error *err)
{
    if (!m->program)
        return wg_fail(err, WG_EINPUT, m->path, "no program section");
    bundle_getter g = {dir, m, err};
    return wg_prog_run(m->program, bundle_get, &g, in, out, threads, err);
}

double wg_f32_order_eps(int layers, int64_t kmax, double unit)
{
    return WG_ORDER_SAFETY * (4.0 * layers + 1) * sqrt((double)kmax) * unit;
}

int wg_decided_disagreements(const float *ref, const float *b, int n, int V, double tol)
{
    int k = 0;
    for (int t = 0; t < n; t++) {
        const float *z = ref + (size_t)t * V;
        k += wg_argmax(z, V) != wg_argmax(b + (size_t)t * V, V) && wg_top1_margin(z, V) > 2 * tol;
    }
    return k;
}

double wg_top1_margin(const float *z, int V)
{
    double a = -INFINITY, b = -INFINITY;
    for (int i = 0; i < V; i++)
        if (z[i] > a) {
            b = a;
            a = z[i];
        } else if (z[i] > b)
            b = z[i];
    return V > 1 ? a - b : INFINITY;
}

int wg_argmax(const float *z, int V)
{
    int ia = 0;
    for (int i = 1; i < V; i++)
        ia = z[i] > z[ia] ? i : ia;
    return ia;
}
