/* program/interp.c — the C interpreter of a forward program: one pass over the whole sequence
 * (positions 0..n-1), every op by its table row's reference (program/ops.c). */
#include "program_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double wg_pfield(const wg_pexec *x, const wg_pop *op, int i)
{
    const wg_pexpr *e = &op->f[i];
    switch (e->sym) {
    case 'S':
    case 'M':
        return e->c * x->n;
    case 'P':
        return 0;
    }
    return e->c;
}

double wg_prog_rope_freq(const wg_prog *p, int i)
{
    double f = pow(p->rope_theta, -2.0 * i / (double)p->rope_rot);
    if (!strcmp(p->rope_type, "linear"))
        return f / p->rope_factor;
    if (!strcmp(p->rope_type, "llama3")) { /* HF _compute_llama3_parameters */
        double wavelen = 2 * M_PI / f, lo = p->rope_orig / p->rope_low,
               hi = p->rope_orig / p->rope_high;
        if (wavelen > lo)
            return f / p->rope_factor;
        if (wavelen >= hi) {
            double s = (p->rope_orig / wavelen - p->rope_low) / (p->rope_high - p->rope_low);
            return (1 - s) * f / p->rope_factor + s * f;
        }
    }
    return f;
}

int64_t wg_prog_out_width(const wg_prog *p)
{
    int v = wg_prog_value(p, p->output);
    return v < 0 ? 0 : p->vals[v].width;
}

int64_t wg_prog_head_width(const wg_prog *p)
{
    int v = p->head.task[0] ? wg_prog_value(p, p->head.value) : -1;
    return v < 0 ? 0 : p->vals[v].width;
}

int wg_prog_head_rows(const wg_prog *p, int n)
{
    return p->head.first_row ? 1 : n;
}

int wg_prog_layers(const wg_prog *p)
{
    int n = 0;
    for (int s = 0; s < p->nstages; s++)
        n += !strncmp(p->stages[s].name, "layer ", 6);
    return n;
}

int64_t wg_prog_kmax(const wg_prog *p)
{
    int64_t k = 1;
    for (int i = 0; i < p->nvals; i++)
        if (p->vals[i].kind == WG_PV_WEIGHT && p->vals[i].width / p->vals[i].rows > k)
            k = p->vals[i].width / p->vals[i].rows;
    return k;
}

/* position ids of the pass, as the program's rule says */
static void positions(const wg_prog *p, const int32_t *ids, int n, int32_t *pos)
{
    int32_t seen = 0;
    for (int t = 0; t < n; t++) {
        if (strcmp(p->positions, "padding"))
            pos[t] = (int32_t)(t + p->pos_offset);
        else if (ids[t] == p->pad_id)
            pos[t] = (int32_t)p->pad_id;
        else
            pos[t] = (int32_t)p->pad_id + ++seen;
    }
}

/* the table "rope" (scaled as the program says) or "rope_local" (its own theta, unscaled) */
static float *rope_table(const wg_prog *p, int n, bool local)
{
    int half = (int)(p->rope_rot / 2);
    float *tab = malloc(sizeof *tab * (size_t)n * (size_t)(2 * half > 0 ? 2 * half : 1));
    for (int t = 0; tab && t < n; t++)
        for (int i = 0; i < half; i++) {
            double a = t * (local ? pow(p->rope_local_theta, -2.0 * i / (double)p->rope_rot)
                                  : wg_prog_rope_freq(p, i));
            tab[((size_t)t * half + i) * 2] = (float)cos(a);
            tab[((size_t)t * half + i) * 2 + 1] = (float)sin(a);
        }
    return tab;
}

static int load_weights(const wg_prog *p, wg_pexec *x, wg_pweight_fn get, void *gctx,
                        wg_error *err)
{
    for (int i = 0; i < p->nvals; i++) {
        const wg_pval *v = &p->vals[i];
        if (v->kind != WG_PV_WEIGHT)
            continue;
        int64_t r, k;
        if (!(x->w[i] = get(gctx, v->name, &r, &k)))
            return err->code ? err->code
                             : wg_fail(err, WG_EINPUT, NULL, "program: weight '%s' missing", v->name);
        if (r * k != v->width)
            return wg_fail(err, WG_EINPUT, NULL, "program: weight '%s' is %lldx%lld, the program "
                           "says %lld values", v->name, (long long)r, (long long)k,
                           (long long)v->width);
    }
    return 0;
}

