/* program/program_internal.h — what the op table's C references see (program/ops.c) and the
 * interpreter provides (program/interp.c). Not part of the module's contract. */
#ifndef WG_PROGRAM_INTERNAL_H
#define WG_PROGRAM_INTERNAL_H
#include "program.h"

/* one pass over n tokens: every value's storage, resolved */
typedef struct wg_pexec {
    const wg_prog *p;
    int n, threads;
    float **act;            /* per value: ACT/CACHE [n][width]; the rotary TABLEs [n][rot/2][2]
                               (cos, sin) */
    const int32_t **in;     /* per value: INPUT [n]; the TABLE rel_buckets */
    float **w;              /* per value: WEIGHT rows x K */
    wg_error *err;
    const float *pixels;    /* the INPUT pixel_values (image encoders) */
} wg_pexec;

/* field i of an op, evaluated for this pass (S = n, P = 0, M = n) */
double wg_pfield(const wg_pexec *x, const wg_pop *op, int i);
#endif
