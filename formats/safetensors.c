/* formats/safetensors.c — safetensors reader (single file and sharded *.index.json).
 *
 * File layout: u64 little-endian N, then N bytes of UTF-8 JSON (an object: tensor name ->
 * {dtype, shape, data_offsets:[begin,end]}, plus optional "__metadata__"), then the data
 * section. Validation is complete and strict, like the reference implementation: offsets are
 * relative to the data section, sorted tensors must tile it exactly (no overlap, no hole, no
 * trailing bytes), and end-begin must equal numel * dtype size. */
#define _GNU_SOURCE
#include "model.h"
#include "model_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER (100u << 20) /* 100 MiB: far beyond any real header */

static const struct { const char *name; wg_dtype dt; } st_dtypes[] = {
    {"F64", WG_DT_F64}, {"F32", WG_DT_F32}, {"F16", WG_DT_F16}, {"BF16", WG_DT_BF16},
    {"I64", WG_DT_I64}, {"I32", WG_DT_I32}, {"I16", WG_DT_I16}, {"I8", WG_DT_I8},
    {"U64", WG_DT_U64}, {"U32", WG_DT_U32}, {"U16", WG_DT_U16}, {"U8", WG_DT_U8},
    {"BOOL", WG_DT_BOOL}, {"F8_E4M3", WG_DT_F8E4M3FN}, {"F8_E5M2", WG_DT_F8E5M2},
};

struct entry {
    const char *name;
    wg_dtype dt;
    int ndim;
    int64_t shape[WG_MAX_DIMS];
    uint64_t numel, begin, end;
};

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int parse_entry(const char *path, const char *name, json_t *v, struct entry *e,
                       wg_error *err)
{
    e->name = name;
    if (!json_is_object(v))
        return wg_fail(err, WG_EINPUT, path, "tensor '%s': header entry is not an object", name);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt))
        return wg_fail(err, WG_EINPUT, path, "tensor '%s': missing dtype", name);
    e->dt = WG_DT_UNDEFINED;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof *st_dtypes; i++)
        if (!strcmp(json_string_value(dt), st_dtypes[i].name))
            e->dt = st_dtypes[i].dt;
    if (!e->dt)
        return wg_fail(err, WG_EINPUT, path, "tensor '%s': unsupported dtype '%s'", name,
                       json_string_value(dt));
    if (!json_is_array(sh))
        return wg_fail(err, WG_EINPUT, path, "tensor '%s': shape is not an array", name);
    if (json_array_size(sh) > WG_MAX_DIMS)
        return wg_fail(err, WG_EINPUT, path, "tensor '%s': more than %d dimensions", name,
                       WG_MAX_DIMS);
    e->ndim = (int)json_array_size(sh);
    for (int i = 0; i < e->ndim; i++) {
        json_t *d = json_array_get(sh, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return wg_fail(err, WG_EINPUT, path, "tensor '%s': dimension %d is not a "
                           "non-negative integer", name, i);
        e->shape[i] = json_integer_value(d);
    }
    if (!wg_shape_numel(e->shape, e->ndim, &e->numel))
        return wg_fail(err, WG_EINPUT, path, "tensor '%s': shape product overflows", name);
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !json_is_integer(json_array_get(off, 0)) || !json_is_integer(json_array_get(off, 1)) ||
        json_integer_value(json_array_get(off, 0)) < 0 ||
        json_integer_value(json_array_get(off, 1)) < json_integer_value(json_array_get(off, 0)))
        return wg_fail(err, WG_EINPUT, path, "tensor '%s': data_offsets must be [begin, end] "
                       "with 0 <= begin <= end", name);
    e->begin = (uint64_t)json_integer_value(json_array_get(off, 0));
    e->end = (uint64_t)json_integer_value(json_array_get(off, 1));
    uint64_t want;
    if (!wg_dtype_bytes(e->dt, e->numel, &want))
        return wg_fail(err, WG_EINPUT, path, "tensor '%s': byte size overflows", name);
    if (e->end - e->begin != want)
        return wg_fail(err, WG_EINPUT, path, "tensor '%s': data_offsets span %llu bytes but "
                       "shape x dtype needs %llu", name,
                       (unsigned long long)(e->end - e->begin), (unsigned long long)want);
    return 0;
}

