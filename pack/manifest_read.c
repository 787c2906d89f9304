/* pack/manifest_read.c — read a bundle's manifest.json as untrusted input (contract in pack.h):
 * one reader for verify-bundle, kernel-ref, run and the build's "is this directory ours" check,
 * the program section (what `wgpack run` and a runtime follow) included. Structure only: no
 * shard is read here. */
#define _GNU_SOURCE
#include "pack_internal.h"
#include "../program/program.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MANIFEST (256u << 20) /* far beyond a manifest of a million tensors */
#define MAX_BYTES ((int64_t)1 << 50) /* any offset or size: 1 PiB, exact in a JS number */

typedef struct rd {
    wg_manifest *m;
    wg_error *err;
} rd;

static int bad(rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(rd *r, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return wg_fail(r->err, WG_EVERIFY, r->m->path, "%s", msg);
}

/* an integer in [lo, hi] */
static bool get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return false;
    *out = json_integer_value(v);
    return true;
}

static const char *get_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key)); /* NULL unless a string */
}

/* ---- the shared rules: tools/web/wgpack-manifest-rules.js, embedded at build time ----
 * The JS loader imports the same file; here the object after "export default" is parsed as
 * JSON (jansson stops at its end). Kernel tables, dispatch facts, bindings and the closed
 * objects' keys come from it, so the two readers refuse the same manifests. */
extern const unsigned char wg_manifest_rules_js[];
extern const size_t wg_manifest_rules_js_len;
static json_t *rules_json;
static pthread_once_t rules_once = PTHREAD_ONCE_INIT;

static void rules_load(void)
{
    const char *s = (const char *)wg_manifest_rules_js, *mark = "\nexport default ";
    const char *at = memmem(s, wg_manifest_rules_js_len, mark, strlen(mark));
    if (at) {
        at += strlen(mark);
        rules_json = json_loadb(at, wg_manifest_rules_js_len - (size_t)(at - s),
                                JSON_DISABLE_EOF_CHECK, NULL);
    }
}

static json_t *rule(const char *key)
{
    pthread_once(&rules_once, rules_load);
    return json_object_get(rules_json, key);
}

static int64_t rule_int(const char *key)
{
    return json_integer_value(rule(key));
}

/* the first key of o that the closed object `kind` may not have, or NULL */
static const char *unknown_key(json_t *o, const char *kind)
{
    json_t *allowed = json_object_get(rule("closed"), kind), *v, *a;
    const char *k;
    json_object_foreach(o, k, v) {
        bool ok = false;
        size_t i;
        json_array_foreach(allowed, i, a) ok = ok || !strcmp(json_string_value(a), k);
        if (!ok)
            return k;
    }
    return NULL;
}

/* manifest.json itself: a regular file, not reached through a symlink, of sane size */
static json_t *load(rd *r, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > MAX_MANIFEST) {
        int e = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        wg_fail(r->err, WG_EINPUT, path, "cannot read manifest: %s",
                e ? strerror(e) : "not a regular file of at most 256 MiB");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
    close(fd);
    if (!j)
        wg_fail(r->err, WG_EINPUT, path, "cannot read manifest: %s (line %d)", je.text, je.line);
    else if (!json_is_object(j)) {
        json_decref(j);
        j = NULL;
        wg_fail(r->err, WG_EINPUT, path, "not a wgpack manifest (not a JSON object)");
    }
    return j;
}

/* {file, bytes, xxh3, integrity}: file a plain name (under `dir/` when dir is given) */
static int file_entry(rd *r, json_t *o, const char *dir, const char *what, wg_man_file *f)
{
    f->file = get_str(o, "file");
    f->xxh3 = get_str(o, "xxh3");
    f->integrity = get_str(o, "integrity");
    size_t dl = dir ? strlen(dir) : 0;
    if (!f->file || (dir && strncmp(f->file, dir, dl)) || !wg_plain_name(f->file, dir != NULL) ||
        (dir && strchr(f->file + dl, '/')) || (!dir && strchr(f->file, '/')))
        return bad(r, "%s %s is not a plain file name inside the bundle%s%s", what,
                   f->file ? f->file : "(none)", dir ? " under " : "", dir ? dir : "");
    int64_t b = 0;
    if (json_object_get(o, "bytes") && !get_int(o, "bytes", 0, MAX_BYTES, &b))
        return bad(r, "%s %s: bytes is not a size", what, f->file);
    f->bytes = (uint64_t)b;
    if (!f->xxh3 || strlen(f->xxh3) != 16 || strspn(f->xxh3, "0123456789abcdef") != 16 ||
        !f->integrity || strncmp(f->integrity, "sha256-", 7))
        return bad(r, "%s %s: xxh3/integrity missing or malformed", what, f->file);
    return 0;
}

