/* pack/onnx_files.c — an .onnx file and its external data file, replaced together.
 *
 * Two names cannot change in one rename, and the old .onnx reads its data by the same name the
 * new one will use ("X.onnx_data"). So the new pair passes through a state that names the data
 * by its temporary (unique) name:
 *   1. data written to .X.onnx_data.tmp.NNNN, the model naming that file to .X.onnx.tmp.MMMM
 *   2. rename model -> X.onnx               X.onnx is new, reading the temporary data name
 *   3. link data, rename link -> X.onnx_data    (nobody reads X.onnx_data at this point)
 *   4. the model naming X.onnx_data, rename -> X.onnx
 *   5. unlink the temporary data name and the backups
 * At every moment X.onnx is the old model with its old data or the new one with its new data,
 * so a kill anywhere leaves a loadable pair (plus, at worst, a stray temporary file). Before
 * step 2 the old X.onnx and X.onnx_data are hard-linked to backup names; if step 2, 3 or 4
 * fails, they are renamed back, so a failed export leaves the old pair as it was. */
#define _GNU_SOURCE
#include "onnx_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int wg_onnx_pair_open(wg_onnx_pair *p, const char *onnx_path, wg_error *err)
{
    memset(p, 0, sizeof *p);
    p->first.fd = p->second.fd = -1;
    p->onnx_path = onnx_path;
    if ((size_t)snprintf(p->data_path, sizeof p->data_path, "%s_data", onnx_path) >=
        sizeof p->data_path)
        return wg_fail(err, WG_EUSAGE, onnx_path, "output path too long");
    const char *b = strrchr(p->data_path, '/');
    snprintf(p->data_name, sizeof p->data_name, "%s", b ? b + 1 : p->data_path);
    int rc = wg_atomic_open(&p->data, p->data_path, err);
    if (rc)
        return rc;
    b = strrchr(p->data.tmp, '/');
    snprintf(p->tmp_name, sizeof p->tmp_name, "%s", b ? b + 1 : p->data.tmp);
    p->open = true;
    return 0;
}

void wg_onnx_pair_abort(wg_onnx_pair *p)
{
    if (p->open) {
        wg_atomic_abort(&p->data);
        wg_atomic_abort(&p->first);
        wg_atomic_abort(&p->second);
    }
    p->open = false;
}

/* A new hard link to `path` under a fresh hidden name beside it (empty if path is absent). */
static int backup(const char *path, char *out, size_t n, wg_error *err)
{
    struct stat st;
    out[0] = 0;
    if (lstat(path, &st) != 0)
        return 0;
    const char *b = strrchr(path, '/');
    int dl = b ? (int)(b - path + 1) : 0;
    snprintf(out, n, "%.*s.%s.bak.XXXXXX", dl, path, b ? b + 1 : path);
    int fd = mkstemp(out);
    if (fd < 0 || close(fd) || unlink(out) || link(path, out)) {
        int e = errno;
        out[0] = 0;
        return wg_fail(err, WG_EIO, path, "cannot keep a backup link: %s", strerror(e));
    }
    return 0;
}

/* Put the backup back at path (or remove path when there was nothing before). False if that
 * failed: then nothing more may be removed, the backup is the only copy. */
static bool restore(const char *path, const char *bak)
{
    return *bak ? rename(bak, path) == 0 : unlink(path) == 0 || errno == ENOENT;
}

/* Write the model through pack() into a fresh temporary beside onnx_path, synced. */
static int write_model(const wg_onnx_pair *p, int (*pack)(void *, wg_atomic_file *, wg_error *),
                       void *ctx, wg_atomic_file *f, wg_error *err)
{
    int rc = wg_atomic_open(f, p->onnx_path, err);
    if (rc)
        return rc;
    if ((rc = pack(ctx, f, err))) {
        wg_atomic_abort(f);
        return rc;
    }
    return wg_atomic_finish(f, err);
}

static int fail_rename(const char *what, const char *to, wg_error *err)
{
    return wg_fail(err, WG_EIO, to, "cannot rename %s into place: %s", what, strerror(errno));
}

int wg_onnx_pair_stage(wg_onnx_pair *p, int (*pack)(void *ctx, wg_atomic_file *f, wg_error *err),
                       void *ctx, char *location, size_t location_n, wg_error *err)
{
    p->first = p->second = (wg_atomic_file){.fd = -1};
    int rc = wg_atomic_finish(&p->data, err);
    p->open = rc == 0;
    if (!rc && !(rc = write_model(p, pack, ctx, &p->first, err))) {
        snprintf(location, location_n, "%s", p->data_name); /* the model of step 4 */
        rc = write_model(p, pack, ctx, &p->second, err);
    }
    if (rc)
        wg_onnx_pair_abort(p);
    return rc;
}

