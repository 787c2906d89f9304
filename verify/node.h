/* verify/node.h — running wgpack's Node.js scripts (tools/…: the ONNX Runtime runner, the
 * WebGPU model runner): finding them beside the executable, running one without a shell with
 * its output captured in a log, and the one line to report when it fails.
 * Contract: nothing here reads what a script writes besides its log; callers decide what an
 * exit status means. */
#ifndef WG_VERIFY_NODE_H
#define WG_VERIFY_NODE_H
#include "../formats/model.h"
#include <stdbool.h>
#include <stddef.h>

/* Find the script REL ("web/run_model.mjs") of wgpack's tools: DIR/REL when env_dir (a tools
 * directory, e.g. $WGPACK_TOOLS) is given, else TOOLS/REL where TOOLS is tools/ or
 * share/wgpack/ in the executable's directory or one of its first three parents. script gets
 * the path, root (may be NULL) the directory holding TOOLS (a repository's root). Both n bytes. */
bool wg_tool_find(const char *rel, const char *env_dir, char *script, char *root, size_t n);

/* Run `PROGRAM ARGS...` (PATH searched when it has no '/') in cwd (NULL: ours) with our
 * environment plus env_add ("NAME=value" strings, NULL-terminated, or NULL), stdin from
 * /dev/null, stdout and stderr into the file log. Waits at most timeout_s seconds (0: no
 * limit), then kills it (SIGTERM, SIGKILL 5 s later) and fails. Returns 0 with the wait status
 * in *status, or WG_EIO (cannot start, timed out). */
int wg_tool_run(const char *program, char *const *args, const char *const *env_add,
                const char *cwd, const char *log, int timeout_s, int *status, wg_error *err);
/* wg_tool_run of $WGPACK_NODE, else node on PATH */
int wg_node_run(char *const *args, const char *cwd, const char *log, int timeout_s, int *status,
                wg_error *err);

/* The line of a log worth reporting: the first starting with prefix (without it; prefix may be
 * NULL), else the first that names an error ("Error: …", "TypeError: …"), else the first
 * non-empty one; "" when there is none. Trailing white space removed. */
void wg_node_log_line(const char *log, const char *prefix, char *out, size_t n);
#endif
