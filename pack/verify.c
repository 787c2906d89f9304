/* pack/verify.c — re-read a bundle and check it against its manifest: the manifest consistent
 * (pack/manifest_read.c: names, shapes, formats, parts); every shard, kernel and the wasm
 * module present with the recorded size, xxh3 and SHA-256; each kernel declaring the bindings
 * the manifest lists for it; transport copies decompressing to the shard's bytes. */
#define _GNU_SOURCE
#include "pack_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <stdarg.h>

static void problem(int *n, wg_error *err, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(int *n, wg_error *err, const char *file, const char *fmt, ...)
{
    (*n)++;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    wg_fail(err, WG_EVERIFY, file, "%s", msg);
    fprintf(stderr, "wgpack: %s: %s\n", file, msg);
}

static const uint8_t *map_file(const char *path, uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    *size = (uint64_t)st.st_size;
    const uint8_t *p = st.st_size ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
                                  : (const uint8_t *)"";
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

/* Map dir/file and check it against a manifest entry's xxh3, SHA-256 and (when the entry has
 * one) size, and that its name carries the content hash. Returns the mapping (caller unmaps)
 * or NULL if unreadable. */
static const uint8_t *check_hashed(const char *dir, const wg_man_file *f, bool sized,
                                   int *problems, wg_error *err, uint64_t *size)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, f->file);
    const uint8_t *p = map_file(path, size);
    if (!p) {
        problem(problems, err, path, "missing or unreadable");
        return NULL;
    }
    char hx[20], sri[64];
    snprintf(hx, sizeof hx, "%016llx", (unsigned long long)XXH3_64bits(p, *size));
    if (strcmp(hx, f->xxh3))
        problem(problems, err, path, "xxh3 %s does not match the manifest", hx);
    wg_sri_sha256(p, *size, sri);
    if (strcmp(sri, f->integrity))
        problem(problems, err, path, "SHA-256 %s does not match the manifest", sri);
    if (!strstr(f->file, hx))
        problem(problems, err, path, "file name does not carry its content hash %s", hx);
    if (sized && *size != f->bytes)
        problem(problems, err, path, "size %llu, manifest says %llu", (unsigned long long)*size,
                (unsigned long long)f->bytes);
    return p;
}

/* A kernel's bindings as the manifest lists them must be the ones its WGSL declares (number
 * and access), as the JS loader checks after fetching it: "@binding(N) var<storage, read>" is
 * read-only-storage, "read_write" storage, "uniform" uniform. */
static void check_declared(const char *dir, const wg_man_file *f, const uint8_t *p, uint64_t size,
                           json_t *listed, int *problems, wg_error *err)
{
    const char *types[3] = {"read-only-storage", "storage", "uniform"};
    int decl[64];
    for (int i = 0; i < 64; i++)
        decl[i] = -1;
    const char *s = (const char *)p, *end = s + size, *at = s, *mark = "@binding(";
    int ndecl = 0;
    bool ok = true;
    while ((at = memmem(at, (size_t)(end - at), mark, strlen(mark)))) {
        at += strlen(mark);
        char *q;
        long n = strtol(at, &q, 10); /* the file is not NUL-terminated: digits stop early */
        const char *v = q;
        while (v < end && (*v == ')' || *v == ' ' || *v == '\n' || *v == '\t'))
            v++;
        const char *gt = v + 4 <= end && !memcmp(v, "var<", 4) ? memchr(v, '>', (size_t)(end - v)) : NULL;
        if (n < 0 || n >= 64 || !gt || decl[n] >= 0) {
            ok = false;
            break;
        }
        size_t len = (size_t)(gt - v);
        decl[n] = memmem(v, len, "uniform", 7) ? 2 : memmem(v, len, "read_write", 10) ? 1 : 0;
        ndecl++;
        at = gt;
    }
    size_t j;
    json_t *b;
    ok = ok && json_array_size(listed) == (size_t)ndecl;
    json_array_foreach(listed, j, b) {
        json_int_t n = json_integer_value(json_object_get(b, "binding"));
        const char *ty = json_string_value(json_object_get(b, "type"));
        ok = ok && n >= 0 && n < 64 && decl[n] >= 0 && ty && !strcmp(ty, types[decl[n]]);
    }
    if (!ok) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", dir, f->file);
        problem(problems, err, path, "declares other bindings than the manifest lists for it");
    }
}

