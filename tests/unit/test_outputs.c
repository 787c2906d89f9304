/* tests/unit/test_outputs.c — the one output-file mechanism (wg_atomic_*) and the one input
 * opener (wg_open_input), issue 24: what a rename may replace, what a read may wait on. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../formats/model.h"

static char *dir;

static void setup(void)
{
    dir = strdup("/tmp/wg-outputs-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert(system(cmd) == 0);
    free(dir);
}

static const char *at(const char *name)
{
    static char p[4][4200];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static int entries(void)
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq", dir);
    for (int n = 0; n < 16; n++) {
        char c[4400];
        snprintf(c, sizeof c, "%s %d", cmd, n);
        if (system(c) == 0)
            return n;
    }
    return -1;
}

TestSuite(outputs, .init = setup, .fini = teardown);

Test(outputs, replaces_a_regular_file_and_creates_a_new_one)
{
    FILE *f = fopen(at("a"), "w");
    fputs("old", f);
    fclose(f);
    wg_atomic_file af;
    wg_error e = {0};
    cr_assert_eq(wg_atomic_open(&af, at("a"), &e), 0, "%s", e.msg);
    cr_assert_eq(wg_atomic_write(&af, "new!", 4, &e), 0);
    cr_assert_eq(wg_atomic_commit(&af, &e), 0, "%s", e.msg);
    struct stat st;
    cr_assert(stat(at("a"), &st) == 0 && st.st_size == 4);
    cr_assert_eq(wg_atomic_open(&af, at("b"), &e), 0);
    cr_assert_eq(wg_atomic_commit(&af, &e), 0);
    cr_assert_eq(entries(), 2); /* a, b: no temporary left */
}

Test(outputs, refuses_links_directories_fifos_and_stdout)
{
    FILE *f = fopen(at("kept"), "w");
    fputs("keep", f);
    fclose(f);
    cr_assert(symlink(at("kept"), at("link")) == 0);
    cr_assert(symlink(at("nowhere"), at("dangling")) == 0);
    cr_assert(mkfifo(at("fifo"), 0644) == 0);
    cr_assert(mkdir(at("dir"), 0755) == 0);
    const char *names[] = {"link", "dangling", "fifo", "dir"};
    for (int i = 0; i < 4; i++) {
        wg_atomic_file af;
        wg_error e = {0};
        cr_assert_eq(wg_atomic_open(&af, at(names[i]), &e), WG_EUSAGE, "%s", names[i]);
        cr_assert(strstr(e.msg, at(names[i])) && strstr(e.msg, "not replaced"), "%s", e.msg);
    }
    wg_atomic_file af;
    wg_error e = {0};
    cr_assert_eq(wg_atomic_open(&af, "-", &e), WG_EUSAGE);
    struct stat st;
    cr_assert(lstat(at("link"), &st) == 0 && S_ISLNK(st.st_mode));
    cr_assert(lstat(at("fifo"), &st) == 0 && S_ISFIFO(st.st_mode));
    cr_assert(stat(at("kept"), &st) == 0 && st.st_size == 4);
    cr_assert_eq(entries(), 5);
}

/* the target turned into a symlink between open and commit: still not written through */
Test(outputs, checked_again_before_the_rename)
{
    wg_atomic_file af;
    wg_error e = {0};
    cr_assert_eq(wg_atomic_open(&af, at("t"), &e), 0);
    cr_assert_eq(wg_atomic_write(&af, "x", 1, &e), 0);
    cr_assert(symlink("/nowhere", at("t")) == 0);
    cr_assert_eq(wg_atomic_commit(&af, &e), WG_EUSAGE, "%s", e.msg);
    struct stat st;
    cr_assert(lstat(at("t"), &st) == 0 && S_ISLNK(st.st_mode));
    cr_assert_eq(entries(), 1); /* the temporary is gone */
}

Test(outputs, inputs_are_regular_files_never_waited_on)
{
    cr_assert(mkfifo(at("fifo"), 0644) == 0);
    wg_error e = {0};
    cr_assert_eq(wg_open_input(at("fifo"), &e), -1); /* no writer: returns at once */
    cr_assert(strstr(e.msg, "not a regular file (a FIFO)"), "%s", e.msg);
    wg_error e2 = {0};
    cr_assert_eq(wg_open_input(dir, &e2), -1);
    cr_assert(strstr(e2.msg, "(a directory)"), "%s", e2.msg);
    FILE *f = fopen(at("ok"), "w");
    fclose(f);
    wg_error e3 = {0};
    int fd = wg_open_input(at("ok"), &e3);
    cr_assert(fd >= 0, "%s", e3.msg);
    close(fd);
}
