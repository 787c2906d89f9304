/* convert/quantize.c — `wgpack quantize` (placeholder until the quantizer lands). */
#include "cli.h"
int cmd_quantize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "wgpack quantize: not implemented yet\n");
    return WG_EUSAGE;
}
