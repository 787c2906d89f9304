/* pack/kernels.c — the WGSL kernels a bundle needs: for every format its tensors use, every
 * kernel kind and every profile, an f32 variant and (where the profile has shader-f16) an f16
 * one. Files are content-hashed like shards; profiles whose kernels come out identical share
 * the file. */
#define _GNU_SOURCE
#include "pack_internal.h"
#include "../program/program.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "../formats/wgsl_ops.h"

extern const unsigned char wg_wasm_blob[];
extern const size_t wg_wasm_blob_len;

/* wasm/wgpack-<xxh3>.wasm: the C reference dequantizer for browsers without WebGPU */
int wg_bundle_wasm(const char *dir, json_t **entry, wg_error *err)
{
    char wdir[4096], file[96], path[4300];
    snprintf(wdir, sizeof wdir, "%s/wasm", dir);
    if (mkdir(wdir, 0755) && errno != EEXIST)
        return wg_fail(err, WG_EIO, wdir, "cannot create: %s", strerror(errno));
    uint64_t h = XXH3_64bits(wg_wasm_blob, wg_wasm_blob_len);
    snprintf(file, sizeof file, "wasm/wgpack-%016llx.wasm", (unsigned long long)h);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *fp = fopen(path, "wx");
    if (!fp || fwrite(wg_wasm_blob, 1, wg_wasm_blob_len, fp) != wg_wasm_blob_len || fclose(fp))
        return wg_fail(err, WG_EIO, path, "cannot write");
    char sri[64], hx[20];
    wg_sri_sha256(wg_wasm_blob, wg_wasm_blob_len, sri);
    snprintf(hx, sizeof hx, "%016llx", (unsigned long long)h);
    *entry = json_pack("{s:s, s:I, s:s, s:s, s:[s,s,s,s]}", "file", file, "bytes",
                       (json_int_t)wg_wasm_blob_len, "xxh3", hx, "integrity", sri, "exports",
                       "wg_wasm_alloc", "wg_wasm_reset", "wg_wasm_dequant", "wg_wasm_gemv");
    return 0;
}

void wg_kformat_of(const wg_plan_entry *e, wg_kformat *k)
{
    memset(k, 0, sizeof *k);
    switch (e->fmt.kind) {
    case WG_Q_F32: k->kind = 0; break;
    case WG_Q_F16: k->kind = 1; break;
    case WG_Q_BF16: k->kind = 2; break;
    default: {
        k->kind = 3;
        k->bits = e->fmt.bits;
        k->group = e->fmt.group; /* 0: per-channel (the kernel reads G from its parameters) */
        k->sym = e->fmt.sym;
        k->scale_f32 = e->fmt.scale_f32;
    }
    }
}

static json_t *bindings(wg_kernel_kind kind, const wg_kformat *f)
{
    json_t *b = json_array();
    json_array_append_new(b, json_pack("{s:i, s:s, s:s}", "binding", 0, "resource", "data", "type", "read-only-storage"));
    if (f->kind == 3)
        json_array_append_new(b, json_pack("{s:i, s:s, s:s}", "binding", 1, "resource", "scales", "type", "read-only-storage"));
    if (f->kind == 3 && !f->sym)
        json_array_append_new(b, json_pack("{s:i, s:s, s:s}", "binding", 2, "resource", "zeros", "type", "read-only-storage"));
    if (kind != WG_K_DEQUANT)
        json_array_append_new(b, json_pack("{s:i, s:s, s:s}", "binding", 3, "resource",
                                           kind == WG_K_GATHER ? "indices" : "input", "type", "read-only-storage"));
    json_array_append_new(b, json_pack("{s:i, s:s, s:s}", "binding", 4, "resource", "output", "type", "storage"));
    json_array_append_new(b, json_pack("{s:i, s:s, s:s}", "binding", 5, "resource", "params", "type", "uniform"));
    return b;
}

static bool variant_applies(wg_kernel_kind kind, const wg_profile *p, const wg_kvariant *v)
{
    /* f16 arithmetic only where it changes the kernel (GEMV's per-chunk dot products) */
    if (v->f16 && (!p->shader_f16 || kind != WG_K_GEMV))
        return false;
    return !v->subgroups || (p->subgroups && wg_kernel_has_subgroups(kind));
}

static const char *variant_name(const wg_kvariant *v)
{
    static const char *n[4] = {"f32", "f16", "f32-sg", "f16-sg"};
    return n[(v->f16 ? 1 : 0) | (v->subgroups ? 2 : 0)];
}

static json_t *dispatch_rule(wg_kernel_kind kind, const wg_kshape *s)
{
    switch (kind) {
    case WG_K_GEMM:
        return json_pack("{s:s, s:[i,i]}", "rule", "ceil(rows/tile[0]) x ceil(n/tile[1]) x 1", "tile",
                         s->gemm_bm, s->gemm_bn);
    case WG_K_GEMV:
        return json_pack("{s:s, s:i}", "rule", "W = ceil(rows/rows_per_workgroup): min(W,65535) x "
                         "ceil(W/65535) x 1", "rows_per_workgroup", s->gemv_rows);
    case WG_K_GATHER:
        return json_pack("{s:s}", "rule", "min(n,65535) x ceil(n/65535) x 1");
    default:
        return json_pack("{s:s}", "rule", "min(rows,65535) x ceil(rows/65535) x 1");
    }
}

