/* convert/main.c — wgpack entry point: dispatch to one subcommand. */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"build", cmd_build, "read, quantize and write a browser bundle (the main job)"},
    {"verify-bundle", cmd_verify_bundle, "re-read a bundle and check it against its manifest"},
    {"kernel-ref", cmd_kernel_ref, "C reference outputs for one bundle tensor (kernel tests)"},
    {"inspect", cmd_inspect, "show family, components, roles, layers and size estimates"},
    {"quantize", cmd_quantize, "quantize a model into a packed tensor set"},
    {"verify", cmd_verify, "end-to-end cost of a quantization (Llama-family reference forward pass)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: wgpack <command> [options] MODEL\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'wgpack <command> --help' for a command's options.\n"
               "exit codes: 0 ok, 1 usage, 2 bad input, 3 budget not met, 4 I/O error,"
               " 5 verification failed\n");
}

int cli_report(const wg_error *err)
{
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return WG_EUSAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("wgpack %s\n", WGPACK_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "wgpack: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return WG_EUSAGE;
}
