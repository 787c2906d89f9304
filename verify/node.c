/* verify/node.c — wgpack's Node.js scripts: found beside the executable, run without a shell
 * under a time limit with their output in a log (contract in node.h). */
#define _GNU_SOURCE
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

bool wg_tool_find(const char *rel, const char *env_dir, char *script, char *root, size_t n)
{
    if (env_dir && *env_dir) {
        snprintf(script, n, "%s/%s", env_dir, rel);
        if (root)
            snprintf(root, n, "%s/..", env_dir);
        return access(script, R_OK) == 0;
    }
    char dir[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (l <= 0)
        return false;
    dir[l] = 0;
    static const char *const tools[] = {"tools", "share/wgpack"};
    for (int up = 0; up <= 3; up++) {
        char *s = strrchr(dir, '/'); /* the executable's directory, then its parents */
        if (!s)
            return false;
        *s = 0;
        for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
            snprintf(script, n, "%s/%s/%s", *dir ? dir : "", tools[i], rel);
            if (access(script, R_OK) == 0) {
                if (root)
                    snprintf(root, n, "%s", *dir ? dir : "/");
                return true;
            }
        }
    }
    return false;
}

/* wait for pid at most timeout_s (0: forever); false when it had to be killed */
static bool wait_limited(pid_t pid, int timeout_s, int *status)
{
    struct timespec t0, now, nap = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool killed = false;
    for (;;) {
        pid_t r = waitpid(pid, status, timeout_s ? WNOHANG : 0);
        if (r == pid || (r < 0 && errno != EINTR))
            return !killed;
        if (!timeout_s)
            continue;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9;
        if (el > timeout_s && !killed) {
            kill(pid, SIGTERM);
            killed = true;
        } else if (el > timeout_s + 5.0)
            kill(pid, SIGKILL);
        nanosleep(&nap, NULL);
    }
}

/* environ plus add[] (NULL-terminated), in one allocation the caller frees */
static char **env_plus(const char *const *add)
{
    size_t ne = 0, na = 0;
    while (environ[ne])
        ne++;
    while (add && add[na])
        na++;
    char **env = calloc(ne + na + 1, sizeof *env);
    if (env) {
        memcpy(env, environ, ne * sizeof *env);
        if (na)
            memcpy(env + ne, add, na * sizeof *env);
    }
    return env;
}

int wg_tool_run(const char *program, char *const *args, const char *const *env_add,
                const char *cwd, const char *log, int timeout_s, int *status, wg_error *err)
{
    size_t na = 0;
    while (args[na])
        na++;
    char **argv = calloc(na + 2, sizeof *argv), **env = env_plus(env_add);
    if (!argv || !env) {
        free(argv);
        free(env);
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    }
    argv[0] = (char *)program;
    memcpy(argv + 1, args, na * sizeof *argv);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    pid_t pid;
    int rc = posix_spawnp(&pid, program, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    free(env);
    if (rc)
        return wg_fail(err, WG_EIO, NULL, "cannot run '%s': %s", program, strerror(rc));
    if (!wait_limited(pid, timeout_s, status))
        return wg_fail(err, WG_EIO, args[0], "no result within %d s: stopped", timeout_s);
    return 0;
}

int wg_node_run(char *const *args, const char *cwd, const char *log, int timeout_s, int *status,
                wg_error *err)
{
    const char *node = getenv("WGPACK_NODE");
    int rc = wg_tool_run(node && *node ? node : "node", args, NULL, cwd, log, timeout_s, status, err);
    if (rc && !strncmp(err->msg, "cannot run", 10)) /* say what it is for */
        snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
                 " (Node.js is needed)");
    return rc;
}

static bool names_error(const char *l)
{
    const char *c = strstr(l, "Error");
    size_t w = strspn(l, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$");
    return c && c == l + w - 5 && w >= 5 && (l[w] == ':' || l[w] == 0 || l[w] == '\n');
}

void wg_node_log_line(const char *log, const char *prefix, char *out, size_t n)
{
    char line[1024], first[1024] = "", error[1024] = "";
    size_t pl = prefix ? strlen(prefix) : 0;
    FILE *f = fopen(log, "r");
    *out = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (pl && !strncmp(line, prefix, pl)) {
            snprintf(first, sizeof first, "%s", line + pl);
            *error = 0;
            break;
        }
        if (!*error && names_error(line))
            snprintf(error, sizeof error, "%s", line);
        if (!*first && line[strspn(line, " \t")])
            snprintf(first, sizeof first, "%s", line);
    }
    if (f)
        fclose(f);
    snprintf(out, n, "%s", *error ? error : first);
    for (size_t l = strlen(out); l && (out[l - 1] == ' ' || out[l - 1] == '\t');)
        out[--l] = 0;
}
