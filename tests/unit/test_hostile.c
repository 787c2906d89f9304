/* tests/unit/test_hostile.c — units for the hostile-input defences (issue 17): the archiver
 * never follows a symlinked directory (D16), names wgpack writes come from sanitised text only
 * (D6), the name policy and index (formats/names.c). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../pack/pack.h"

static char *tmpdir(void)
{
    char *d = strdup("/tmp/wg-hostile-XXXXXX");
    cr_assert(mkdtemp(d));
    return d;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

/* D16: a bundle whose kernels/ (or wasm/) is a symlink to a directory outside it */
static void archive_refuses_link(const char *sub)
{
    char *d = tmpdir(), p[512], q[512], out[600];
    snprintf(p, sizeof p, "%s/outside", d);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/outside/secret.txt", d);
    put(p, "secret\n");
    snprintf(p, sizeof p, "%s/b", d);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/b/manifest.json", d);
    put(p, "{}\n");
    snprintf(p, sizeof p, "%s/outside", d);
    snprintf(q, sizeof q, "%s/b/%s", d, sub);
    cr_assert_eq(symlink(p, q), 0);
    snprintf(p, sizeof p, "%s/b", d);
    wg_error err = {0};
    int rc = wg_bundle_archive(p, WG_ARCHIVE_ZIP, out, sizeof out, &err);
    struct stat st;
    cr_assert_neq(rc, 0, "a symlinked %s/ must be refused, not archived", sub);
    cr_assert(strstr(err.msg, "symlink"), "message: %s", err.msg);
    cr_assert_neq(stat(out, &st), 0, "no archive may appear");
    snprintf(p, sizeof p, "rm -rf '%s'", d);
    cr_assert_eq(system(p), 0);
    free(d);
}

Test(archive, never_follows_a_symlinked_kernels_dir) { archive_refuses_link("kernels"); }
Test(archive, never_follows_a_symlinked_wasm_dir) { archive_refuses_link("wasm"); }

Test(names, written_names_are_sanitised)
{
    char b[64];
    wg_safe_name(b, sizeof b, "../../ESC");
    cr_assert(!strchr(b, '/') && b[0] != '.', "got %s", b);
    wg_safe_name(b, sizeof b, "https:evil#x?y%2e\\z");
    cr_assert_str_eq(b, "https_evil_x_y_2e_z");
    wg_safe_name(b, sizeof b, "");
    cr_assert_str_eq(b, "_");
    wg_safe_name(b, sizeof b, "decoder");
    cr_assert_str_eq(b, "decoder");
}

Test(names, plain_names_inside_a_bundle)
{
    cr_assert(wg_plain_name("decoder-003-1f2e3d4c5b6a7988.bin", false));
    cr_assert(wg_plain_name("kernels/gemv-q4g32s-f32-2a9b.wgsl", true));
    cr_assert_not(wg_plain_name("kernels/x.wgsl", false));
    const char *bad[] = {"", ".", "..", "../x", "/etc/passwd", "https:evil.example#x", "a\\b",
                         "%2e%2e/x", "kernels/../x", "kernels//x", "a/b/c", "kernels/", ".hidden"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_not(wg_plain_name(bad[i], true), "%s accepted", bad[i]);
}

Test(names, index_finds_every_name_once)
{
    wg_name_index ix = {0};
    static char names[5000][16];
    for (size_t i = 0; i < 5000; i++) {
        snprintf(names[i], sizeof names[i], "t%zu", i);
        cr_assert_eq(wg_name_index_put(&ix, names[i], i), 1);
    }
    cr_assert_eq(wg_name_index_put(&ix, "t17", 99), 0, "a present key keeps its value");
    size_t v;
    for (size_t i = 0; i < 5000; i++)
        cr_assert(wg_name_index_get(&ix, names[i], &v) && v == i);
    cr_assert_not(wg_name_index_get(&ix, "t5000", &v));
    wg_name_index_free(&ix);
}

/* D6 at the writer: even a component that reached the table unchecked names no path */
Test(bundle, component_text_never_becomes_a_path)
{
    wg_model *m;
    wg_error err = {0};
    cr_assert_eq(wg_model_open("models/tinygpt2", NULL, &m, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < m->n_tensors; i++)
        snprintf(m->tensors[i].component, sizeof m->tensors[i].component, "../../ESC");
    wg_plan_opts po;
    wg_plan_opts_default(&po);
    wg_plan_entry *plan = calloc(m->n_tensors, sizeof *plan);
    cr_assert_eq(wg_plan_preset(m, &po, plan, &err), 0);
    char *d = tmpdir(), out[512], cmd[700];
    snprintf(out, sizeof out, "%s/a/b", d);
    wg_pack_opts o = {.out_dir = out, .shard_size = 1 << 20, .threads = 1, .version = "t"};
    wg_bundle_result r;
    cr_assert_eq(wg_bundle_build(m, plan, &o, &r, &err), 0, "%s", err.msg);
    json_decref(r.manifest);
    snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -name '*ESC*' ! -path '%s/a/b/*')\"", d, d);
    cr_assert_eq(system(cmd), 0, "a file was written outside the bundle");
    snprintf(cmd, sizeof cmd, "ls '%s/a/b' | grep -q '^_\\._\\.\\._ESC-g-'", d);
    cr_assert_eq(system(cmd), 0, "shards carry the sanitised component");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    cr_assert_eq(system(cmd), 0);
    free(d);
    free(plan);
    wg_model_free(m);
}