int wg_prog_run(const wg_prog *p, wg_pweight_fn get, void *gctx, const wg_pinputs *in,
                float *out, int threads, wg_error *err)
{
    int n = in->n, rc = 0;
    if (n <= 0)
        return wg_fail(err, WG_EINPUT, NULL, "program: no tokens");
    if (p->img_tokens && (n != p->img_tokens || !in->pixel_values))
        return wg_fail(err, WG_EINPUT, NULL, "program: an image encoder runs on pixel_values, %lld rows",
                       (long long)p->img_tokens);
    if (!p->img_tokens && !in->input_ids)
        return wg_fail(err, WG_EINPUT, NULL, "program: no input_ids");
    wg_pexec x = {p, n, threads, calloc((size_t)p->nvals, sizeof(float *)),
                  calloc((size_t)p->nvals, sizeof(int32_t *)), calloc((size_t)p->nvals, sizeof(float *)),
                  err, in->pixel_values};
    int32_t *pos = malloc(sizeof *pos * (size_t)n), *zeros = calloc((size_t)n, sizeof *zeros),
            *ones = malloc(sizeof *ones * (size_t)n);
    if (!x.act || !x.in || !x.w || !pos || !zeros || !ones) {
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
        goto out;
    }
    for (int t = 0; t < n; t++)
        ones[t] = 1;
    if (in->input_ids)
        positions(p, in->input_ids, n, pos);
    else
        for (int t = 0; t < n; t++)
            pos[t] = t;
    for (int i = 0; i < p->nvals && !rc; i++) {
        const wg_pval *v = &p->vals[i];
        if (v->kind == WG_PV_ACT || v->kind == WG_PV_CACHE) {
            if (!(x.act[i] = calloc((size_t)n * (size_t)v->width, 4)))
                rc = wg_fail(err, WG_EIO, NULL, "out of memory");
        } else if (v->kind == WG_PV_INPUT) {
            x.in[i] = !strcmp(v->name, "pixel_values")     ? NULL
                      : !strcmp(v->name, "input_ids")      ? in->input_ids
                      : !strcmp(v->name, "position_ids")   ? pos
                      : !strcmp(v->name, "token_type_ids") ? (in->token_type_ids ? in->token_type_ids : zeros)
                                                           : (in->attention_mask ? in->attention_mask : ones);
        } else if (v->kind == WG_PV_TABLE && !strcmp(v->name, "rel_buckets")) {
            x.in[i] = p->rel_bucket;
        } else if (v->kind == WG_PV_TABLE && (p->has_rope || p->has_rope_local) && v->width > 0) {
            if (!(x.act[i] = rope_table(p, n, !strcmp(v->name, "rope_local"))))
                rc = wg_fail(err, WG_EIO, NULL, "out of memory");
        }
    }
    if (!rc)
        rc = load_weights(p, &x, get, gctx, err);
    int nd;
    const wg_pop_def *defs = wg_pop_defs(&nd);
    for (int i = 0; i < p->nops && !rc; i++)
        rc = defs[p->ops[i].def].run(&x, &p->ops[i]);
    int o = wg_prog_value(p, in->head ? p->head.value : p->output);
    if (!rc && o < 0)
        rc = wg_fail(err, WG_EINPUT, NULL, "program: the model has no task head");
    if (!rc)
        memcpy(out, x.act[o], (size_t)(in->head ? wg_prog_head_rows(p, n) : n) *
                                  (size_t)p->vals[o].width * 4);
out:
    for (int i = 0; i < p->nvals; i++) {
        if (x.act)
            free(x.act[i]);
        /* a weight named twice (a tied head) is one value: freed once */
        if (x.w)
            free(x.w[i]);
    }
    free(x.act);
    free(x.in);
    free(x.w);
    free(pos);
    free(zeros);
    free(ones);
    return rc;
}
