/* convert/cli.h — the command-line layer: one file per subcommand, shared helpers here.
 * Subcommands return an exit code (see formats/model.h WG_E*); only main() exits. */
#ifndef WG_CLI_H
#define WG_CLI_H
#include "../formats/model.h"
#include <stdio.h>

#define WGPACK_VERSION "0.1.0"

int cmd_inspect(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_kernel_ref(int argc, char **argv);
int cmd_kernel_gen(int argc, char **argv);
int cmd_verify_bundle(int argc, char **argv);
int cmd_export_onnx(int argc, char **argv);
int cmd_verify_onnx(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* Token ids from .i64/.i32 binary, whitespace-separated text, or raw bytes; each < vocab. */
int cli_read_tokens(const char *path, bool bytes, int max, int32_t **out, int *n, int vocab,
                    wg_error *err);

/* Print "wgpack: MESSAGE" on stderr and return err->code. */
int cli_report(const wg_error *err);
/* Usage error: prints "wgpack CMD: message" and a hint; returns WG_EUSAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "1.2 MB" style, into buf */
const char *cli_bytes(unsigned long long b, char *buf, size_t n);
/* Thousands separators */
const char *cli_count(unsigned long long v, char *buf, size_t n);

#endif
