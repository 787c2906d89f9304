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

/* kernels: files under kernels/, every by_profile index naming a file of that format/kind */
static int read_kernels(rd *r, json_t *k)
{
    wg_manifest *m = r->m;
    json_t *files = json_object_get(k, "files"), *byp = json_object_get(k, "by_profile"), *f;
    if (!json_is_array(files) || !json_is_object(byp))
        return bad(r, "kernels: no files array or by_profile object");
    m->kernels = calloc(json_array_size(files) + 1, sizeof *m->kernels);
    if (!m->kernels)
        return wg_fail(r->err, WG_EIO, m->path, "out of memory");
    size_t i;
    json_array_foreach(files, i, f) {
        int rc = file_entry(r, f, "kernels/", "kernel", &m->kernels[m->nkernels++]);
        if (rc)
            return rc;
    }
    const char *pn, *fn, *kn, *an;
    json_t *pv, *fv, *kv, *av;
    json_object_foreach(byp, pn, pv) json_object_foreach(pv, fn, fv) json_object_foreach(fv, kn, kv)
        json_object_foreach(kv, an, av) {
        json_t *e = json_array_get(files, (size_t)json_integer_value(av));
        if (!json_is_integer(av) || json_integer_value(av) < 0 || !e ||
            !get_str(e, "format") || strcmp(get_str(e, "format"), fn) || !get_str(e, "kind") ||
            strcmp(get_str(e, "kind"), kn))
            return bad(r, "kernels.by_profile.%s.%s.%s.%s is not the index of a %s %s kernel",
                       pn, fn, kn, an, kn, fn);
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
    json_array_foreach(json_object_get(plans, "progressive"), i, c) if (!rc)
        rc = names_known(r, json_object_get(c, "shards"), files, "shard", NULL);
    json_array_foreach(json_object_get(tabs, "partition"), i, c) if (!rc)
        rc = names_known(r, json_object_get(c, "shards"), files, "shard", NULL);
    if (!rc && !json_is_array(json_object_get(plans, "progressive")))
        rc = bad(r, "no plans.progressive array");
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
