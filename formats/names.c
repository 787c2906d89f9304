/* formats/names.c — names that come from files, in one place: the tensor-name index (so that
 * looking a name up costs the same for 10 tensors as for 10^6), the one policy for a file a
 * model names (external data, index shards), and the sanitiser for names wgpack writes. */
#define _GNU_SOURCE
#include "model.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ------------------------------------------------------------------ name index */

/* Open addressing, linear probing, load <= 1/2. keys[i] NULL: empty slot. */
static size_t slot_of(const wg_name_index *ix, const char *key)
{
    size_t mask = ix->cap - 1, i = (size_t)XXH3_64bits(key, strlen(key)) & mask;
    while (ix->keys[i] && strcmp(ix->keys[i], key))
        i = (i + 1) & mask;
    return i;
}

static bool grow(wg_name_index *ix)
{
    size_t nc = ix->cap ? ix->cap * 2 : 64;
    wg_name_index n = {.keys = calloc(nc, sizeof *n.keys), .vals = calloc(nc, sizeof *n.vals),
                       .cap = nc, .n = ix->n};
    if (!n.keys || !n.vals) {
        free(n.keys);
        free(n.vals);
        return false;
    }
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->keys[i]) {
            size_t s = slot_of(&n, ix->keys[i]);
            n.keys[s] = ix->keys[i];
            n.vals[s] = ix->vals[i];
        }
    free(ix->keys);
    free(ix->vals);
    *ix = n;
    return true;
}

int wg_name_index_put(wg_name_index *ix, const char *key, size_t val)
{
    if (2 * (ix->n + 1) > ix->cap && !grow(ix))
        return -1;
    size_t s = slot_of(ix, key);
    if (ix->keys[s])
        return 0;
    ix->keys[s] = key;
    ix->vals[s] = val;
    ix->n++;
    return 1;
}

bool wg_name_index_get(const wg_name_index *ix, const char *key, size_t *val)
{
    if (!ix->cap)
        return false;
    size_t s = slot_of(ix, key);
    if (!ix->keys[s])
        return false;
    *val = ix->vals[s];
    return true;
}

void wg_name_index_free(wg_name_index *ix)
{
    free(ix->keys);
    free(ix->vals);
    memset(ix, 0, sizeof *ix);
}

/* ------------------------------------------------------------------ files a model names */

int wg_model_file(const char *dir, const char *name, const char *what, const char *model,
                  char out[4096], wg_error *err)
{
    if (name[0] == '/' || name[0] == '\\' || (name[0] && name[1] == ':'))
        return wg_fail(err, WG_EINPUT, model, "%s '%s' is an absolute path", what, name);
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return wg_fail(err, WG_EINPUT, model, "%s '%s' climbs out of the model directory",
                           what, name);
        p += n;
        if (*p)
            p++;
    }
    char full[PATH_MAX * 2], realdir[PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", dir, name);
    if (!realpath(dir, realdir))
        return wg_fail(err, WG_EINPUT, dir, "cannot resolve directory: %s", strerror(errno));
    if (!realpath(full, out))
        return wg_fail(err, WG_EINPUT, full, "%s: %s", what, strerror(errno));
    size_t dl = strlen(realdir);
    if (strncmp(out, realdir, dl) || (out[dl] != '/' && !(dl == 1 && realdir[0] == '/')))
        return wg_fail(err, WG_EINPUT, full, "%s resolves outside the model directory "
                       "(symlink?)", what);
    return 0; /* regular-file-ness is checked on the open descriptor (wg_source_map) */
}

/* ------------------------------------------------------------------ names wgpack writes */

void wg_safe_name(char *out, size_t n, const char *in)
{
    size_t k = 0;
    for (const char *p = in; *p && k + 1 < n; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || (c == '.' && k > 0);
        out[k++] = ok ? (char)c : '_';
    }
    if (!k && n > 1)
        out[k++] = '_';
    if (n)
        out[k] = 0;
}

bool wg_plain_name(const char *s, bool allow_dir)
{
    if (!*s || *s == '.')
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (c == '/' && allow_dir && p > s && p[-1] != '/' && p[1] && p[1] != '.') {
            allow_dir = false; /* one directory level at most: kernels/x, wasm/x */
            continue;
        }
        if (!ok)
            return false;
    }
    return true;
}
