/* tests/fuzz/fuzz_common.h — libFuzzer targets feed bytes through the real file paths: the
 * input is written to a per-process temporary file with the right extension and opened with
 * the same calls the CLI uses (mmap included). */
#ifndef WG_FUZZ_COMMON_H
#define WG_FUZZ_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((unused)) static const char *fuzz_file(const char *name, const uint8_t *data, size_t n)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/wgfuzz-%d", (int)getpid());
        mkdir(dir, 0700);
    }
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n && fwrite(data, 1, n, f) != n)
        abort();
    fclose(f);
    return path;
}
#endif