static int read_shards(rd *r, json_t *arr, wg_name_index *files)
{
    wg_manifest *m = r->m;
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s) {
        wg_man_shard *sh = &m->shards[m->nshards++];
        int64_t layer, b;
        int rc = file_entry(r, s, NULL, "shard", &sh->f);
        if (rc)
            return rc;
        const char *uk = unknown_key(s, "shards[]");
        if (uk || (json_object_get(s, "zst") && (uk = unknown_key(json_object_get(s, "zst"), "shards[].zst"))))
            return bad(r, "shards[%zu] (%s): unknown key \"%s\"", i, sh->f.file, uk);
        if (!get_int(s, "bytes", 0, MAX_BYTES, &b) || !get_int(s, "layer", -1, INT32_MAX, &layer) ||
            !(sh->component = get_str(s, "component")))
            return bad(r, "shard %s: bytes, layer or component missing or out of range", sh->f.file);
        sh->layer = (int)layer;
        if (wg_name_index_put(files, sh->f.file, i) == 0)
            return bad(r, "shard %s is listed twice", sh->f.file);
        json_t *z = json_object_get(s, "zst");
        if (!z || json_is_null(z))
            continue;
        const char *zf = get_str(z, "file");
        int64_t zb;
        size_t fl = strlen(sh->f.file);
        if (!zf || strlen(zf) != fl + 4 || strncmp(zf, sh->f.file, fl) || strcmp(zf + fl, ".zst") ||
            !get_int(z, "bytes", 0, MAX_BYTES, &zb))
            return bad(r, "shard %s: its transport copy must be {file: \"%s.zst\", bytes}",
                       sh->f.file, sh->f.file);
        sh->has_zst = true;
        sh->zst = (wg_man_file){.file = zf, .bytes = (uint64_t)zb};
    }
    return 0;
}

static bool parse_dtype(const char *s, wg_dtype *dt)
{
    for (int d = 1; s && d < WG_DT_COUNT; d++)
        if (wg_dtype_bits((wg_dtype)d) && !strcmp(s, wg_dtype_name((wg_dtype)d))) {
            *dt = (wg_dtype)d;
            return true;
        }
    return false;
}

/* per-row bytes of the data/scales/zeros planes, and the total for all rows */
static bool row_bytes(const wg_man_tensor *t, uint64_t rb[3], uint64_t *total)
{
    rb[0] = rb[1] = rb[2] = 0;
    if (t->raw) { /* kept bytes: a "row" is a byte */
        rb[0] = 1;
        *total = (uint64_t)t->rows;
        return true;
    }
    wg_qlayout one, all;
    if (!wg_qformat_layout(&t->fmt, 1, t->K, &one) || !wg_qformat_layout(&t->fmt, t->rows, t->K, &all))
        return false;
    rb[0] = one.data_bytes;
    rb[1] = one.scale_bytes;
    rb[2] = one.zero_bytes;
    *total = all.total_bytes;
    return true;
}

/* the format facts a loader reads besides "format" must agree with it */
static int format_facts(rd *r, json_t *o, wg_man_tensor *t)
{
    if (t->fmt.kind != WG_Q_INT)
        return 0;
    wg_qlayout l;
    wg_qformat_layout(&t->fmt, t->rows, t->K, &l);
    int64_t bits, group, kp;
    json_t *sym = json_object_get(o, "symmetric");
    const char *sd = get_str(o, "scale_dtype");
    if (!get_int(o, "bits", t->fmt.bits, t->fmt.bits, &bits) ||
        !get_int(o, "group_size", l.group, l.group, &group) ||
        !get_int(o, "padded_K", l.Kp, l.Kp, &kp) || !json_is_boolean(sym) ||
        json_is_true(sym) != t->fmt.sym || !sd || strcmp(sd, t->fmt.scale_f32 ? "f32" : "f16"))
        return bad(r, "tensor %s: bits, group_size, padded_K, symmetric or scale_dtype disagree "
                   "with format", t->name);
    return 0;
}

static int tensor_shape(rd *r, json_t *o, wg_man_tensor *t)
{
    json_t *sh = json_object_get(o, "shape");
    if (!json_is_array(sh) || json_array_size(sh) > WG_MAX_DIMS)
        return bad(r, "tensor %s: shape is not an array of at most %d sizes", t->name, WG_MAX_DIMS);
    t->ndim = (int)json_array_size(sh);
    for (int d = 0; d < t->ndim; d++) {
        json_t *v = json_array_get(sh, (size_t)d);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return bad(r, "tensor %s: dimension %d is not a size", t->name, d);
        t->shape[d] = json_integer_value(v);
    }
    if (!wg_shape_numel(t->shape, t->ndim, &t->numel) || t->numel > (uint64_t)MAX_BYTES)
        return bad(r, "tensor %s: shape product overflows", t->name);
    return 0;
}

