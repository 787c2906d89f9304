/* convert/main.c — wgpack entry point: dispatch to one subcommand. */
#include "cli.h"
#include "db.h"
#include "progress.h"

#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"build", cmd_build, "read, quantize and write a browser bundle (the main job)"},
    {"run", cmd_run, "run a bundle's model in WebGPU (Chromium, Node) against its C reference"},
    {"serve", cmd_serve, "serve a bundle with a demo page (prompt, streamed text) on 127.0.0.1"},
    {"verify-bundle", cmd_verify_bundle, "re-read a bundle and check it against its manifest"},
    {"kernel-ref", cmd_kernel_ref, "C reference outputs for one bundle tensor (kernel tests)"},
    {"kernel-gen", cmd_kernel_gen, "print one generated WGSL kernel (tuner, benchmarks)"},
    {"inspect", cmd_inspect, "show family, components, roles, layers and size estimates"},
    {"quantize", cmd_quantize, "quantize a model into a packed tensor set"},
    {"export-onnx", cmd_export_onnx, "write a quantized ONNX model that ONNX Runtime loads (MatMulNBits)"},
    {"matrix", cmd_matrix, "compatibility matrix (family x precision x profile) from a results database"},
    {"record-kernels", cmd_record_kernels, "record WebGPU kernel test results in a results database"},
    {"verify", cmd_verify, "end-to-end cost of a quantization (Llama-family reference forward pass)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: wgpack <command> [options] MODEL\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'wgpack <command> --help' for a command's options.\n"
               "exit codes: 0 ok, 1 usage, 2 bad input, 3 budget not met, 4 I/O error,"
               " 5 verification failed\n");
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
    /* --quiet (or -q) anywhere after the command silences the progress bar */
    int n = 1;
    for (int i = 1; i < argc; i++)
        if (i >= 2 && (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")))
            wg_bar_quiet(true);
        else
            argv[n++] = argv[i];
    argc = n;
    argv[argc] = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            int rc = commands[i].fn(argc - 1, argv + 1);
            wg_bar_end();
            return rc;
        }
    fprintf(stderr, "wgpack: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return WG_EUSAGE;
}