/* Emit one kernel, write it as kernels/<kind>-<format>-<variant>-<xxh3>.wgsl unless an identical
 * file is already listed, and give its index in `files`. */
static int kernel_file(const char *dir, wg_kernel_kind kind, const char *fname, const wg_kformat *kf,
                       const wg_kshape *shape, const wg_kvariant *v, char *txt, size_t cap,
                       json_t *files, json_int_t *id, wg_error *err)
{
    wg_kshape es = wg_kshape_of(shape, kind, kf);
    shape = &es;
    int len = wg_wgsl_emit(kind, kf, shape, v, txt, cap);
    if (len < 0)
        return wg_fail(err, WG_EIO, NULL, "internal: cannot generate the %s kernel for %s",
                       wg_kernel_kind_name(kind), fname);
    uint64_t hsh = XXH3_64bits(txt, (size_t)len);
    char file[160];
    snprintf(file, sizeof file, "kernels/%s-%s-%s-%016llx.wgsl", wg_kernel_kind_name(kind), fname,
             variant_name(v), (unsigned long long)hsh);
    size_t fi;
    json_t *e;
    json_array_foreach(files, fi, e) if (!strcmp(json_string_value(json_object_get(e, "file")), file)) {
        *id = (json_int_t)fi;
        return 0;
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *fp = fopen(path, "wx");
    if (!fp || fwrite(txt, 1, (size_t)len, fp) != (size_t)len || fclose(fp))
        return wg_fail(err, WG_EIO, path, "cannot write kernel");
    char sri[64], hx[20];
    wg_sri_sha256(txt, (size_t)len, sri);
    snprintf(hx, sizeof hx, "%016llx", (unsigned long long)hsh);
    int threads = kind == WG_K_GEMM ? (shape->gemm_bm / shape->gemm_tm) * (shape->gemm_bn / shape->gemm_tn)
                                    : shape->gemv_threads;
    json_array_append_new(files, json_pack("{s:s, s:s, s:s, s:s, s:[i,i,i], s:o, s:o, s:s, s:s, s:b, s:b}",
        "file", file, "kind", wg_kernel_kind_name(kind), "format", fname, "arith", v->f16 ? "f16" : "f32",
        "workgroup_size", threads, 1, 1, "dispatch", dispatch_rule(kind, shape),
        "bindings", bindings(kind, kf), "xxh3", hx, "integrity", sri,
        "requires_shader_f16", v->f16, "requires_subgroups", v->subgroups));
    *id = (json_int_t)json_array_size(files) - 1;
    return 0;
}

/* The model's other ops (formats/wgsl_ops.h): one f32 file each, the same for every profile (the
 * ops use no profile-specific shape and stay within the spec's default limits); listed in `files`
 * with kind "op" and indexed by kernels.ops_by_profile[profile][op].f32. */
static int op_files(const char *dir, char *txt, size_t cap, json_t *files, json_t **byp,
                    wg_error *err)
{
    int nops, np;
    const wg_op *ops = wg_ops(&nops);
    const wg_profile *pf = wg_profiles(&np);
    json_t *ids = json_object();
    for (int i = 0; i < nops; i++) {
        int len = wg_wgsl_op_emit(i, txt, cap);
        if (len < 0) {
            json_decref(ids);
            return wg_fail(err, WG_EIO, NULL, "internal: cannot generate the %s kernel", ops[i].name);
        }
        uint64_t hsh = XXH3_64bits(txt, (size_t)len);
        char file[160], path[4300], sri[64], hx[20];
        snprintf(file, sizeof file, "kernels/op-%s-f32-%016llx.wgsl", ops[i].name, (unsigned long long)hsh);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        FILE *fp = fopen(path, "wx");
        if (!fp || fwrite(txt, 1, (size_t)len, fp) != (size_t)len || fclose(fp)) {
            json_decref(ids);
            return wg_fail(err, WG_EIO, path, "cannot write kernel");
        }
        wg_sri_sha256(txt, (size_t)len, sri);
        snprintf(hx, sizeof hx, "%016llx", (unsigned long long)hsh);
        json_t *bl = json_array();
        for (int b = 0; b < ops[i].nbindings; b++)
            json_array_append_new(bl, json_pack("{s:i, s:s, s:s}", "binding", ops[i].bindings[b].binding,
                                                "resource", ops[i].bindings[b].resource, "type",
                                                ops[i].bindings[b].type));
        json_t *fields = json_array();
        int nd, di = wg_pop_find(ops[i].name);
        const wg_pop_def *d = di >= 0 ? &wg_pop_defs(&nd)[di] : NULL;
        for (int f = 0; d && f < d->nfields; f++) {
            const char *c = strchr(d->fields[f], ':');
            json_array_append_new(fields, json_pack("{s:s%, s:s}", "name", d->fields[f],
                                                    c ? (size_t)(c - d->fields[f]) : strlen(d->fields[f]),
                                                    "type", c ? c + 1 : "u32"));
        }
        json_t *grid = json_pack("{s:s, s:i}", "x", ops[i].grid_x, "div", ops[i].grid_div);
        if (ops[i].grid_y)
            json_object_set_new(grid, "y", json_string(ops[i].grid_y));
        json_array_append_new(files, json_pack("{s:s, s:s, s:s, s:s, s:[i,i,i], s:{s:s, s:o}, s:o, s:o, s:s, s:s, s:b, s:b}",
            "file", file, "kind", "op", "op", ops[i].name, "arith", "f32", "workgroup_size",
            ops[i].workgroup_size, 1, 1, "dispatch", "rule", ops[i].dispatch, "grid", grid,
            "bindings", bl, "fields", fields, "xxh3", hx, "integrity", sri,
            "requires_shader_f16", 0, "requires_subgroups", 0));
        json_object_set_new(ids, ops[i].name, json_pack("{s:I}", "f32", (json_int_t)json_array_size(files) - 1));
    }
    *byp = json_object();
    for (int pi = 0; pi < np; pi++)
        json_object_set(*byp, pf[pi].name, ids);
    json_decref(ids);
    return 0;
}

int wg_bundle_kernels(const wg_model *m, const wg_plan_entry *plan, const char *dir,
                      json_t **section, wg_error *err)
{
    *section = NULL;
    char kdir[4096];
    snprintf(kdir, sizeof kdir, "%s/kernels", dir);
    if (mkdir(kdir, 0755) && errno != EEXIST)
        return wg_fail(err, WG_EIO, kdir, "cannot create: %s", strerror(errno));
    /* distinct formats, in first-use order */
    char (*names)[32] = calloc(m->n_tensors + 1, sizeof *names);
    wg_kformat *kf = calloc(m->n_tensors + 1, sizeof *kf);
    size_t nf = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        if (plan[i].fmt.kind == WG_Q_RAW)
            continue;
        char fn[32];
        wg_qformat_name(&plan[i].fmt, fn, sizeof fn);
        size_t k = 0;
        while (k < nf && strcmp(names[k], fn))
            k++;
        if (k == nf) {
            snprintf(names[nf], sizeof names[nf], "%s", fn);
            wg_kformat_of(&plan[i], &kf[nf]);
            nf++;
        }
    }
    json_t *files = json_array(), *byp = json_object();
    size_t cap = 1 << 20;
    char *txt = malloc(cap);
    int np, rc = txt ? 0 : wg_fail(err, WG_EIO, NULL, "out of memory");
    const wg_profile *pf = wg_profiles(&np);
    for (int pi = 0; pi < np && !rc; pi++) {
        json_t *jp = json_object();
        json_object_set_new(byp, pf[pi].name, jp);
        for (size_t k = 0; k < nf && !rc; k++) {
            json_t *jf = json_object();
            json_object_set_new(jp, names[k], jf);
            for (int kind = 0; kind < WG_K_COUNT && !rc; kind++) {
                json_t *jk = json_object();
                json_object_set_new(jf, wg_kernel_kind_name((wg_kernel_kind)kind), jk);
                for (int vi = 0; vi < 4 && !rc; vi++) {
                    wg_kvariant v = {vi & 1, vi >> 1};
                    if (!variant_applies((wg_kernel_kind)kind, &pf[pi], &v))
                        continue;
                    json_int_t id = 0;
                    rc = kernel_file(dir, (wg_kernel_kind)kind, names[k], &kf[k], &pf[pi].shape, &v,
                                     txt, cap, files, &id, err);
                    if (!rc)
                        json_object_set_new(jk, variant_name(&v), json_integer(id));
                }
            }
        }
    }
    json_t *opsp = NULL;
    if (!rc)
        rc = op_files(dir, txt, cap, files, &opsp, err);
    free(txt);
    free(names);
    free(kf);
    if (rc) {
        json_decref(files);
        json_decref(byp);
        return rc;
    }
    *section = json_pack("{s:s, s:s, s:o, s:o, s:o}", "params",
                         "struct Params { rows, K, Kp, n, G, pad, pad, pad: u32 } (32 bytes, uniform): "
                         "rows = part rows, K, Kp = padded_K, n = GEMM batch or gather count, "
                         "G = group_size (padded_K if per-channel)",
                         "variants", "f32: f32 arithmetic; f16: needs shader-f16; -sg: subgroup "
                         "reduction, needs the subgroups feature; pick the first the adapter has "
                         "of f16-sg, f16, f32-sg, f32",
                         "files", files, "by_profile", byp, "ops_by_profile", opsp);
    return 0;
}