static int tensor_format(rd *r, json_t *o, wg_man_tensor *t)
{
    const char *fmt = get_str(o, "format");
    t->raw = fmt && !strcmp(fmt, "raw");
    if (t->raw) {
        uint64_t nb;
        if (!parse_dtype(get_str(o, "dtype"), &t->dtype) || !wg_dtype_bytes(t->dtype, t->numel, &nb))
            return bad(r, "tensor %s: raw with no known dtype", t->name);
        t->rows = (int64_t)nb; /* parts of a raw tensor count bytes */
        t->K = 1;
        return 0;
    }
    if (!fmt || !wg_qformat_parse(fmt, &t->fmt))
        return bad(r, "tensor %s: unknown format %s", t->name, fmt ? fmt : "(none)");
    if (!get_int(o, "rows", 0, MAX_BYTES, &t->rows) || !get_int(o, "K", 0, MAX_BYTES, &t->K))
        return bad(r, "tensor %s: rows or K missing or out of range", t->name);
    uint64_t rk;
    if (__builtin_mul_overflow((uint64_t)t->rows, (uint64_t)t->K, &rk) || rk != t->numel)
        return bad(r, "tensor %s: rows x K = %lld x %lld does not match its shape", t->name,
                   (long long)t->rows, (long long)t->K);
    return format_facts(r, o, t);
}

/* one part: its shard is the tensor's unit, its planes exactly the bytes its rows need */
static int tensor_part(rd *r, json_t *pt, wg_man_tensor *t, const uint64_t rb[3], int64_t row0,
                       wg_man_part *p)
{
    static const char *planes[3] = {"data", "scales", "zeros"};
    int64_t si;
    if (!get_int(pt, "shard", 0, (int64_t)r->m->nshards - 1, &si) ||
        !get_int(pt, "row0", row0, row0, &p->row0) ||
        !get_int(pt, "rows", t->rows ? 1 : 0, t->rows - row0, &p->rows))
        return bad(r, "tensor %s: a part's shard, row0 or rows is wrong (rows must continue at %lld)",
                   t->name, (long long)row0);
    p->shard = (size_t)si;
    const char *uk = unknown_key(pt, "tensors[].parts[]");
    for (int q = 0; q < 3 && !uk; q++)
        if (json_object_get(pt, planes[q]))
            uk = unknown_key(json_object_get(pt, planes[q]), "tensors[].parts[].plane");
    if (uk)
        return bad(r, "tensor %s: a part has the unknown key \"%s\"", t->name, uk);
    const wg_man_shard *sh = &r->m->shards[si];
    if (strcmp(sh->component, t->component) || sh->layer != t->layer)
        return bad(r, "tensor %s: part in shard %s of another component or layer", t->name,
                   sh->f.file);
    for (int q = 0; q < 3; q++) {
        json_t *pl = json_object_get(pt, planes[q]);
        uint64_t want = rb[q] * (uint64_t)p->rows, end; /* rows <= 2^50, rb < 2^24: no overflow */
        int64_t off = 0, b = 0;
        if ((pl && (!get_int(pl, "offset", 0, MAX_BYTES, &off) ||
                    !get_int(pl, "bytes", 0, MAX_BYTES, &b))) ||
            (uint64_t)b != want || (want && !pl))
            return bad(r, "tensor %s: %s plane of a part is not the %llu bytes its format needs",
                       t->name, planes[q], (unsigned long long)want);
        if (__builtin_add_overflow((uint64_t)off, (uint64_t)b, &end) || end > sh->f.bytes ||
            off % WG_ALIGN)
            return bad(r, "tensor %s: %s plane at %lld+%lld lies outside shard %s or is not "
                       "256-byte aligned", t->name, planes[q], (long long)off, (long long)b,
                       sh->f.file);
        p->off[q] = (uint64_t)off;
        p->bytes[q] = (uint64_t)b;
    }
    return 0;
}

static int tensor_parts(rd *r, json_t *o, wg_man_tensor *t)
{
    json_t *parts = json_object_get(o, "parts"), *pt;
    uint64_t rb[3], total = 0;
    int64_t tb;
    if (!row_bytes(t, rb, &total) || !get_int(o, "bytes", (int64_t)total, (int64_t)total, &tb))
        return bad(r, "tensor %s: bytes is not the %llu its format and shape give", t->name,
                   (unsigned long long)total);
    if (!json_array_size(parts))
        return bad(r, "tensor %s has no parts", t->name);
    t->part0 = r->m->nparts;
    int64_t row0 = 0;
    size_t k;
    json_array_foreach(parts, k, pt) {
        if (row0 == t->rows && k)
            return bad(r, "tensor %s: parts beyond its %lld rows", t->name, (long long)t->rows);
        wg_man_part *p = &r->m->parts[r->m->nparts];
        int rc = tensor_part(r, pt, t, rb, row0, p);
        if (rc)
            return rc;
        r->m->nparts++;
        row0 += p->rows;
    }
    t->nparts = r->m->nparts - t->part0;
    if (row0 != t->rows)
        return bad(r, "tensor %s: parts cover %lld of its %lld rows", t->name, (long long)row0,
                   (long long)t->rows);
    return 0;
}

