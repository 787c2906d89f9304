/* pack/verify.c — re-read a bundle and check it against its manifest: every shard present with
 * the recorded size, xxh3 and SHA-256; every tensor part inside its shard; transport copies
 * decompressing to the shard's bytes. */
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

/* Map dir/file and check it against a manifest entry's "xxh3" and "integrity" and that its
 * name carries the content hash. Returns the mapping (caller unmaps) or NULL if unreadable. */
static const uint8_t *check_hashed(const char *dir, const char *file, json_t *entry, int *problems,
                                   wg_error *err, uint64_t *size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    const uint8_t *p = map_file(path, size);
    if (!p) {
        problem(problems, err, path, "missing or unreadable");
        return NULL;
    }
    char hx[20], sri[64];
    snprintf(hx, sizeof hx, "%016llx", (unsigned long long)XXH3_64bits(p, *size));
    const char *wx = json_string_value(json_object_get(entry, "xxh3"));
    if (!wx || strcmp(hx, wx))
        problem(problems, err, path, "xxh3 %s does not match the manifest", hx);
    wg_sri_sha256(p, *size, sri);
    const char *ws = json_string_value(json_object_get(entry, "integrity"));
    if (!ws || strcmp(sri, ws))
        problem(problems, err, path, "SHA-256 %s does not match the manifest", sri);
    if (!strstr(file, hx))
        problem(problems, err, path, "file name does not carry its content hash %s", hx);
    return p;
}

int wg_bundle_verify(const char *dir, int *problems, json_t **report, wg_error *err)
{
    *problems = 0;
    *report = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_error_t je;
    json_t *man = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!man)
        return wg_fail(err, WG_EINPUT, path, "cannot read manifest: %s", je.text);
    json_t *shards = json_object_get(man, "shards"), *tensors = json_object_get(man, "tensors");
    if (!json_is_integer(json_object_get(man, "format_version")) || !json_is_array(shards) ||
        !json_is_array(tensors)) {
        json_decref(man);
        return wg_fail(err, WG_EINPUT, path, "not a wgpack manifest");
    }
    size_t ns = json_array_size(shards);
    uint64_t *sizes = calloc(ns + 1, sizeof *sizes), total = 0;
    size_t i;
    json_t *s;
    json_array_foreach(shards, i, s) {
        const char *file = json_string_value(json_object_get(s, "file"));
        if (!file || strchr(file, '/') || !strcmp(file, "..")) {
            problem(problems, err, path, "shard %s has no plain file name", file ? file : "?");
            continue;
        }
        uint64_t size;
        const uint8_t *p = check_hashed(dir, file, s, problems, err, &size);
        if (!p)
            continue;
        sizes[i] = size;
        total += size;
        uint64_t want = (uint64_t)json_integer_value(json_object_get(s, "bytes"));
        if (size != want) {
            snprintf(path, sizeof path, "%s/%s", dir, file);
            problem(problems, err, path, "size %llu, manifest says %llu", (unsigned long long)size,
                    (unsigned long long)want);
        }
        json_t *z = json_object_get(s, "zst");
        if (z) {
            char zp[4096];
            snprintf(zp, sizeof zp, "%s/%s", dir, json_string_value(json_object_get(z, "file")));
            uint64_t zs;
            const uint8_t *zd = map_file(zp, &zs);
            void *out = malloc(size ? size : 1);
            if (!zd)
                problem(problems, err, zp, "missing transport copy");
            else {
                size_t got = ZSTD_decompress(out, size, zd, zs);
                if (ZSTD_isError(got) || got != size || memcmp(out, p, size))
                    problem(problems, err, zp, "does not decompress to its shard");
                if (zs)
                    munmap((void *)zd, zs);
            }
            free(out);
        }
        if (size)
            munmap((void *)p, size);
    }
    /* kernels: present, content hash in the name, SRI integrity */
    json_t *kf;
    json_array_foreach(json_object_get(json_object_get(man, "kernels"), "files"), i, kf) {
        const char *file = json_string_value(json_object_get(kf, "file"));
        if (!file || strncmp(file, "kernels/", 8) || strchr(file + 8, '/') || strstr(file, "..")) {
            problem(problems, err, dir, "kernel entry %s is not a file under kernels/", file ? file : "?");
            continue;
        }
        uint64_t size;
        const uint8_t *p = check_hashed(dir, file, kf, problems, err, &size);
        if (!p)
            continue;
        if (size)
            munmap((void *)p, size);
    }
    json_t *t;
    size_t nparts = 0;
    json_array_foreach(tensors, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        json_t *parts = json_object_get(t, "parts"), *pt;
        size_t k;
        if (!json_array_size(parts))
            problem(problems, err, dir, "tensor %s has no parts", name ? name : "?");
        json_array_foreach(parts, k, pt) {
            json_int_t si = json_integer_value(json_object_get(pt, "shard"));
            nparts++;
            if (si < 0 || (size_t)si >= ns) {
                problem(problems, err, dir, "tensor %s points at shard %lld of %zu", name ? name : "?",
                        (long long)si, ns);
                continue;
            }
            static const char *planes[3] = {"data", "scales", "zeros"};
            for (int q = 0; q < 3; q++) {
                json_t *pl = json_object_get(pt, planes[q]);
                if (!pl)
                    continue;
                uint64_t off = (uint64_t)json_integer_value(json_object_get(pl, "offset")),
                         b = (uint64_t)json_integer_value(json_object_get(pl, "bytes"));
                if (off % WG_ALIGN || off + b < off || off + b > sizes[si])
                    problem(problems, err, dir, "tensor %s: a plane at %llu+%llu lies outside its "
                            "shard or is not 256-byte aligned", name ? name : "?",
                            (unsigned long long)off, (unsigned long long)b);
            }
        }
    }
    *report = json_pack("{s:s, s:i, s:i, s:I, s:i, s:b}", "bundle", dir, "shards", (int)ns,
                        "tensors", (int)json_array_size(tensors), "bytes", (json_int_t)total,
                        "tensor_parts", (int)nparts, "ok", *problems == 0);
    free(sizes);
    json_decref(man);
    return *problems ? WG_EVERIFY : 0;
}
