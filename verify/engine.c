/* verify/engine.c — a bundle's model run by tools/web/run_model.mjs in a WebGPU engine
 * (contract in engine.h): a work directory with the tokens, the runner under node (or deno),
 * and its result.json and out.f32 checked against what was asked. */
#define _GNU_SOURCE
#include "../program/program.h"
#include "engine.h"
#include "engine_internal.h"
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* a temporary work directory for the runner's files */
int wg_engine_work(char *work, size_t n, wg_error *err)
{
    const char *t = getenv("TMPDIR");
    snprintf(work, n, "%s/wgpack-run-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(work))
        return wg_fail(err, WG_EIO, work, "cannot create a work directory: %s", strerror(errno));
    return 0;
}

int wg_engine_write_i32(const char *path, const int32_t *v, int n, wg_error *err)
{
    FILE *f = fopen(path, "wb");
    for (int i = 0; f && i < n; i++) {
        uint32_t u = (uint32_t)v[i];
        unsigned char b[4] = {u & 255, u >> 8 & 255, u >> 16 & 255, u >> 24};
        fwrite(b, 1, 4, f);
    }
    if (!f || ferror(f) | fclose(f))
        return wg_fail(err, WG_EIO, path, "cannot write");
    return 0;
}

/* the runner's failure: its own error line, else its log's; 2 when the bundle cannot run */
static int runner_failed(const wg_engine_opts *o, const char *work, json_t *res, int st, wg_error *err)
{
    char line[600], log[PATH_MAX];
    const char *e = json_string_value(json_object_get(res, "error"));
    snprintf(log, sizeof log, "%s/runner.log", work);
    if (e)
        snprintf(line, sizeof line, "%s", e);
    else
        wg_node_log_line(log, NULL, line, sizeof line);
    if (!*line)
        snprintf(line, sizeof line, "the runner %s %d without a result",
                 WIFSIGNALED(st) ? "was killed by signal" : "exited with status",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    line[strcspn(line, "\r\n")] = 0;
    static const char *const cannot[] = {"integrity check failed", "unsupported", "cannot run"};
    bool input = json_is_true(json_object_get(res, "cannot_run"));
    for (size_t i = 0; i < sizeof cannot / sizeof *cannot; i++)
        input |= strstr(line, cannot[i]) != NULL;
    return wg_fail(err, input ? WG_EINPUT : WG_EIO, o->dir, "the runtime (%s) failed: %s",
                   o->engine, line);
}

/* exactly count f32 from path (a regular file) */
static float *read_f32(const char *path, size_t count, wg_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    float *v = NULL;
    if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size == count * sizeof(float) && (v = malloc(count * sizeof *v + 1))) {
        size_t got = 0;
        ssize_t r = 1;
        while (got < count * sizeof *v && (r = read(fd, (char *)v + got, count * sizeof *v - got)) > 0)
            got += (size_t)r;
        if (got != count * sizeof *v) {
            free(v);
            v = NULL;
        }
    }
    if (fd >= 0)
        close(fd);
    if (!v)
        wg_fail(err, WG_EIO, path, "the runner's output is not %zu f32 values", count);
    return v;
}

/* result.json agrees with what was asked: arch, tokens, dim, generated ids in the vocabulary */
static int check_result(const wg_manifest *m, const wg_engine_opts *o, int n, int dim, wg_engine_out *rt,
                        wg_error *err)
{
    json_t *r = rt->result, *g = json_object_get(r, "generated"), *v;
    const char *task = json_string_value(json_object_get(r, "task"));
    bool llama = !strcmp(m->program->task, "causal-lm");
    if (!task || strcmp(task, m->program->task) ||
        json_integer_value(json_object_get(r, "tokens")) != n ||
        json_integer_value(json_object_get(r, "dim")) != dim ||
        (llama && o->generate && json_array_size(g) != (size_t)o->generate))
        return wg_fail(err, WG_EIO, o->dir, "the runtime (%s): its result.json does not describe "
                       "%d tokens of a %s of output width %d%s", o->engine, n,
                       m->program->task, dim, o->generate ? " and the tokens generated" : "");
    rt->ngen = llama && o->generate ? o->generate : 0;
    if (!(rt->gen = malloc(sizeof *rt->gen * ((size_t)rt->ngen + 1))))
        return wg_fail(err, WG_EIO, NULL, "out of memory");
    for (int i = 0; i < rt->ngen; i++) {
        v = json_array_get(g, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= m->program->vocab)
            return wg_fail(err, WG_EIO, o->dir, "the runtime (%s): generated token %d is not "
                           "an id of the vocabulary", o->engine, i);
        rt->gen[i] = (int32_t)json_integer_value(v);
    }
    const char *prec = json_string_value(json_object_get(r, "precision"));
    rt->unit = prec && !strcmp(prec, "f16") ? ldexp(1, -11) : ldexp(1, -24);
    return 0;
}

/* node tools/web/run_model.mjs --engine E --bundle DIR --tokens F --out D [...] in work/ */
/* the engine's runner: node for chromium and node; Deno ($WGPACK_DENO, else the npm package's,
 * else deno on PATH) running the same script for deno */
static int spawn_engine(const wg_engine_opts *o, char **args, const char *root, const char *log,
                        int *st, wg_error *err)
{
    if (strcmp(o->engine, "deno"))
        return wg_node_run(args, root, log, o->timeout_s, st, err);
    static const char *const env[] = {"DENO_NO_PACKAGE_JSON=1", NULL};
    char deno[PATH_MAX], *dargs[24] = {"run", "--unstable-webgpu", "--no-config", "-A"};
    const char *d = getenv("WGPACK_DENO");
    snprintf(deno, sizeof deno, "%s/node_modules/.bin/deno", root);
    if (d && *d)
        snprintf(deno, sizeof deno, "%s", d);
    else if (access(deno, X_OK))
        snprintf(deno, sizeof deno, "deno");
    for (int i = 0; args[i] && i < 19; i++)
        dargs[4 + i] = args[i];
    return wg_tool_run(deno, dargs, env, root, log, o->timeout_s, st, err);
}

/* RUNNER tools/web/run_model.mjs --engine E --bundle DIR --tokens F --out D [...] in work/ */
static int spawn_runtime(const wg_engine_opts *o, const char *work, int *st, wg_error *err)
{
    char script[PATH_MAX], root[PATH_MAX], bundle[PATH_MAX], tok[PATH_MAX], out[PATH_MAX],
         log[PATH_MAX], gen[16], seq[16];
    if (!wg_tool_find("web/run_model.mjs", getenv("WGPACK_TOOLS"), script, root, sizeof script))
        return wg_fail(err, WG_EIO, NULL, "cannot find tools/web/run_model.mjs beside the wgpack "
                       "executable (set WGPACK_TOOLS to the tools directory)");
    if (!realpath(o->dir, bundle))
        return wg_fail(err, WG_EINPUT, o->dir, "%s", strerror(errno));
    snprintf(tok, sizeof tok, "%s/tokens.i32", work);
    snprintf(out, sizeof out, "%s/out", work);
    snprintf(log, sizeof log, "%s/runner.log", work);
    snprintf(gen, sizeof gen, "%d", o->generate);
    snprintf(seq, sizeof seq, "%d", o->max_seq);
    char *args[16] = {script, "--engine", (char *)o->engine, "--bundle", bundle, "--tokens", tok,
                      "--out", out};
    int a = 9;
    if (o->generate) {
        args[a++] = "--generate";
        args[a++] = gen;
    }
    if (o->max_seq) {
        args[a++] = "--max-seq";
        args[a++] = seq;
    }
    if (mkdir(out, 0700))
        return wg_fail(err, WG_EIO, out, "cannot create: %s", strerror(errno));
    return spawn_engine(o, args, root, log, st, err);
}

static int run_in(const wg_engine_opts *o, const wg_manifest *m, const char *work,
                  const int32_t *tok, int n, wg_engine_out *rt, wg_error *err)
{
    char path[PATH_MAX];
    int st = 0, dim = (int)wg_prog_out_width(m->program);
    snprintf(path, sizeof path, "%s/tokens.i32", work);
    int rc = wg_engine_write_i32(path, tok, n, err);
    if (rc || (rc = spawn_runtime(o, work, &st, err)))
        return rc;
    snprintf(path, sizeof path, "%s/out/result.json", work);
    rt->result = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    if (!WIFEXITED(st) || WEXITSTATUS(st) || !json_is_true(json_object_get(rt->result, "ok")))
        return runner_failed(o, work, rt->result, st, err);
    if ((rc = check_result(m, o, n, dim, rt, err)))
        return rc;
    snprintf(path, sizeof path, "%s/out/out.f32", work);
    return (rt->out = read_f32(path, (size_t)n * (size_t)dim, err)) ? 0 : err->code;
}

int wg_engine_run(const wg_engine_opts *o, const wg_manifest *m, const int32_t *tok, int n,
                  wg_engine_out *rt, wg_error *err)
{
    char work[PATH_MAX];
    *rt = (wg_engine_out){.unit = ldexp(1, -24)};
    int rc = wg_engine_work(work, sizeof work, err);
    if (!rc) {
        rc = run_in(o, m, work, tok, n, rt, err);
        wg_rm_rf(work);
    }
    if (rc)
        wg_engine_out_free(rt);
    return rc;
}

void wg_engine_out_free(wg_engine_out *rt)
{
    json_decref(rt->result);
    free(rt->out);
    free(rt->gen);
    memset(rt, 0, sizeof *rt);
}