static int read_tensors(rd *r, json_t *arr)
{
    wg_manifest *m = r->m;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        wg_man_tensor *t = &m->tensors[m->ntensors];
        int64_t layer;
        if (!(t->name = get_str(o, "name")) || !(t->component = get_str(o, "component")) ||
            !get_int(o, "layer", -1, INT32_MAX, &layer))
            return bad(r, "tensor %zu: name, component or layer missing", i);
        t->layer = (int)layer;
        const char *uk = unknown_key(o, "tensors[]");
        if (uk)
            return bad(r, "tensors[%zu] (%s): unknown key \"%s\"", i, t->name, uk);
        if (wg_name_index_put(&m->by_name, t->name, m->ntensors) == 0)
            return bad(r, "tensor %s is listed twice", t->name);
        m->ntensors++;
        int rc;
        if ((rc = tensor_shape(r, o, t)) || (rc = tensor_format(r, o, t)) ||
            (rc = tensor_parts(r, o, t)))
            return rc;
    }
    return 0;
}

static int cmp_plane(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    for (int i = 0; i < 2; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* no two planes share a byte: [shard, offset, end] triples sorted */
static int no_overlap(rd *r)
{
    wg_manifest *m = r->m;
    uint64_t (*pl)[3] = malloc((3 * m->nparts + 1) * sizeof *pl);
    if (!pl)
        return wg_fail(r->err, WG_EIO, m->path, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < m->nparts; i++)
        for (int q = 0; q < 3; q++)
            if (m->parts[i].bytes[q]) {
                pl[n][0] = m->parts[i].shard;
                pl[n][1] = m->parts[i].off[q];
                pl[n++][2] = m->parts[i].off[q] + m->parts[i].bytes[q];
            }
    qsort(pl, n, sizeof *pl, cmp_plane);
    int rc = 0;
    for (size_t i = 1; i < n && !rc; i++)
        if (pl[i][0] == pl[i - 1][0] && pl[i][1] < pl[i - 1][2])
            rc = bad(r, "two tensor planes overlap in shard %s at byte %llu",
                     m->shards[pl[i][0]].f.file, (unsigned long long)pl[i][1]);
    free(pl);
    return rc;
}

/* n integers in [lo, hi]: v itself when n is 1, else an array of n */
static bool ints_in(json_t *v, int n, int64_t lo, int64_t hi, int64_t *prod)
{
    *prod = 1;
    if (n != 1 && (!json_is_array(v) || json_array_size(v) != (size_t)n))
        return false;
    for (int i = 0; i < n; i++) {
        json_t *e = n == 1 ? v : json_array_get(v, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < lo || json_integer_value(e) > hi)
            return false;
        *prod *= json_integer_value(e);
    }
    return true;
}

/* an op kernel's uniform fields [{name, type}] and its grid {x, div, y?} naming two of them */
static bool has_field(json_t *fields, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) if (name && !strcmp(json_string_value(json_object_get(f, "name")), name)) return true;
    return false;
}

static int kernel_grid(rd *r, json_t *f, const char *at)
{
    json_t *fields = json_object_get(f, "fields"), *g = json_object_get(json_object_get(f, "dispatch"), "grid"), *e;
    size_t i;
    if (!json_is_array(fields) || json_array_size(fields) > 16)
        return bad(r, "%s.fields is not a list of at most 16 uniform fields", at);
    json_array_foreach(fields, i, e) {
        const char *t = json_string_value(json_object_get(e, "type"));
        if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_string(json_object_get(e, "name")) || !t ||
            (strcmp(t, "u32") && strcmp(t, "f32")))
            return bad(r, "%s.fields[%zu] is not {name, type: u32|f32}", at, i);
    }
    json_t *div = json_object_get(g, "div");
    const char *x = json_string_value(json_object_get(g, "x")), *y = json_string_value(json_object_get(g, "y"));
    if (!json_is_object(g) || !has_field(fields, x) || (json_object_get(g, "y") && !has_field(fields, y)) ||
        !json_is_integer(div) || json_integer_value(div) < 1 || json_integer_value(div) > 65536 ||
        json_object_size(g) != 2 + (json_object_get(g, "y") != NULL))
        return bad(r, "%s.dispatch.grid is not {x, div, y?} naming its fields", at);
    return 0;
}

