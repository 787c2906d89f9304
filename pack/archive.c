/* pack/archive.c — one-file copies of a bundle (tar, tar.zst, zip) through libarchive,
 * deterministic: entries in name order, fixed times, owners and modes. The tree is walked by
 * descriptors (openat with O_NOFOLLOW at every level), so a symlink planted in the bundle, a
 * kernels/ or wasm/ directory link included, is never followed out of it. */
#define _GNU_SOURCE
#include "pack_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The bundle's files, relative names in name order: top level, kernels/, wasm/ and text/ (the only
 * subdirectories a bundle has). Each directory is opened by descriptor from its parent with
 * O_NOFOLLOW, so a symlink anywhere on the way is refused, not followed. */
static int list_files(int root, const char *d, char ***names, size_t *n, wg_error *err)
{
    static const char *subdirs[4] = {"", "kernels", "wasm", "text"};
    size_t cap = 0;
    for (int sdi = 0; sdi < 4; sdi++) {
        int fd = sdi ? openat(root, subdirs[sdi], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                     : dup(root);
        if (fd < 0 && sdi && errno == ENOENT)
            continue;
        DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
        if (!dp) {
            if (fd >= 0)
                close(fd);
            return wg_fail(err, WG_EIO, d, "cannot list %s (a symlink is never followed): %s",
                           sdi ? subdirs[sdi] : ".", strerror(errno));
        }
        struct dirent *e;
        while ((e = readdir(dp))) {
            if (e->d_name[0] == '.' || (sdi == 0 && (!strcmp(e->d_name, "kernels") || !strcmp(e->d_name, "wasm") ||
                                            !strcmp(e->d_name, "text"))))
                continue;
            char rel[512];
            snprintf(rel, sizeof rel, "%s%s%s", subdirs[sdi], sdi ? "/" : "", e->d_name);
            char **nn = *n == cap ? realloc(*names, (cap = cap ? cap * 2 : 64) * sizeof *nn) : *names;
            char *dup_rel = nn ? strdup(rel) : NULL;
            if (nn)
                *names = nn;
            if (!dup_rel) {
                closedir(dp);
                return wg_fail(err, WG_EIO, d, "out of memory");
            }
            (*names)[(*n)++] = dup_rel;
        }
        closedir(dp);
    }
    qsort(*names, *n, sizeof **names, cmp_str);
    return 0;
}

/* one regular file, opened beneath root without following any symlink */
static int open_member(int root, const char *rel, struct stat *st)
{
    const char *slash = strchr(rel, '/');
    int dfd = root;
    if (slash) {
        char sub[64];
        snprintf(sub, sizeof sub, "%.*s", (int)(slash - rel), rel);
        dfd = openat(root, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
            return -1;
    }
    int fd = openat(dfd, slash ? slash + 1 : rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (dfd != root)
        close(dfd);
    if (fd >= 0 && (fstat(fd, st) || !S_ISREG(st->st_mode))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int add_member(struct archive *a, int fd, const struct stat *st, const char *an,
                      const char *out_path, wg_error *err)
{
    const time_t fixed = 315532800; /* 1980-01-01, the earliest a zip can record */
    struct archive_entry *en = archive_entry_new();
    archive_entry_set_pathname(en, an);
    archive_entry_set_size(en, st->st_size);
    archive_entry_set_filetype(en, AE_IFREG);
    archive_entry_set_perm(en, 0644);
    archive_entry_set_mtime(en, fixed, 0);
    archive_entry_set_uid(en, 0);
    archive_entry_set_gid(en, 0);
    archive_entry_set_uname(en, "");
    archive_entry_set_gname(en, "");
    int rc = 0;
    if (archive_write_header(a, en) != ARCHIVE_OK)
        rc = wg_fail(err, WG_EIO, out_path, "archive: %s", archive_error_string(a));
    char buf[1 << 16];
    ssize_t r;
    while (!rc && (r = read(fd, buf, sizeof buf)) > 0)
        if (archive_write_data(a, buf, (size_t)r) != r)
            rc = wg_fail(err, WG_EIO, out_path, "archive: %s", archive_error_string(a));
    archive_entry_free(en);
    return rc;
}

/* the archive of src (entries "<base>/<file>") into an open atomic file, flushed */
static int write_archive(const char *src, const char *base, wg_archive_kind kind,
                         wg_atomic_file *af, const char *out_path, wg_error *err)
{
    int root = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0)
        return wg_fail(err, WG_EIO, src, "cannot open the bundle: %s", strerror(errno));
    char **names = NULL;
    size_t n = 0;
    int rc = list_files(root, src, &names, &n, err);
    struct archive *a = rc ? NULL : archive_write_new();
    if (a) {
        if (kind == WG_ARCHIVE_ZIP) {
            archive_write_set_format_zip(a);
            archive_write_set_options(a, "zip:compression=store"); /* shards do not deflate */
        } else {
            archive_write_set_format_pax_restricted(a);
            if (kind == WG_ARCHIVE_TAR_ZST)
                archive_write_add_filter_zstd(a);
        }
        if (archive_write_open_fd(a, af->fd) != ARCHIVE_OK)
            rc = wg_fail(err, WG_EIO, out_path, "archive: %s", archive_error_string(a));
    }
    for (size_t i = 0; !rc && i < n; i++) {
        char an[4200];
        snprintf(an, sizeof an, "%s/%s", base, names[i]);
        struct stat st;
        int fd = open_member(root, names[i], &st);
        if (fd < 0) {
            rc = wg_fail(err, WG_EIO, names[i], "not a regular file inside the bundle (refusing "
                         "to follow it)");
            break;
        }
        rc = add_member(a, fd, &st, an, out_path, err);
        close(fd);
    }
    if (a) {
        if (archive_write_close(a) != ARCHIVE_OK && !rc)
            rc = wg_fail(err, WG_EIO, out_path, "archive: %s", archive_error_string(a));
        archive_write_free(a);
    }
    if (!rc && fsync(af->fd))
        rc = wg_fail(err, WG_EIO, out_path, "cannot flush: %s", strerror(errno));
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    close(root);
    return rc;
}

static const char *ext[] = {"", ".tar", ".tar.zst", ".zip"};

int wg_bundle_archive_stage(const wg_bundle_stage *st, wg_archive_kind kind, wg_atomic_file *af,
                            char *out_path, size_t out_n, wg_error *err)
{
    snprintf(out_path, out_n, "%s%s", st->out_dir, ext[kind]);
    const char *base = strrchr(st->out_dir, '/') ? strrchr(st->out_dir, '/') + 1 : st->out_dir;
    int rc = wg_atomic_open(af, out_path, err);
    if (!rc && (rc = write_archive(st->tmp, base, kind, af, out_path, err)))
        wg_atomic_abort(af);
    return rc;
}

int wg_bundle_archive(const char *dir, wg_archive_kind kind, char *out_path, size_t out_n,
                      wg_error *err)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", dir);
    size_t dl = strlen(d);
    while (dl > 1 && d[dl - 1] == '/')
        d[--dl] = 0;
    snprintf(out_path, out_n, "%s%s", d, ext[kind]);
    const char *base = strrchr(d, '/') ? strrchr(d, '/') + 1 : d;
    wg_atomic_file af;
    int rc = wg_atomic_open(&af, out_path, err);
    if (rc)
        return rc;
    if ((rc = write_archive(d, base, kind, &af, out_path, err))) {
        wg_atomic_abort(&af);
        return rc;
    }
    return wg_atomic_commit(&af, err);
}