int wg_onnx_pair_swap(wg_onnx_pair *p, wg_error *err)
{
    char bak_onnx[4200] = "", bak_data[4200] = "", link_tmp[4200] = "";
    int rc;
    if ((rc = backup(p->onnx_path, bak_onnx, sizeof bak_onnx, err)) ||
        (rc = backup(p->data_path, bak_data, sizeof bak_data, err)))
        goto undo_files;
    if (rename(p->first.tmp, p->onnx_path)) { /* 2: the new model, on the temporary data name */
        rc = fail_rename("the model", p->onnx_path, err);
        goto undo_files;
    }
    p->first.tmp[0] = 0;
    snprintf(link_tmp, sizeof link_tmp, "%s.l", p->data.tmp);
    if (link(p->data.tmp, link_tmp) || rename(link_tmp, p->data_path)) { /* 3 */
        rc = fail_rename("the data file", p->data_path, err);
        unlink(link_tmp);
        if (!restore(p->onnx_path, bak_onnx))
            goto keep_all;
        goto undo_files;
    }
    if (rename(p->second.tmp, p->onnx_path)) { /* 4 */
        rc = fail_rename("the model", p->onnx_path, err);
        if (!restore(p->data_path, bak_data) || !restore(p->onnx_path, bak_onnx))
            goto keep_all; /* the old pair back */
        goto undo_files;
    }
    p->second.tmp[0] = 0;
    if (bak_onnx[0])
        unlink(bak_onnx);
    if (bak_data[0])
        unlink(bak_data);
    unlink(p->data.tmp); /* 5 */
    p->data.tmp[0] = 0;
    p->open = false;
    return 0;
undo_files:
    if (bak_onnx[0] && access(bak_onnx, F_OK) == 0)
        unlink(bak_onnx);
    if (bak_data[0] && access(bak_data, F_OK) == 0)
        unlink(bak_data);
    wg_onnx_pair_abort(p);
    return rc;
keep_all: /* a restore failed too: leave every file; say where the old ones are */
    p->open = false;
    size_t l = strlen(err->msg);
    snprintf(err->msg + l, sizeof err->msg - l, "; the previous model is kept as %s, its data "
             "as %s", *bak_onnx ? bak_onnx : "(none)", *bak_data ? bak_data : "(none)");
    return rc ? rc : WG_EIO;
}

int wg_onnx_pair_commit(wg_onnx_pair *p, int (*pack)(void *ctx, wg_atomic_file *f, wg_error *err),
                        void *ctx, char *location, size_t location_n, wg_error *err)
{
    int rc = wg_onnx_pair_stage(p, pack, ctx, location, location_n, err);
    return rc ? rc : wg_onnx_pair_swap(p, err);
}

/* ---------------------------------------------------------------- whole directories */

int wg_dir_stage(const char *dir, char *tmp, size_t n, wg_error *err)
{
    size_t l = strlen(dir);
    while (l > 1 && dir[l - 1] == '/')
        l--;
    const char *b = memrchr(dir, '/', l);
    int dl = b ? (int)(b - dir + 1) : 0;
    if ((size_t)snprintf(tmp, n, "%.*s.%.*s.tmp.XXXXXX", dl, dir, (int)(l - (size_t)dl), dir + dl) >= n)
        return wg_fail(err, WG_EUSAGE, dir, "output path too long");
    if (!mkdtemp(tmp))
        return wg_fail(err, WG_EIO, dir, "cannot create a directory beside it: %s", strerror(errno));
    return 0;
}

int wg_dir_commit(const char *tmp, const char *dir, bool force, const char *must_have,
                  wg_error *err)
{
    struct stat st;
    chmod(tmp, 0755); /* mkdtemp made it private */
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT && rename(tmp, dir) == 0)
            return 0;
        return wg_fail(err, WG_EIO, dir, "cannot rename into place: %s", strerror(errno));
    }
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/%s", dir, must_have);
    bool ours = access(probe, F_OK) == 0, empty = true;
    if (!S_ISDIR(st.st_mode))
        return wg_fail(err, WG_EUSAGE, dir, "exists and is not a directory");
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        empty &= !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    if (!ours && !empty && !force)
        return wg_fail(err, WG_EUSAGE, dir, "exists and does not hold %s: not replaced "
                       "(--force replaces it)", must_have);
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE))
        return wg_fail(err, WG_EIO, dir, "cannot swap into place: %s", strerror(errno));
    wg_rm_rf(tmp); /* the previous contents */
    return 0;
}

int wg_link_or_copy(const char *from, const char *to, wg_error *err)
{
    if (link(from, to) == 0)
        return 0;
    FILE *in = fopen(from, "rb");
    wg_atomic_file f;
    int rc = in ? wg_atomic_open(&f, to, err)
                : wg_fail(err, WG_EINPUT, from, "cannot read: %s", strerror(errno));
    char buf[1 << 16];
    size_t k;
    while (!rc && in && (k = fread(buf, 1, sizeof buf, in)) > 0)
        rc = wg_atomic_write(&f, buf, k, err);
    if (!rc && in && ferror(in))
        rc = wg_fail(err, WG_EIO, from, "read failed");
    if (in)
        fclose(in);
    if (!rc && in)
        rc = wg_atomic_commit(&f, err);
    else if (in)
        wg_atomic_abort(&f);
    return rc;
}