/* a kernel's workgroup size and dispatch facts, by the rules' table for its kind */
static int kernel_dispatch(rd *r, json_t *f, const char *at, json_t *kind_rule)
{
    int64_t dmax = rule_int("dispatch_max"), wmax = rule_int("workgroup_invocations_max"), prod;
    if (!ints_in(json_object_get(f, "workgroup_size"), 3, 1, wmax, &prod) || prod > wmax)
        return bad(r, "%s.workgroup_size is not three sizes of at most %lld invocations in all",
                   at, (long long)wmax);
    json_t *d = json_object_get(f, "dispatch"), *need = json_object_get(kind_rule, "dispatch"), *v;
    const char *key;
    if (!json_is_object(d) || !json_is_string(json_object_get(d, "rule")))
        return bad(r, "%s.dispatch is not an object with a rule", at);
    bool grid = json_is_true(json_object_get(kind_rule, "grid"));
    json_object_foreach(d, key, v) if (strcmp(key, "rule") && (!grid || strcmp(key, "grid")) &&
                                       !json_object_get(need, key))
        return bad(r, "%s.dispatch: unknown key \"%s\"", at, key);
    if (grid && kernel_grid(r, f, at))
        return r->err->code;
    json_object_foreach(need, key, v) {
        int n = (int)json_integer_value(v);
        if (!ints_in(json_object_get(d, key), n, 1, dmax, &prod))
            return bad(r, "%s.dispatch.%s is not %s in [1, %lld]", at, key,
                       n == 1 ? "an integer" : "a list of integers", (long long)dmax);
    }
    return 0;
}

/* a kernel's bindings: a format kernel's exactly its kind's rows for its format's planes; an
 * op's numbered 0..n-1 with the uniform last */
static int kernel_bindings(rd *r, json_t *f, const char *at, const char *kind, json_t *kind_rule)
{
    json_t *bl = json_object_get(f, "bindings"), *b, *types = rule("binding_types"), *t;
    size_t n = json_array_size(bl), j, ti;
    if (!json_is_array(bl) || !n || n > (size_t)rule_int("max_bindings"))
        return bad(r, "%s.bindings is not a list of 1 to %lld bindings", at, (long long)rule_int("max_bindings"));
    json_array_foreach(bl, j, b) {
        const char *uk = unknown_key(b, "kernels.files[].bindings[]"), *ty = get_str(b, "type");
        bool known = false;
        json_array_foreach(types, ti, t) known = known || (ty && !strcmp(ty, json_string_value(t)));
        if (uk)
            return bad(r, "%s.bindings[%zu]: unknown key \"%s\"", at, j, uk);
        if (!json_is_integer(json_object_get(b, "binding")) || !get_str(b, "resource") || !known)
            return bad(r, "%s.bindings[%zu] is not {binding, resource, type} of a known type", at, j);
    }
    json_t *table = json_object_get(kind_rule, "bindings");
    if (!json_is_array(table)) { /* an op */
        if (!get_str(f, "op"))
            return bad(r, "%s: an op kernel without an op name", at);
        json_array_foreach(bl, j, b) {
            bool uniform = !strcmp(get_str(b, "type"), "uniform");
            if (json_integer_value(json_object_get(b, "binding")) != (json_int_t)j || uniform != (j == n - 1))
                return bad(r, "%s.bindings[%zu]: an op's bindings are numbered 0..%zu, the uniform last",
                           at, j, n - 1);
        }
        return 0;
    }
    wg_qformat q;
    const char *fn = get_str(f, "format");
    if (!fn || !wg_qformat_parse(fn, &q))
        return bad(r, "%s.format %s is not a weight format", at, fn ? fn : "(none)");
    bool has_scales = q.kind == WG_Q_INT, has_zeros = has_scales && !q.sym;
    size_t k = 0;
    json_array_foreach(table, j, t) {
        const char *when = json_string_value(json_array_get(t, 3));
        if ((!strcmp(when, "scales") && !has_scales) || (!strcmp(when, "zeros") && !has_zeros))
            continue;
        b = json_array_get(bl, k++);
        if (!b || json_integer_value(json_object_get(b, "binding")) != json_integer_value(json_array_get(t, 0)) ||
            strcmp(get_str(b, "resource"), json_string_value(json_array_get(t, 1))) ||
            strcmp(get_str(b, "type"), json_string_value(json_array_get(t, 2))))
            return bad(r, "%s.bindings[%zu] is not binding %lld (%s, %s) that a %s %s kernel has", at,
                       k - 1, (long long)json_integer_value(json_array_get(t, 0)),
                       json_string_value(json_array_get(t, 1)), json_string_value(json_array_get(t, 2)),
                       kind, fn);
    }
    if (k != n)
        return bad(r, "%s.bindings has %zu bindings; a %s %s kernel has %zu", at, n, kind, fn, k);
    return 0;
}

