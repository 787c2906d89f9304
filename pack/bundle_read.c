/* pack/bundle_read.c — a bundle's tensors back as f32 (contract in pack.h): the stored planes
 * of a part, read from its shard exactly as a loader binds them, dequantized by the scalar
 * reference dequantizer. One reader for kernel-ref and `wgpack run`'s C reference. The
 * manifest was checked by wg_manifest_read(), so every offset and size below fits its shard;
 * every shard is checked against its xxh3 on the very bytes read. */
#define _GNU_SOURCE
#include "pack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* n bytes at off of fd into buf */
static bool pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0; /* the file ended early */
            return false;
        }
        got += (size_t)r;
    }
    return true;
}

/* the part's shard: a regular file (not through a symlink) of the manifest's size */
static int open_shard(const char *dir, const wg_man_shard *sh, char *path, size_t pn,
                      wg_error *err)
{
    snprintf(path, pn, "%s/%s", dir, sh->f.file);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != sh->f.bytes) {
        wg_fail(err, WG_EINPUT, path, "%s", fd < 0 ? strerror(errno)
                                                   : "not a regular file of the size the manifest gives");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The planes of part p out of the whole shard, read once in steps and hashed on the way, so
 * the bytes dequantized are the bytes whose xxh3 matched the manifest (a flipped byte
 * anywhere in the shard, or a shard changed under us, is refused, never computed with). */
static int read_verified(int fd, const char *path, const wg_man_shard *sh, const wg_man_part *p,
                         uint8_t *planes, const uint64_t *dst, wg_error *err)
{
    enum { STEP = 1 << 20 };
    uint8_t *buf = malloc(STEP);
    XXH3_state_t *hs = XXH3_createState();
    int rc = buf && hs ? 0 : wg_fail(err, WG_EIO, path, "out of memory");
    if (!rc)
        XXH3_64bits_reset(hs);
    for (uint64_t at = 0; !rc && at < sh->f.bytes; at += STEP) {
        size_t n = sh->f.bytes - at < STEP ? (size_t)(sh->f.bytes - at) : STEP;
        if (!pread_all(fd, buf, n, at)) {
            rc = wg_fail(err, WG_EIO, path, "cannot read: %s", errno ? strerror(errno) : "short read");
            break;
        }
        XXH3_64bits_update(hs, buf, n);
        for (int q = 0; q < 3; q++) { /* the part of plane q inside [at, at + n) */
            uint64_t a = p->off[q] > at ? p->off[q] : at;
            uint64_t b = p->off[q] + p->bytes[q] < at + n ? p->off[q] + p->bytes[q] : at + n;
            if (p->bytes[q] && a < b)
                memcpy(planes + dst[q] + (a - p->off[q]), buf + (a - at), (size_t)(b - a));
        }
    }
    if (!rc) {
        char hx[20];
        snprintf(hx, sizeof hx, "%016llx", (unsigned long long)XXH3_64bits_digest(hs));
        if (strcmp(hx, sh->f.xxh3))
            rc = wg_fail(err, WG_EINPUT, path, "the shard's xxh3 is %s, the manifest says %s: the "
                         "shard is damaged or was changed (wgpack verify-bundle)", hx, sh->f.xxh3);
    }
    XXH3_freeState(hs);
    free(buf);
    return rc;
}

/* part p of t into out[p->rows][t->K] */
static int part_into(const char *dir, const wg_manifest *m, const wg_man_tensor *t,
                     const wg_man_part *p, float *out, wg_error *err)
{
    char path[4200];
    if (t->raw)
        return wg_fail(err, WG_EINPUT, m->path, "tensor '%s' is raw bytes, not numbers", t->name);
    int fd = open_shard(dir, &m->shards[p->shard], path, sizeof path, err);
    if (fd < 0)
        return err->code;
    wg_qlayout l = {0};
    if (t->fmt.kind == WG_Q_INT)
        wg_qformat_layout(&t->fmt, p->rows, t->K, &l);
    else
        l.data_bytes = p->bytes[0];
    /* the planes one after another, as wg_dequantize_rows reads them */
    uint8_t *planes = malloc(l.data_bytes + l.scale_bytes + l.zero_bytes + 1);
    uint64_t dst[3] = {0, l.data_bytes, l.data_bytes + l.scale_bytes};
    int rc = planes ? 0 : wg_fail(err, WG_EIO, path, "out of memory for tensor '%s'", t->name);
    if (!rc)
        rc = read_verified(fd, path, &m->shards[p->shard], p, planes, dst, err);
    close(fd);
    if (!rc && t->fmt.kind == WG_Q_INT)
        wg_dequantize_rows(&t->fmt, &l, planes, 0, p->rows, true, out);
    else if (!rc) {
        wg_plan_entry e = {.fmt = t->fmt, .rows = p->rows, .K = t->K};
        wg_dequantize_tensor(&e, planes, out);
    }
    free(planes);
    return rc;
}

/* rows x K floats, or NULL (err set) past 2^32 values or out of memory */
static float *alloc_rows(const wg_manifest *m, const wg_man_tensor *t, int64_t rows, wg_error *err)
{
    size_t cnt;
    float *w = NULL;
    if (__builtin_mul_overflow((size_t)rows, (size_t)t->K, &cnt) || cnt > ((size_t)1 << 32) ||
        !(w = malloc(sizeof(float) * (cnt ? cnt : 1))))
        wg_fail(err, WG_EIO, m->path, "tensor '%s': too large to dequantize here", t->name);
    return w;
}

float *wg_bundle_part_f32(const char *dir, const wg_manifest *m, const wg_man_tensor *t,
                          const wg_man_part *p, wg_error *err)
{
    float *w = alloc_rows(m, t, p->rows, err);
    if (w && part_into(dir, m, t, p, w, err)) {
        free(w);
        w = NULL;
    }
    return w;
}

float *wg_bundle_tensor_f32(const char *dir, const wg_manifest *m, const wg_man_tensor *t,
                            wg_error *err)
{
    float *w = alloc_rows(m, t, t->raw ? 0 : t->rows, err);
    for (size_t i = 0; w && i < t->nparts; i++) {
        const wg_man_part *p = &m->parts[t->part0 + i];
        if (part_into(dir, m, t, p, w + (size_t)p->row0 * (size_t)t->K, err)) {
            free(w);
            w = NULL;
        }
    }
    return w;
}
