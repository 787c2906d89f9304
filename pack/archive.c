/* pack/archive.c — one-file copies of a bundle (tar, tar.zst, zip) through libarchive,
 * deterministic: entries in name order, fixed times, owners and modes; files are opened with
 * O_NOFOLLOW, so a symlink planted in the bundle is never followed out of it. */
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

int wg_bundle_archive(const char *dir, wg_archive_kind kind, char *out_path, size_t out_n,
                      wg_error *err)
{
    static const char *ext[] = {"", ".tar", ".tar.zst", ".zip"};
    char d[4096];
    snprintf(d, sizeof d, "%s", dir);
    size_t dl = strlen(d);
    while (dl > 1 && d[dl - 1] == '/')
        d[--dl] = 0;
    snprintf(out_path, out_n, "%s%s", d, ext[kind]);
    const char *base = strrchr(d, '/') ? strrchr(d, '/') + 1 : d;
    char **names = NULL;
    size_t n = 0, cap = 0;
    /* the bundle's files: top level, kernels/ and wasm/ (the only subdirectories a bundle has) */
    static const char *subdirs[3] = {"", "kernels/", "wasm/"};
    for (int sdi = 0; sdi < 3; sdi++) {
        char sd[4200];
        snprintf(sd, sizeof sd, "%s/%s", d, subdirs[sdi]);
        DIR *dp = opendir(sd);
        if (!dp) {
            if (sdi == 0)
                return wg_fail(err, WG_EIO, d, "cannot list: %s", strerror(errno));
            continue;
        }
        struct dirent *e;
        while ((e = readdir(dp))) {
            if (e->d_name[0] == '.' || (sdi == 0 && (!strcmp(e->d_name, "kernels") || !strcmp(e->d_name, "wasm"))))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                char **nn = realloc(names, cap * sizeof *nn);
                if (!nn)
                    break;
                names = nn;
            }
            char rel[512];
            snprintf(rel, sizeof rel, "%s%s", subdirs[sdi], e->d_name);
            names[n++] = strdup(rel);
        }
        closedir(dp);
    }
    qsort(names, n, sizeof *names, cmp_str);
    wg_atomic_file af;
    int rc = wg_atomic_open(&af, out_path, err);
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
        if (archive_write_open_fd(a, af.fd) != ARCHIVE_OK)
            rc = wg_fail(err, WG_EIO, out_path, "archive: %s", archive_error_string(a));
    }
    /* a fixed time: 1980-01-01, the earliest a zip can record */
    const time_t fixed = 315532800;
    for (size_t i = 0; !rc && i < n; i++) {
        char p[4096], an[4096];
        snprintf(p, sizeof p, "%s/%s", d, names[i]);
        snprintf(an, sizeof an, "%s/%s", base, names[i]);
        int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
            if (fd >= 0)
                close(fd);
            rc = wg_fail(err, WG_EIO, p, "not a regular file inside the bundle (refusing to "
                         "follow it)");
            break;
        }
        struct archive_entry *en = archive_entry_new();
        archive_entry_set_pathname(en, an);
        archive_entry_set_size(en, st.st_size);
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, 0644);
        archive_entry_set_mtime(en, fixed, 0);
        archive_entry_set_uid(en, 0);
        archive_entry_set_gid(en, 0);
        archive_entry_set_uname(en, "");
        archive_entry_set_gname(en, "");
        if (archive_write_header(a, en) != ARCHIVE_OK)
            rc = wg_fail(err, WG_EIO, out_path, "archive: %s", archive_error_string(a));
        char buf[1 << 16];
        ssize_t r;
        while (!rc && (r = read(fd, buf, sizeof buf)) > 0)
            if (archive_write_data(a, buf, (size_t)r) != r)
                rc = wg_fail(err, WG_EIO, out_path, "archive: %s", archive_error_string(a));
        archive_entry_free(en);
        close(fd);
    }
    if (a) {
        if (archive_write_close(a) != ARCHIVE_OK && !rc)
            rc = wg_fail(err, WG_EIO, out_path, "archive: %s", archive_error_string(a));
        archive_write_free(a);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc) {
        wg_atomic_abort(&af);
        return rc;
    }
    return wg_atomic_commit(&af, err);
}
