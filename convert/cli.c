/* convert/cli.c — helpers every subcommand shares: error and usage lines, sizes and counts,
 * the one strict integer parser, token files. */
#include "cli.h"
#include "progress.h"

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_report(const wg_error *err)
{
    wg_bar_end(); /* the error on a line of its own */
    fprintf(stderr, "wgpack: %s\n", err->msg[0] ? err->msg : "unknown error");
    return err->code ? err->code : WG_EIO;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wgpack %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'wgpack %s --help')\n", cmd);
    va_end(ap);
    return WG_EUSAGE;
}

const char *cli_bytes(unsigned long long b, char *buf, size_t n)
{
    if (b < 1000)
        snprintf(buf, n, "%llu B", b);
    else if (b < 1000000)
        snprintf(buf, n, "%.1f kB", b / 1e3);
    else if (b < 1000000000)
        snprintf(buf, n, "%.2f MB", b / 1e6);
    else
        snprintf(buf, n, "%.2f GB", b / 1e9);
    return buf;
}

const char *cli_count(unsigned long long v, char *buf, size_t n)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%llu", v), o = 0;
    for (int i = 0; i < len && (size_t)o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}


bool cli_parse_u64(const char *s, size_t len, uint64_t hi, uint64_t *out)
{
    uint64_t v = 0;
    if (!len)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (hi - d) / 10)
            return false; /* past hi (and so never wraps) */
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int cli_int(const char *cmd, const char *opt, const char *arg, long long lo, long long hi,
            int *out)
{
    uint64_t v;
    bool neg = arg[0] == '-' && lo < 0;
    if (!cli_parse_u64(arg + neg, strlen(arg + neg), neg ? (uint64_t)-lo : (uint64_t)hi, &v) ||
        (neg ? -(long long)v : (long long)v) < lo)
        return cli_usage(cmd, "%s must be an integer in %lld..%lld, not '%s'", opt, lo, hi, arg);
    *out = (int)(neg ? -(long long)v : (long long)v);
    return 0;
}

int cli_u64(const char *cmd, const char *opt, const char *arg, uint64_t *out)
{
    if (!cli_parse_u64(arg, strlen(arg), UINT64_MAX, out))
        return cli_usage(cmd, "%s must be a non-negative decimal integer, not '%s'", opt, arg);
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *arg, double lo, double hi,
               double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || *end || errno || !(v >= lo && v <= hi))
        return cli_usage(cmd, "%s must be a number in %g..%g, not '%s'", opt, lo, hi, arg);
    *out = v;
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* the file's bytes (a regular file, mapped; NULL with *size 0 when empty) */
static int map_regular(const char *path, const uint8_t **map, size_t *size, wg_error *err)
{
    *map = NULL;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return wg_fail(err, WG_EINPUT, path, "cannot open token file: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return wg_fail(err, WG_EINPUT, path, "the token file is not a regular file (%s)",
                       S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a special file");
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return wg_fail(err, WG_EIO, path, "cannot map token file: %s", strerror(errno));
        }
        *map = p;
        *size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

int cli_read_tokens(const char *path, bool bytes, int max, int32_t **out, int *n, int vocab,
                    wg_error *err)
{
    const uint8_t *d;
    size_t size, len = strlen(path);
    int rc = map_regular(path, &d, &size, err);
    if (rc)
        return rc;
    int w = bytes ? 1 : len > 4 && !strcmp(path + len - 4, ".i64") ? 8
            : len > 4 && !strcmp(path + len - 4, ".i32") ? 4 : 0;
    if (w > 1 && size % (size_t)w) {
        rc = wg_fail(err, WG_EINPUT, path, "%zu bytes is not a whole number of %d-byte tokens",
                     size, w);
        goto done;
    }
    size_t cap = w ? size / (size_t)w : size / 2 + 1; /* text: at most one token per 2 bytes */
    cap = cap < (size_t)max ? cap : (size_t)(max > 0 ? max : 0);
    int32_t *t = malloc(sizeof(int32_t) * (cap ? cap : 1));
    int k = 0;
    if (!t) {
        rc = wg_fail(err, WG_EIO, path, "out of memory");
        goto done;
    }
    if (w) {
        for (; (size_t)k < cap; k++) {
            int64_t v = 0;
            for (int i = w - 1; i >= 0; i--)
                v = (int64_t)((uint64_t)v << 8 | d[(size_t)k * (size_t)w + (size_t)i]);
            if (w == 4)
                v = (int32_t)v;
            if (v < 0 || v >= vocab) {
                rc = wg_fail(err, WG_EINPUT, path, "%s %d is %lld, outside the vocabulary (%d)",
                             w == 1 ? "byte" : "token", k, (long long)v, vocab);
                break;
            }
            t[k] = (int32_t)v;
        }
    } else {
        /* every token of the file is checked, the first `max` kept */
        int idx = 0;
        for (size_t i = 0; !rc && i < size; idx++) {
            while (i < size && is_space((char)d[i]))
                i++;
            if (i == size)
                break;
            size_t b = i;
            while (i < size && !is_space((char)d[i]))
                i++;
            uint64_t v;
            if (!cli_parse_u64((const char *)d + b, i - b, UINT64_MAX, &v))
                rc = wg_fail(err, WG_EINPUT, path, "token %d ('%.*s') is not a decimal integer",
                             idx, (int)(i - b < 40 ? i - b : 40), (const char *)d + b);
            else if ((size_t)k < cap && v >= (uint64_t)vocab)
                rc = wg_fail(err, WG_EINPUT, path, "token %d is %llu, outside the vocabulary (%d)",
                             idx, (unsigned long long)v, vocab);
            else if ((size_t)k < cap)
                t[k++] = (int32_t)v;
        }
    }
    if (!rc && k < 2)
        rc = wg_fail(err, WG_EINPUT, path, "needs at least 2 tokens");
    if (rc)
        free(t);
    else {
        *out = t;
        *n = k;
    }
done:
    if (d)
        munmap((void *)d, size);
    return rc;
}

int cli_write_json(const char *path, const void *json, size_t flags, wg_error *err)
{
    char *txt = json_dumps(json, flags);
    wg_atomic_file f;
    int rc = txt ? wg_atomic_open(&f, path, err) : wg_fail(err, WG_EIO, path, "out of memory");
    if (!rc && !(rc = wg_atomic_write(&f, txt, strlen(txt), err)) && !(rc = wg_atomic_write(&f, "\n", 1, err)))
        rc = wg_atomic_commit(&f, err);
    free(txt);
    return rc;
}
