/* formats/model.c — the tensor table: errors, dtype facts, mmapped sources, input detection. */
#define _GNU_SOURCE
#include "model.h"
#include "model_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const wg_progress_sink *_Atomic progress_sink;

void wg_progress_install(const wg_progress_sink *s) { progress_sink = s; }

void wg_progress_stage(const char *stage)
{
    const wg_progress_sink *s = progress_sink;
    if (s)
        s->stage(stage);
}

void wg_progress_done(size_t tensors, uint64_t bytes)
{
    const wg_progress_sink *s = progress_sink;
    if (s)
        s->done(tensors, bytes);
}

int wg_fail(wg_error *e, int code, const char *file, const char *fmt, ...)
{
    if (!e || e->code)
        return code;
    e->code = code;
    size_t n = 0;
    if (file)
        n = (size_t)snprintf(e->msg, sizeof e->msg, "%s: ", file);
    if (n >= sizeof e->msg)
        n = sizeof e->msg - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof e->msg - n, fmt, ap);
    va_end(ap);
    /* one line, always: control characters from file-provided names are replaced */
    for (char *p = e->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return code;
}

static const struct { unsigned bits; const char *name; bool fp; } dtypes[WG_DT_COUNT] = {
    [WG_DT_UNDEFINED] = {0, "undefined", false},
    [WG_DT_F32] = {32, "f32", true},   [WG_DT_U8] = {8, "u8", false},
    [WG_DT_I8] = {8, "i8", false},     [WG_DT_U16] = {16, "u16", false},
    [WG_DT_I16] = {16, "i16", false},  [WG_DT_I32] = {32, "i32", false},
    [WG_DT_I64] = {64, "i64", false},  [WG_DT_STRING] = {0, "string", false},
    [WG_DT_BOOL] = {8, "bool", false}, [WG_DT_F16] = {16, "f16", true},
    [WG_DT_F64] = {64, "f64", true},   [WG_DT_U32] = {32, "u32", false},
    [WG_DT_U64] = {64, "u64", false},  [WG_DT_C64] = {64, "c64", false},
    [WG_DT_C128] = {128, "c128", false}, [WG_DT_BF16] = {16, "bf16", true},
    [WG_DT_F8E4M3FN] = {8, "f8e4m3fn", true}, [WG_DT_F8E4M3FNUZ] = {8, "f8e4m3fnuz", true},
    [WG_DT_F8E5M2] = {8, "f8e5m2", true}, [WG_DT_F8E5M2FNUZ] = {8, "f8e5m2fnuz", true},
    [WG_DT_U4] = {4, "u4", false}, [WG_DT_I4] = {4, "i4", false},
    [WG_DT_F4E2M1] = {4, "f4e2m1", true},
};

unsigned wg_dtype_bits(wg_dtype t) { return (unsigned)t < WG_DT_COUNT ? dtypes[t].bits : 0; }
const char *wg_dtype_name(wg_dtype t)
{
    return (unsigned)t < WG_DT_COUNT && dtypes[t].name ? dtypes[t].name : "unknown";
}
bool wg_dtype_is_float(wg_dtype t) { return (unsigned)t < WG_DT_COUNT && dtypes[t].fp; }

bool wg_dtype_bytes(wg_dtype t, uint64_t numel, uint64_t *out)
{
    unsigned bits = wg_dtype_bits(t);
    uint64_t b;
    if (!bits || __builtin_mul_overflow(numel, (uint64_t)bits, &b))
        return false;
    *out = b / 8 + (b % 8 != 0);
    return true;
}

static const char *role_names[WG_ROLE_COUNT] = {
    "other", "embedding", "pos_embedding", "attn_q", "attn_k", "attn_v", "attn_qkv", "attn_out",
    "ffn_up", "ffn_gate", "ffn_down", "norm", "bias", "conv", "head", "linear",
};
const char *wg_role_name(wg_role r) { return (unsigned)r < WG_ROLE_COUNT ? role_names[r] : "other"; }
int wg_role_parse(const char *s)
{
    for (int i = 0; i < WG_ROLE_COUNT; i++)
        if (!strcmp(s, role_names[i]))
            return i;
    return -1;
}

bool wg_shape_numel(const int64_t *shape, int ndim, uint64_t *numel)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(n, (uint64_t)shape[i], &n))
            return false;
    }
    *numel = n;
    return true;
}