static int kernel_entry(rd *r, json_t *f, size_t i)
{
    char at[48];
    snprintf(at, sizeof at, "kernels.files[%zu]", i);
    const char *uk = unknown_key(f, "kernels.files[]"), *kind = get_str(f, "kind");
    json_t *kr = kind ? json_object_get(rule("kinds"), kind) : NULL;
    if (uk)
        return bad(r, "%s: unknown key \"%s\"", at, uk);
    if (!kr)
        return bad(r, "%s.kind %s is not dequantize, gemv, gemm, gather or op", at, kind ? kind : "(none)");
    if (!json_is_boolean(json_object_get(f, "requires_shader_f16")) ||
        !json_is_boolean(json_object_get(f, "requires_subgroups")))
        return bad(r, "%s: requires_shader_f16 or requires_subgroups is not a boolean", at);
    int rc = kernel_dispatch(r, f, at, kr);
    return rc ? rc : kernel_bindings(r, f, at, kind, kr);
}

/* kernels: files under kernels/ (each as the rules say), every by_profile index naming a file
 * of that format, kind and variant, every ops_by_profile index an op kernel of that op */
static int read_kernels(rd *r, json_t *k)
{
    wg_manifest *m = r->m;
    json_t *files = json_object_get(k, "files"), *byp = json_object_get(k, "by_profile"), *f;
    json_t *obp = json_object_get(k, "ops_by_profile");
    if (!rule("kinds"))
        return wg_fail(r->err, WG_EIO, m->path, "internal: the embedded manifest rules do not parse");
    const char *uk = json_is_object(k) ? unknown_key(k, "kernels") : NULL;
    if (uk)
        return bad(r, "kernels: unknown key \"%s\"", uk);
    if (!json_is_array(files) || !json_is_object(byp) || (obp && !json_is_object(obp)))
        return bad(r, "kernels: no files array, by_profile object or ops_by_profile object");
    m->kernels = calloc(json_array_size(files) + 1, sizeof *m->kernels);
    if (!m->kernels)
        return wg_fail(r->err, WG_EIO, m->path, "out of memory");
    size_t i, nf = json_array_size(files);
    json_array_foreach(files, i, f) {
        int rc = file_entry(r, f, "kernels/", "kernel", &m->kernels[m->nkernels++]);
        if (rc || (rc = kernel_entry(r, f, i)))
            return rc;
    }
    const char *pn, *fn, *kn, *an;
    json_t *pv, *fv, *kv, *av;
    json_object_foreach(byp, pn, pv) {
        if (!json_is_object(pv))
            return bad(r, "kernels.by_profile.%s is not an object", pn);
        json_object_foreach(pv, fn, fv) {
            if (!json_is_object(fv))
                return bad(r, "kernels.by_profile.%s.%s is not an object", pn, fn);
            json_object_foreach(fv, kn, kv) {
                if (!json_is_object(kv))
                    return bad(r, "kernels.by_profile.%s.%s.%s is not an object", pn, fn, kn);
                json_object_foreach(kv, an, av) {
                    json_int_t id = json_integer_value(av);
                    json_t *e = json_is_integer(av) && id >= 0 && (size_t)id < nf ? json_array_get(files, (size_t)id) : NULL;
                    json_t *var = json_object_get(rule("variants"), an);
                    if (!var)
                        return bad(r, "kernels.by_profile.%s.%s.%s.%s: unknown variant (f32, f16, f32-sg "
                                   "or f16-sg)", pn, fn, kn, an);
                    if (!e || !get_str(e, "format") || strcmp(get_str(e, "format"), fn) ||
                        !get_str(e, "kind") || strcmp(get_str(e, "kind"), kn))
                        return bad(r, "kernels.by_profile.%s.%s.%s.%s is not the index of a %s %s kernel "
                                   "(kernels.files has %zu)", pn, fn, kn, an, kn, fn, nf);
                    if (json_is_true(json_object_get(e, "requires_shader_f16")) != json_is_true(json_array_get(var, 0)) ||
                        json_is_true(json_object_get(e, "requires_subgroups")) != json_is_true(json_array_get(var, 1)))
                        return bad(r, "kernels.by_profile.%s.%s.%s.%s names kernels.files[%lld], whose "
                                   "requires_shader_f16/requires_subgroups are not the variant's",
                                   pn, fn, kn, an, (long long)id);
                }
            }
        }
    }
    json_object_foreach(obp, pn, pv) {
        if (!json_is_object(pv))
            return bad(r, "kernels.ops_by_profile.%s is not an object", pn);
        json_object_foreach(pv, kn, kv) {
            if (!json_is_object(kv) || json_object_size(kv) != 1 || !json_object_get(kv, "f32"))
                return bad(r, "kernels.ops_by_profile.%s.%s is not {\"f32\": index}", pn, kn);
            av = json_object_get(kv, "f32");
            json_int_t id = json_integer_value(av);
            json_t *e = json_is_integer(av) && id >= 0 && (size_t)id < nf ? json_array_get(files, (size_t)id) : NULL;
            if (!e || !get_str(e, "kind") || strcmp(get_str(e, "kind"), "op") || !get_str(e, "op") ||
                strcmp(get_str(e, "op"), kn))
                return bad(r, "kernels.ops_by_profile.%s.%s.f32 is not the index of the %s op kernel "
                           "(kernels.files has %zu)", pn, kn, kn, nf);
        }
    }
    return 0;
}

