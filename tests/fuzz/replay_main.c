/* tests/fuzz/replay_main.c — runs a fuzz target's entry point on files (no libFuzzer), so that
 * `make check` (and `make asan`) replays every saved crash and the seed corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int main(int argc, char **argv)
{
    int ran = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            LLVMFuzzerTestOneInput(buf, (size_t)n);
            ran++;
        }
        free(buf);
        fclose(f);
    }
    printf("replayed %d inputs\n", ran);
    return 0;
}