void *wg_model_alloc(wg_model *m, size_t n)
{
    struct wg_owned *o = malloc(sizeof *o + (n ? n : 1));
    if (!o)
        return NULL;
    o->next = m->in->owned;
    m->in->owned = o;
    return o->data;
}

int wg_source_map(wg_model *m, const char *path, wg_error *err)
{
    for (size_t i = 0; i < m->n_sources; i++)
        if (!strcmp(m->sources[i].path, path))
            return (int)i;
    /* O_NONBLOCK so that a FIFO named by a hostile file cannot hang us; we then insist on a
     * regular file before reading anything. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -wg_fail(err, errno == ENOMEM ? WG_EIO : WG_EINPUT, path, "cannot open: %s",
                        strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -wg_fail(err, WG_EINPUT, path, "not a regular file");
    }
    const uint8_t *map = NULL;
    if (st.st_size > 0) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            return -wg_fail(err, WG_EIO, path, "mmap failed: %s", strerror(errno));
        }
    }
    close(fd);
    wg_source *ns = realloc(m->sources, (m->n_sources + 1) * sizeof *ns);
    char *p = strdup(path);
    if (!ns || !p) {
        free(p);
        if (ns)
            m->sources = ns;
        if (map)
            munmap((void *)map, (size_t)st.st_size);
        return -wg_fail(err, WG_EIO, path, "out of memory");
    }
    m->sources = ns;
    m->sources[m->n_sources] = (wg_source){p, map, (uint64_t)st.st_size};
    return (int)m->n_sources++;
}

wg_tensor *wg_model_add(wg_model *m, const char *name, wg_error *err)
{
    if (m->n_tensors == m->cap_tensors) {
        size_t nc = m->cap_tensors ? m->cap_tensors * 2 : 64;
        wg_tensor *nt = realloc(m->tensors, nc * sizeof *nt);
        if (!nt) {
            wg_fail(err, WG_EIO, m->path, "out of memory");
            return NULL;
        }
        m->tensors = nt;
        m->cap_tensors = nc;
    }
    wg_tensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) {
        wg_fail(err, WG_EIO, m->path, "out of memory");
        return NULL;
    }
    t->layer = -1;
    t->source = -1;
    if (m->in && wg_name_index_put(&m->in->index, t->name, m->n_tensors) < 0) {
        free(t->name);
        wg_fail(err, WG_EIO, m->path, "out of memory");
        return NULL;
    }
    m->n_tensors++;
    return t;
}

const wg_tensor *wg_model_find(const wg_model *m, const char *name)
{
    size_t i;
    if (m->in)
        return wg_name_index_get(&m->in->index, name, &i) ? &m->tensors[i] : NULL;
    for (i = 0; i < m->n_tensors; i++) /* a table built by hand (tests) */
        if (!strcmp(m->tensors[i].name, name))
            return &m->tensors[i];
    return NULL;
}