static void unmap(const uint8_t *p, uint64_t size)
{
    if (p && size)
        munmap((void *)p, size);
}

/* a shard's transport copy decompresses to exactly the shard */
static void check_zst(const char *dir, const wg_man_shard *sh, const uint8_t *p, uint64_t size,
                      int *problems, wg_error *err)
{
    char zp[4300];
    snprintf(zp, sizeof zp, "%s/%s", dir, sh->zst.file);
    uint64_t zs;
    const uint8_t *zd = map_file(zp, &zs);
    void *out = malloc(size ? size : 1);
    if (!zd)
        problem(problems, err, zp, "missing transport copy");
    else if (!out)
        problem(problems, err, zp, "out of memory");
    else {
        size_t got = ZSTD_decompress(out, size, zd, zs);
        if (ZSTD_isError(got) || got != size || memcmp(out, p, size) || zs != sh->zst.bytes)
            problem(problems, err, zp, "does not decompress to its shard (or its size is not "
                    "the manifest's)");
    }
    unmap(zd, zs);
    free(out);
}

int wg_bundle_verify(const char *dir, int *problems, json_t **report, wg_error *err)
{
    *problems = 0;
    *report = NULL;
    wg_manifest m;
    int rc = wg_manifest_read(dir, &m, err);
    if (rc == WG_EVERIFY) { /* a manifest, but not a consistent one: a mismatch like any other */
        fprintf(stderr, "wgpack: %s\n", err->msg);
        *problems = 1;
        *report = json_pack("{s:s, s:i, s:i, s:I, s:i, s:b, s:s}", "bundle", dir, "shards", 0,
                            "tensors", 0, "bytes", (json_int_t)0, "tensor_parts", 0, "ok", 0,
                            "manifest", err->msg);
        return WG_EVERIFY;
    }
    if (rc)
        return rc;
    uint64_t total = 0, size;
    for (size_t i = 0; i < m.nshards; i++) {
        const wg_man_shard *sh = &m.shards[i];
        const uint8_t *p = check_hashed(dir, &sh->f, true, problems, err, &size);
        if (!p)
            continue;
        total += size;
        if (sh->has_zst)
            check_zst(dir, sh, p, size, problems, err);
        unmap(p, size);
    }
    for (size_t i = 0; i <= m.nkernels; i++) { /* kernels and the wasm module: as shards */
        if (i == m.nkernels && !m.has_wasm)
            break;
        const uint8_t *p = check_hashed(dir, i < m.nkernels ? &m.kernels[i] : &m.wasm,
                                        i == m.nkernels, problems, err, &size);
        if (p && i < m.nkernels)
            check_declared(dir, &m.kernels[i], p, size,
                           json_object_get(json_array_get(json_object_get(json_object_get(m.root, "kernels"), "files"), i), "bindings"),
                           problems, err);
        unmap(p, size);
    }
    for (size_t i = 0; i < m.ntext; i++) { /* the text side's files: as shards */
        const uint8_t *p = check_hashed(dir, &m.text[i], true, problems, err, &size);
        unmap(p, size);
    }
    *report = json_pack("{s:s, s:i, s:i, s:I, s:i, s:b}", "bundle", dir, "shards", (int)m.nshards,
                        "tensors", (int)m.ntensors, "bytes", (json_int_t)total,
                        "tensor_parts", (int)m.nparts, "ok", *problems == 0);
    wg_manifest_free(&m);
    return *problems ? WG_EVERIFY : 0;
}
