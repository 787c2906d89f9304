/* wasm/include/stdio.h — quant/formats.c formats names with snprintf; not used by the wasm API */
#pragma once
#include <stddef.h>
int snprintf(char *buf, size_t n, const char *fmt, ...);