void wg_model_free(wg_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_tensors; i++)
        free(m->tensors[i].name);
    free(m->tensors);
    for (size_t i = 0; i < m->n_sources; i++) {
        if (m->sources[i].map)
            munmap((void *)m->sources[i].map, m->sources[i].size);
        free(m->sources[i].path);
    }
    free(m->sources);
    if (m->in) {
        wg_onnx_release(m);
        for (struct wg_owned *o = m->in->owned, *n; o; o = n) {
            n = o->next;
            free(o);
        }
        wg_name_index_free(&m->in->index);
        free(m->in);
    }
    free(m->path);
    free(m);
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Sort tensors by name for a deterministic table regardless of on-disk order?  No: keep file
 * order (it follows the model's layer order, which users and shard layout expect); readers
 * produce it deterministically. Duplicate names are an input error. */
static int check_duplicates(wg_model *m, wg_error *err)
{
    /* O(n log n): sort a copy of indices by name */
    size_t n = m->n_tensors;
    if (n < 2)
        return 0;
    const char **names = malloc(n * sizeof *names);
    if (!names)
        return wg_fail(err, WG_EIO, m->path, "out of memory");
    for (size_t i = 0; i < n; i++)
        names[i] = m->tensors[i].name;
    qsort(names, n, sizeof *names, wg_strptr_cmp);
    int rc = 0;
    for (size_t i = 1; i < n; i++)
        if (!strcmp(names[i - 1], names[i])) {
            rc = wg_fail(err, WG_EINPUT, m->path, "duplicate tensor name '%s'", names[i]);
            break;
        }
    free(names);
    return rc;
}

int wg_strptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int wg_model_open(const char *path, const wg_open_opts *opts, wg_model **out, wg_error *err)
{
    *out = NULL;
    wg_model *m = calloc(1, sizeof *m);
    if (!m || !(m->in = calloc(1, sizeof *m->in)) || !(m->path = strdup(path))) {
        wg_model_free(m);
        return wg_fail(err, WG_EIO, path, "out of memory");
    }
    m->config.tie_word_embeddings = -1;
    int rc;
    char buf[4096];
    const char *file = path;
    struct stat st;
    if (stat(path, &st) < 0) {
        rc = wg_fail(err, WG_EINPUT, path, "cannot open: %s", strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        /* a model directory: prefer the sharded index, then a single safetensors, then ONNX */
        static const char *cands[] = {"model.safetensors.index.json", "model.safetensors",
                                      "model.onnx", "onnx/model.onnx"};
        file = NULL;
        for (size_t i = 0; i < sizeof cands / sizeof *cands && !file; i++) {
            snprintf(buf, sizeof buf, "%s/%s", path, cands[i]);
            if (file_exists(buf))
                file = buf;
        }
        if (!file) {
            rc = wg_fail(err, WG_EINPUT, path,
                         "directory holds no model.safetensors[.index.json] or model.onnx");
            goto fail;
        }
    }
    if (ends_with(file, ".index.json")) {
        m->kind = WG_IN_SAFETENSORS;
        rc = wg_safetensors_read_index(m, file, err);
    } else if (ends_with(file, ".safetensors")) {
        m->kind = WG_IN_SAFETENSORS;
        rc = wg_safetensors_read(m, file, err);
    } else if (ends_with(file, ".onnx")) {
        m->kind = WG_IN_ONNX;
        rc = wg_onnx_read(m, file, err);
    } else {
        rc = wg_fail(err, WG_EINPUT, file,
                     "unknown model file type (expected .onnx, .safetensors or .index.json)");
    }
    if (rc)
        goto fail;
    if ((rc = check_duplicates(m, err)))
        goto fail;
    {   /* config.json beside the weights, if any (beside model.onnx too: HF exports keep it) */
        char cfg[4096];
        const char *slash = strrchr(file, '/');
        int dl = slash ? (int)(slash - file) : 1;
        snprintf(cfg, sizeof cfg, "%.*s/config.json", dl, slash ? file : ".");
        struct stat cst; /* present but not a regular file: refused by the read, not skipped */
        if (stat(cfg, &cst) == 0 && ((rc = wg_hfconfig_read(&m->config, cfg, err)) ||
                                 (rc = wg_hfconfig_check(&m->config, m, cfg, err))))
            goto fail;
    }
    if ((rc = wg_classify(m, opts ? opts->rules_path : NULL, err)))
        goto fail;
    *out = m;
    return 0;
fail:
    wg_model_free(m);
    return rc ? rc : WG_EINPUT;
}

void wg_model_name(const wg_model *m, char *out, size_t n)
{
    char real[4096];
    const char *src = m->n_sources ? m->sources[0].path : m->path;
    if (!realpath(src, real))
        snprintf(real, sizeof real, "%s", src);
    static const char *defaults[] = {"model.safetensors.index.json", "model.safetensors",
                                     "model.onnx"};
    char *slash = strrchr(real, '/');
    for (size_t i = 0; slash && slash > real && i < sizeof defaults / sizeof *defaults; i++)
        if (!strcmp(slash + 1, defaults[i])) {
            *slash = 0; /* the model is its directory */
            slash = strrchr(real, '/');
            if (i == 2 && slash && slash > real && !strcmp(slash + 1, "onnx")) {
                *slash = 0; /* DIR/onnx/model.onnx */
                slash = strrchr(real, '/');
            }
            break;
        }
    snprintf(out, n, "%s", slash && slash[1] ? slash + 1 : real);
}

/* ------------------------------------------------------------------ atomic output */

/* What rename() may replace: nothing, or a regular file. A device, FIFO, socket or
 * directory would be destroyed (or, as root, /dev/full replaced), and a symbolic link
 * (/dev/stdout, a link into someone else's tree) would be replaced by a file where the user
 * meant its target: both are refused, never written through. */
static int replaceable(const char *path, wg_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : wg_fail(err, WG_EIO, path, "cannot inspect the output: %s",
                                             strerror(errno));
    if (S_ISLNK(st.st_mode))
        return wg_fail(err, WG_EUSAGE, path, "the output is a symbolic link: not replaced "
                       "(give the path of a regular file)");
    if (!S_ISREG(st.st_mode))
        return wg_fail(err, WG_EUSAGE, path, "the output exists and is not a regular file "
                       "(%s): not replaced", S_ISDIR(st.st_mode) ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) ? "a character device"
                       : S_ISBLK(st.st_mode) ? "a block device" : S_ISSOCK(st.st_mode) ? "a socket"
                       : "a special file");
    return 0;
}

int wg_atomic_open(wg_atomic_file *f, const char *path, wg_error *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!strcmp(path, "-"))
        return wg_fail(err, WG_EUSAGE, path, "this output cannot go to stdout: give a file name");
    int rc = replaceable(path, err);
    if (rc)
        return rc;
    if (strlen(path) + 16 >= sizeof f->tmp)
        return wg_fail(err, WG_EUSAGE, path, "output path too long");
    snprintf(f->final, sizeof f->final, "%s", path);
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path + 1) : 0;
    snprintf(f->tmp, sizeof f->tmp, "%.*s.%s.tmp.XXXXXX", dl, path, slash ? slash + 1 : path);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        f->tmp[0] = 0;
        return wg_fail(err, WG_EIO, path, "cannot create output: %s", strerror(errno));
    }
    return 0;
}