int wg_safetensors_read(wg_model *m, const char *path, wg_error *err)
{
    int si = wg_source_map(m, path, err);
    if (si < 0)
        return -si;
    const wg_source *src = &m->sources[si];
    if (src->size < 8)
        return wg_fail(err, WG_EINPUT, path, "truncated: %llu bytes, no header length",
                       (unsigned long long)src->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | src->map[i];
    if (hlen > src->size - 8)
        return wg_fail(err, WG_EINPUT, path, "header length %llu exceeds file size %llu",
                       (unsigned long long)hlen, (unsigned long long)src->size);
    if (hlen > MAX_HEADER)
        return wg_fail(err, WG_EINPUT, path, "header length %llu over the %u-byte limit",
                       (unsigned long long)hlen, MAX_HEADER);
    if (hlen < 2 || src->map[8] != '{')
        return wg_fail(err, WG_EINPUT, path, "header is not a JSON object");
    json_error_t jerr;
    json_t *h = json_loadb((const char *)src->map + 8, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!h)
        return wg_fail(err, WG_EINPUT, path, "header JSON invalid at byte %d: %s",
                       jerr.position, jerr.text);
    int rc = 0;
    struct entry *es = NULL;
    if (!json_is_object(h)) {
        rc = wg_fail(err, WG_EINPUT, path, "header is not a JSON object");
        goto out;
    }
    size_t cap = json_object_size(h), n = 0;
    es = calloc(cap ? cap : 1, sizeof *es);
    if (!es) {
        rc = wg_fail(err, WG_EIO, path, "out of memory");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(h, key, val) {
        if (!strcmp(key, "__metadata__")) {
            const char *k2;
            json_t *v2;
            if (!json_is_object(val)) {
                rc = wg_fail(err, WG_EINPUT, path, "__metadata__ is not an object");
                goto out;
            }
            json_object_foreach(val, k2, v2) if (!json_is_string(v2)) {
                rc = wg_fail(err, WG_EINPUT, path, "__metadata__ value '%s' is not a string", k2);
                goto out;
            }
            continue;
        }
        if (!*key) {
            rc = wg_fail(err, WG_EINPUT, path, "empty tensor name");
            goto out;
        }
        if ((rc = parse_entry(path, key, val, &es[n], err)))
            goto out;
        n++;
    }
    qsort(es, n, sizeof *es, cmp_entry);
    uint64_t data_len = src->size - 8 - hlen, pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (es[i].begin < pos) {
            rc = wg_fail(err, WG_EINPUT, path, "tensor '%s' overlaps tensor '%s'", es[i].name,
                         es[i - 1].name);
            goto out;
        }
        if (es[i].begin > pos) {
            rc = wg_fail(err, WG_EINPUT, path, "hole of %llu bytes before tensor '%s'",
                         (unsigned long long)(es[i].begin - pos), es[i].name);
            goto out;
        }
        if (es[i].end > data_len) {
            rc = wg_fail(err, WG_EINPUT, path, "tensor '%s' ends at byte %llu, past the end of "
                         "the data (%llu bytes)", es[i].name, (unsigned long long)es[i].end,
                         (unsigned long long)data_len);
            goto out;
        }
        pos = es[i].end;
    }
    if (pos != data_len) {
        rc = wg_fail(err, WG_EINPUT, path, "%llu bytes after the last tensor are not indexed",
                     (unsigned long long)(data_len - pos));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        wg_tensor *t = wg_model_add(m, es[i].name, err);
        if (!t) {
            rc = WG_EIO;
            goto out;
        }
        t->dtype = es[i].dt;
        t->ndim = es[i].ndim;
        memcpy(t->shape, es[i].shape, sizeof t->shape);
        t->numel = es[i].numel;
        t->nbytes = es[i].end - es[i].begin;
        t->source = si;
        t->offset = 8 + hlen + es[i].begin;
        t->data = m->sources[si].map ? m->sources[si].map + t->offset : NULL;
    }
out:
    free(es);
    json_decref(h);
    return rc;
}

/* A shard name must be a plain file name in the index's directory. */
static bool plain_name(const char *s)
{
    return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

int wg_safetensors_read_index(wg_model *m, const char *path, wg_error *err)
{
    json_error_t jerr;
    int si = wg_source_map(m, path, err);
    if (si < 0)
        return -si;
    const wg_source *src = &m->sources[si];
    if (src->size > MAX_HEADER)
        return wg_fail(err, WG_EINPUT, path, "index file is larger than %u bytes", MAX_HEADER);
    json_t *idx = json_loadb((const char *)src->map, src->size, JSON_REJECT_DUPLICATES, &jerr);
    if (!idx)
        return wg_fail(err, WG_EINPUT, path, "invalid JSON at line %d: %s", jerr.line, jerr.text);
    int rc = 0;
    const char **files = NULL;
    json_t *wm = json_object_get(idx, "weight_map");
    if (!json_is_object(idx) || !json_is_object(wm)) {
        rc = wg_fail(err, WG_EINPUT, path, "no \"weight_map\" object");
        goto out;
    }
    size_t nw = json_object_size(wm), nf = 0;
    files = calloc(nw ? nw : 1, sizeof *files);
    if (!files) {
        rc = wg_fail(err, WG_EIO, path, "out of memory");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val) {
        if (!json_is_string(val) || !plain_name(json_string_value(val))) {
            rc = wg_fail(err, WG_EINPUT, path, "weight_map['%s'] must be a file name in the "
                         "index's directory", key);
            goto out;
        }
        files[nf++] = json_string_value(val);
    }
    if (!nf) {
        rc = wg_fail(err, WG_EINPUT, path, "weight_map is empty");
        goto out;
    }
    qsort(files, nf, sizeof *files, wg_strptr_cmp);
    const char *slash = strrchr(path, '/');
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (!*dir)
        snprintf(dir, sizeof dir, "/");
    for (size_t i = 0; i < nf; i++) {
        if (i && !strcmp(files[i], files[i - 1]))
            continue;
        char shard[4096];
        /* the shard must resolve inside the index's directory (a symlink out is refused) */
        if ((rc = wg_model_file(dir, files[i], "shard named by the index", path, shard, err)))
            goto out;
        size_t first = m->n_tensors;
        if ((rc = wg_safetensors_read(m, shard, err)))
            goto out;
        for (size_t k = first; k < m->n_tensors; k++) {
            json_t *f = json_object_get(wm, m->tensors[k].name);
            if (!f || strcmp(json_string_value(f), files[i])) {
                rc = wg_fail(err, WG_EINPUT, shard, "tensor '%s' is not mapped to this shard "
                             "by %s", m->tensors[k].name, path);
                goto out;
            }
        }
    }
    json_object_foreach(wm, key, val) if (!wg_model_find(m, key)) {
        rc = wg_fail(err, WG_EINPUT, path, "tensor '%s' is not in shard %s", key,
                     json_string_value(val));
        goto out;
    }
out:
    free(files);
    json_decref(idx);
    return rc;
}

/* ------------------------------------------------------------------ writer */

int wg_st_writer_open(wg_st_writer *w, const char *path, const wg_st_entry *es, size_t n,
                      const char *metadata_json, wg_error *err)
{
    memset(w, 0, sizeof *w);
    json_t *h = json_object();
    if (metadata_json) {
        json_t *md = json_object();
        json_object_set_new(md, "wgpack", json_string(metadata_json));
        json_object_set_new(h, "__metadata__", md);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const char *dt = NULL;
        for (size_t k = 0; k < sizeof st_dtypes / sizeof *st_dtypes; k++)
            if (st_dtypes[k].dt == es[i].dtype)
                dt = st_dtypes[k].name;
        if (!dt) {
            json_decref(h);
            return wg_fail(err, WG_EINPUT, path, "tensor '%s': dtype %s has no safetensors "
                           "name", es[i].name, wg_dtype_name(es[i].dtype));
        }
        json_t *shape = json_array();
        for (int d = 0; d < es[i].ndim; d++)
            json_array_append_new(shape, json_integer(es[i].shape[d]));
        json_object_set_new(h, es[i].name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype", dt, "shape", shape,
                                      "data_offsets", (json_int_t)off,
                                      (json_int_t)(off + es[i].nbytes)));
        off += es[i].nbytes;
    }
    char *txt = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    if (!txt)
        return wg_fail(err, WG_EIO, path, "out of memory");
    size_t hl = strlen(txt), padded = (hl + 7) / 8 * 8; /* data section 8-byte aligned */
    int rc = wg_atomic_open(&w->file, path, err);
    if (!rc) {
        uint8_t le[8];
        for (int i = 0; i < 8; i++)
            le[i] = (uint8_t)((uint64_t)padded >> (8 * i));
        rc = wg_atomic_write(&w->file, le, 8, err);
        if (!rc)
            rc = wg_atomic_write(&w->file, txt, hl, err);
        if (!rc && padded > hl)
            rc = wg_atomic_write(&w->file, "        ", padded - hl, err);
    }
    free(txt);
    w->expect = off;
    return rc;
}

int wg_st_writer_data(wg_st_writer *w, const void *data, size_t n, wg_error *err)
{
    w->written += n;
    return wg_atomic_write(&w->file, data, n, err);
}

int wg_st_writer_close(wg_st_writer *w, bool commit, wg_error *err)
{
    if (commit && w->written != w->expect) {
        wg_atomic_abort(&w->file);
        return wg_fail(err, WG_EIO, w->file.final, "internal: wrote %llu of %llu data bytes",
                       (unsigned long long)w->written, (unsigned long long)w->expect);
    }
    if (!commit) {
        wg_atomic_abort(&w->file);
        return 0;
    }
    return wg_atomic_commit(&w->file, err);
}
