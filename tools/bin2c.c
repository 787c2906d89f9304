/* tools/bin2c.c — embed a binary file as a C array: bin2c SYMBOL IN OUT.c */
#include <stdio.h>
int main(int argc, char **argv)
{
    if (argc != 4)
        return 1;
    FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "w");
    if (!in || !out)
        return 1;
    fprintf(out, "/* generated from %s by tools/bin2c.c */\n#include <stddef.h>\n"
                 "const unsigned char %s[] = {", argv[2], argv[1]);
    int c;
    size_t n = 0;
    while ((c = fgetc(in)) != EOF)
        fprintf(out, "%s%d", n == 0 ? "\n" : n % 24 ? "," : ",\n", c), n++;
    fprintf(out, "\n};\nconst size_t %s_len = %zu;\n", argv[1], n);
    return fclose(out) != 0;
}