/* every name a list carries must be one of `known` (shards or tensors); with `seen`, at most once */
/* text: {"files": {HF name: file entry under text/}} (pack/textfiles.c writes it) */
static int read_text(rd *r, json_t *t)
{
    wg_manifest *m = r->m;
    json_t *files = json_object_get(t, "files"), *v;
    const char *key;
    if (!t)
        return 0;
    if (!json_is_object(files))
        return bad(r, "text: no files object");
    if (!(m->text = calloc(json_object_size(files) + 1, sizeof *m->text)))
        return wg_fail(r->err, WG_EIO, m->path, "out of memory");
    json_object_foreach(files, key, v) {
        int rc = file_entry(r, v, "text/", "text file", &m->text[m->ntext++]);
        if (rc)
            return rc;
    }
    return 0;
}

static int names_known(rd *r, json_t *list, const wg_name_index *known, const char *what,
                       unsigned char *seen)
{
    size_t i, at;
    json_t *v;
    if (!json_is_array(list))
        return bad(r, "a list of %ss is missing", what);
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(v);
        if (!s || !wg_name_index_get(known, s, &at))
            return bad(r, "%s %s is listed but not in the manifest", what, s ? s : "(not a string)");
        if (seen && seen[at]++)
            return bad(r, "%s %s belongs to two components", what, s);
    }
    return 0;
}

/* each shard of list (names already known) not yet marked in seen; marks them */
static int shards_once(rd *r, json_t *list, const wg_name_index *files, unsigned char *seen,
                       const char *where, size_t gi)
{
    size_t j, at;
    json_t *v;
    json_array_foreach(list, j, v) {
        wg_name_index_get(files, json_string_value(v), &at);
        if (seen[at]++)
            return bad(r, "%s[%zu] lists shard %s again (each shard once)", where, gi,
                       json_string_value(v));
    }
    return 0;
}

static int read_lists(rd *r, json_t *root, const wg_name_index *files)
{
    wg_manifest *m = r->m;
    unsigned char *seen = calloc(m->ntensors + 1, 1);
    if (!seen)
        return wg_fail(r->err, WG_EIO, m->path, "out of memory");
    int rc = 0;
    size_t i;
    json_t *c;
    json_t *comps = json_object_get(root, "components");
    if (!json_is_array(comps))
        rc = bad(r, "no components array");
    json_array_foreach(comps, i, c) if (!rc && !(rc = names_known(r, json_object_get(c, "shards"), files, "shard", NULL)))
        rc = names_known(r, json_object_get(c, "tensors"), &m->by_name, "tensor", seen);
    for (size_t t = 0; !rc && t < m->ntensors; t++)
        if (!seen[t])
            rc = bad(r, "tensor %s is in no component", m->tensors[t].name);
    free(seen);
    json_t *plans = json_object_get(root, "plans"), *tabs = json_object_get(plans, "tabs");
    if (!rc && !json_is_array(json_object_get(plans, "progressive")))
        rc = bad(r, "no plans.progressive array");
    const char *uk = rc ? NULL : unknown_key(plans, "plans");
    if (uk)
        rc = bad(r, "plans: unknown key \"%s\"", uk);
    /* the progressive plan lists every shard exactly once: a loader fetches what it lists */
    unsigned char *once = rc ? NULL : calloc(m->nshards + 1, 1);
    if (!rc && !once)
        return wg_fail(r->err, WG_EIO, m->path, "out of memory");
    json_array_foreach(json_object_get(plans, "progressive"), i, c) if (!rc) {
        if ((uk = unknown_key(c, "plans.progressive[]")))
            rc = bad(r, "plans.progressive[%zu]: unknown key \"%s\"", i, uk);
        else if (!(rc = names_known(r, json_object_get(c, "shards"), files, "shard", NULL)))
            rc = shards_once(r, json_object_get(c, "shards"), files, once, "plans.progressive", i);
    }
    for (size_t s = 0; !rc && s < m->nshards; s++)
        if (!once[s])
            rc = bad(r, "plans.progressive does not list shard %s (every shard exactly once)",
                     m->shards[s].f.file);
    free(once);
    json_array_foreach(json_object_get(tabs, "partition"), i, c) if (!rc) {
        unsigned char *mine = calloc(m->nshards + 1, 1);
        if (!mine)
            return wg_fail(r->err, WG_EIO, m->path, "out of memory");
        if (!(rc = names_known(r, json_object_get(c, "shards"), files, "shard", NULL)))
            rc = shards_once(r, json_object_get(c, "shards"), files, mine, "plans.tabs.partition", i);
        free(mine);
    }
    return rc;
}

