/* convert/cli.h — the command-line layer: one file per subcommand, shared helpers here.
 * Subcommands return an exit code (see formats/model.h WG_E*); only main() exits. */
#ifndef WG_CLI_H
#define WG_CLI_H
#include "../formats/model.h"
#include <stdbool.h>
#include <stdint.h>
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
int cmd_serve(int argc, char **argv);
/* Token ids from .i64/.i32 binary, whitespace-separated text, or raw bytes; each < vocab; the
 * first `max` of them. The file must be a regular file (a FIFO or device is refused, never
 * waited on); a binary file's size a whole number of tokens; every text token decimal digits
 * (cli_parse_u64): "3.5", "0x10", "1e2", "-1" are refused naming the file and the token. */
int cli_read_tokens(const char *path, bool bytes, int max, int32_t **out, int *n, int vocab,
                    wg_error *err);

/* JSON (jansson dump flags) into path through the one output-file mechanism (wg_atomic_*). */
int cli_write_json(const char *path, const void *json, size_t flags, wg_error *err);

/* The one integer syntax of the command line and of token files: decimal digits only (no
 * sign, space, suffix, exponent or base prefix), at most `hi`. False otherwise. */
bool cli_parse_u64(const char *s, size_t len, uint64_t hi, uint64_t *out);
/* An integer option's value in lo..hi, or a usage error naming the option and the value
 * (printed; returns WG_EUSAGE): "--max-tokens 5abc" never runs 5. */
int cli_int(const char *cmd, const char *opt, const char *arg, long long lo, long long hi,
            int *out);
int cli_u64(const char *cmd, const char *opt, const char *arg, uint64_t *out);
/* A finite decimal number in lo..hi, all of arg (strtod's syntax), or a usage error. */
int cli_double(const char *cmd, const char *opt, const char *arg, double lo, double hi,
               double *out);

/* Print "wgpack: MESSAGE" on stderr and return err->code. */
int cli_report(const wg_error *err);
/* Usage error: prints "wgpack CMD: message" and a hint; returns WG_EUSAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "1.2 MB" style, into buf */
const char *cli_bytes(unsigned long long b, char *buf, size_t n);
/* Thousands separators */
const char *cli_count(unsigned long long v, char *buf, size_t n);

#endif