int wg_atomic_write(wg_atomic_file *f, const void *data, size_t n, wg_error *err)
{
    const uint8_t *p = data;
    while (n) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            wg_atomic_abort(f);
            return wg_fail(err, WG_EIO, f->final, "write failed: %s", strerror(e));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int wg_atomic_finish(wg_atomic_file *f, wg_error *err)
{
    if (fchmod(f->fd, 0644) || fsync(f->fd) || close(f->fd)) {
        int e = errno;
        f->fd = -1;
        wg_atomic_abort(f);
        return wg_fail(err, WG_EIO, f->final, "cannot finish output: %s", strerror(e));
    }
    f->fd = -1;
    return 0;
}

int wg_atomic_commit(wg_atomic_file *f, wg_error *err)
{
    int rc = wg_atomic_finish(f, err);
    return rc ? rc : wg_atomic_rename(f, err);
}

int wg_atomic_rename(wg_atomic_file *f, wg_error *err)
{
    int rc;
    if ((rc = replaceable(f->final, err))) { /* it may have changed since open */
        wg_atomic_abort(f);
        return rc;
    }
    if (rename(f->tmp, f->final)) {
        int e = errno;
        wg_atomic_abort(f);
        return wg_fail(err, WG_EIO, f->final, "cannot rename output into place: %s", strerror(e));
    }
    f->tmp[0] = 0;
    return 0;
}

void wg_atomic_abort(wg_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp[0])
        unlink(f->tmp);
    f->tmp[0] = 0;
}

void wg_tensor_release_bytes(const wg_model *m, const wg_tensor *t, uint64_t off, uint64_t len)
{
    if (t->source < 0 || !m->sources[t->source].map || off >= t->nbytes)
        return;
    len = len < t->nbytes - off ? len : t->nbytes - off;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), p = (uintptr_t)t->data + off;
    uintptr_t a = (p + page - 1) / page * page, e = (p + len) / page * page;
    if (e > a)
        madvise((void *)a, e - a, MADV_DONTNEED); /* clean file pages: re-read if touched */
}

void wg_tensor_release(const wg_model *m, const wg_tensor *t)
{
    wg_tensor_release_bytes(m, t, 0, t->nbytes);
}

int wg_open_input(const char *path, wg_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        wg_fail(err, WG_EINPUT, path, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        wg_fail(err, WG_EINPUT, path, "not a regular file (%s)", S_ISDIR(st.st_mode) ? "a directory"
                : S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)
                ? "a device" : "a special file");
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

json_t *wg_json_load(const char *path, size_t flags, json_error_t *je)
{
    wg_error e = {0};
    int fd = wg_open_input(path, &e);
    if (fd < 0) {
        memset(je, 0, sizeof *je);
        const char *why = strstr(e.msg, ": ") ? strstr(e.msg, ": ") + 2 : e.msg;
        snprintf(je->text, sizeof je->text, "%s", why);
        snprintf(je->source, sizeof je->source, "%s", path);
        return NULL;
    }
    json_t *j = json_loadfd(fd, flags, je);
    close(fd);
    return j;
}

bool wg_mkdir_p(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    if (*tmp)
        mkdir(tmp, 0755);
    struct stat st;
    return !*tmp || (stat(tmp, &st) == 0 && S_ISDIR(st.st_mode));
}
