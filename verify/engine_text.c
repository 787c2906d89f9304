/* verify/engine_text.c — text in, text out for `wgpack run --prompt` (contract in engine.h):
 * tools/web/text_ids.mjs runs the bundle's own tokenizer (wgpack-text.js) in Node; here, its
 * files in a work directory and its result checked against the bundle's vocabulary. */
#define _GNU_SOURCE
#include "../program/program.h"
#include "engine.h"
#include "engine_internal.h"
#include "node.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* node text_ids.mjs MODE --bundle DIR ARGS... --out work/r.json; *res its parsed result */
static int text_run(const char *dir, const char *mode, const char *const *extra, const char *work,
                    const char *prompt_name, int timeout_s, json_t **res, wg_error *err)
{
    char script[PATH_MAX], root[PATH_MAX], bundle[PATH_MAX], out[PATH_MAX], log[PATH_MAX], line[600];
    if (!wg_tool_find("web/text_ids.mjs", getenv("WGPACK_TOOLS"), script, root, sizeof script))
        return wg_fail(err, WG_EIO, NULL, "cannot find tools/web/text_ids.mjs beside the wgpack "
                       "executable (set WGPACK_TOOLS to the tools directory)");
    if (!realpath(dir, bundle))
        return wg_fail(err, WG_EINPUT, dir, "%s", strerror(errno));
    snprintf(out, sizeof out, "%s/r.json", work);
    snprintf(log, sizeof log, "%s/text.log", work);
    char *args[12] = {script, (char *)mode, "--bundle", bundle};
    int a = 4, st = 0;
    for (; *extra && a < 9; extra++)
        args[a++] = (char *)*extra;
    args[a++] = "--out";
    args[a++] = out;
    int rc = wg_node_run(args, root, log, timeout_s, &st, err);
    if (rc)
        return rc;
    *res = json_load_file(out, JSON_REJECT_DUPLICATES, NULL);
    if (WIFEXITED(st) && !WEXITSTATUS(st) && json_is_true(json_object_get(*res, "ok")))
        return 0;
    const char *e = json_string_value(json_object_get(*res, "error"));
    if (e)
        snprintf(line, sizeof line, "%s", e);
    else
        wg_node_log_line(log, NULL, line, sizeof line);
    line[strcspn(line, "\r\n")] = 0;
    if (json_is_true(json_object_get(*res, "prompt")))
        return wg_fail(err, WG_EINPUT, prompt_name, "%s", line);
    return wg_fail(err, json_is_true(json_object_get(*res, "cannot_run")) ? WG_EINPUT : WG_EIO, dir,
                   "the bundle's tokenizer (tools/web/text_ids.mjs): %s",
                   *line ? line : "no result");
}

/* text_run in a work directory of its own (removed after) holding the prompt's text (len
 * bytes) or the ids to decode */
static int text_call(const char *dir, const char *mode, const char *const *extra,
                     const char *text, size_t len, const int32_t *ids, int n,
                     const char *prompt_name, int timeout_s, json_t **res, wg_error *err)
{
    char work[PATH_MAX], path[PATH_MAX + 16], *xs[8] = {0};
    int rc = wg_engine_work(work, sizeof work, err), k = 0;
    if (rc)
        return rc;
    for (; extra[k] && k < 6; k++)
        xs[k] = (char *)extra[k];
    if (ids) {
        snprintf(path, sizeof path, "%s/ids.i32", work);
        rc = wg_engine_write_i32(path, ids, n, err);
        xs[k++] = "--ids";
        xs[k++] = path;
    } else if (text) {
        snprintf(path, sizeof path, "%s/prompt.txt", work);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(text, 1, len, f) != len || fclose(f))
            rc = wg_fail(err, WG_EIO, path, "cannot write");
        xs[k++] = "--prompt-file";
        xs[k++] = path;
    }
    if (!rc)
        rc = text_run(dir, mode, (const char *const *)xs, work, prompt_name, timeout_s, res, err);
    wg_rm_rf(work);
    return rc;
}

bool wg_text_has_tokenizer(const wg_manifest *m)
{
    json_t *files = json_object_get(json_object_get(m->root, "text"), "files");
    return json_object_get(files, "tokenizer.json") != NULL;
}

int wg_text_encode(const char *dir, const wg_manifest *m, const wg_text_prompt *p, int timeout_s,
                   int32_t **ids, int *n, wg_error *err)
{
    const char *extra[] = {p->chat ? "--chat" : NULL, NULL, NULL, NULL}, *prompt_name = p->name;
    if (p->file) {
        extra[p->chat] = "--prompt-file";
        extra[p->chat + 1] = p->file;
    }
    json_t *res = NULL, *v;
    *ids = NULL;
    *n = 0;
    if (!wg_text_has_tokenizer(m))
        return wg_fail(err, WG_EINPUT, dir, "the bundle has no tokenizer (its manifest's text "
                       "section lists no tokenizer.json): build it with tokenizer.json beside "
                       "the model or --tokenizer DIR, or give --tokens FILE");
    int rc = text_call(dir, "encode", extra, p->text, p->text ? strlen(p->text) : 0, NULL, 0,
                       prompt_name, timeout_s, &res, err);
    json_t *a = json_object_get(res, "ids");
    size_t count = json_array_size(a), i;
    if (!rc && !json_is_array(a))
        rc = wg_fail(err, WG_EIO, dir, "the bundle's tokenizer gave no ids");
    else if (!rc && !count)
        rc = wg_fail(err, WG_EINPUT, prompt_name, "the prompt makes no tokens");
    else if (!rc && count > 1 << 20)
        rc = wg_fail(err, WG_EINPUT, prompt_name, "the prompt makes %zu tokens", count);
    if (!rc && !(*ids = malloc(sizeof **ids * count)))
        rc = wg_fail(err, WG_EIO, NULL, "out of memory");
    json_array_foreach(a, i, v) {
        if (rc)
            break;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= m->program->vocab)
            rc = wg_fail(err, WG_EINPUT, dir, "the bundle's tokenizer made id %lld (prompt token %zu), "
                         "outside the model's vocabulary (%lld ids)", (long long)json_integer_value(v), i,
                         (long long)m->program->vocab);
        else
            (*ids)[i] = (int32_t)json_integer_value(v);
    }
    json_decref(res);
    if (rc) {
        free(*ids);
        *ids = NULL;
    } else
        *n = (int)count;
    return rc;
}

int wg_text_decode(const char *dir, const int32_t *ids, int n, int timeout_s, json_t **out,
                   wg_error *err)
{
    const char *extra[] = {NULL};
    *out = NULL;
    int rc = text_call(dir, "decode", extra, NULL, 0, ids, n, NULL, timeout_s, out, err);
    if (!rc && !json_is_string(json_object_get(*out, "text")))
        rc = wg_fail(err, WG_EIO, dir, "the bundle's tokenizer gave no text");
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
