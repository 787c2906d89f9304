/* convert/cli.c — helpers every subcommand shares: error and usage lines, sizes and counts. */
#include "cli.h"
#include "progress.h"

#include <stdarg.h>
#include <string.h>

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