int wg_str_index(const char *s, const char *const *list)
{
    for (int i = 0; s && list[i]; i++)
        if (!strcmp(s, list[i]))
            return i;
    return -1;
}

/* ---- the program section (program/json.c checks it; weights resolved here) ---- */
static bool program_dims(void *ctx, const char *name, int64_t *rows, int64_t *K)
{
    const wg_man_tensor *t = wg_manifest_tensor(ctx, name);
    if (!t || t->raw)
        return false;
    *rows = t->rows;
    *K = t->K;
    return true;
}

static int read_program(rd *r, json_t *root)
{
    json_t *o = json_object_get(root, "program");
    wg_manifest *m = r->m;
    m->program_missing = get_str(root, "program_missing");
    if (!o || json_is_null(o))
        return 0;
    char why[WG_ERRLEN];
    if (!(m->program = wg_prog_from_json(o, program_dims, m, why, sizeof why)))
        return bad(r, "%s", why);
    return 0;
}

static int read_all(rd *r, json_t *root)
{
    wg_manifest *m = r->m;
    json_t *gen = json_object_get(root, "generator"), *shards = json_object_get(root, "shards"),
           *tensors = json_object_get(root, "tensors"), *wasm = json_object_get(root, "wasm");
    int64_t fv;
    if (!get_str(gen, "name") || strcmp(get_str(gen, "name"), "wgpack"))
        return bad(r, "not a wgpack manifest (generator.name is not \"wgpack\")");
    if (!get_int(root, "format_version", WG_BUNDLE_FORMAT_VERSION, WG_BUNDLE_FORMAT_VERSION, &fv))
        return bad(r, "unsupported format_version (this wgpack reads %d)", WG_BUNDLE_FORMAT_VERSION);
    if (!json_is_array(shards) || !json_is_array(tensors))
        return bad(r, "no shards or tensors array");
    size_t np = 0, i;
    json_t *t;
    json_array_foreach(tensors, i, t) np += json_array_size(json_object_get(t, "parts"));
    m->shards = calloc(json_array_size(shards) + 1, sizeof *m->shards);
    m->tensors = calloc(json_array_size(tensors) + 1, sizeof *m->tensors);
    m->parts = calloc(np + 1, sizeof *m->parts);
    wg_name_index files = {0};
    if (!m->shards || !m->tensors || !m->parts)
        return wg_fail(r->err, WG_EIO, m->path, "out of memory");
    int rc;
    if (!(rc = read_shards(r, shards, &files)) && !(rc = read_tensors(r, tensors)) &&
        !(rc = no_overlap(r)) && !(rc = read_kernels(r, json_object_get(root, "kernels"))) &&
        !(rc = read_lists(r, root, &files)) && wasm) {
        m->has_wasm = true;
        rc = file_entry(r, wasm, "wasm/", "wasm module", &m->wasm);
    }
    if (!rc)
        rc = read_text(r, json_object_get(root, "text"));
    if (!rc)
        rc = read_program(r, root);
    wg_name_index_free(&files);
    return rc;
}

int wg_manifest_read(const char *dir, wg_manifest *m, wg_error *err)
{
    memset(m, 0, sizeof *m);
    rd r = {.m = m, .err = err};
    snprintf(m->path, sizeof m->path, "%s/manifest.json", dir);
    if (!(m->root = load(&r, m->path)))
        return err->code ? err->code : WG_EINPUT;
    int rc = read_all(&r, m->root);
    if (rc)
        wg_manifest_free(m);
    return rc;
}

const wg_man_tensor *wg_manifest_tensor(const wg_manifest *m, const char *name)
{
    size_t i;
    return wg_name_index_get(&m->by_name, name, &i) ? &m->tensors[i] : NULL;
}

void wg_manifest_free(wg_manifest *m)
{
    json_decref(m->root);
    free(m->shards);
    free(m->tensors);
    free(m->parts);
    free(m->kernels);
    free(m->text);
    wg_name_index_free(&m->by_name);
    wg_prog_free(m->program);
    memset(m, 0, sizeof *m);
}
