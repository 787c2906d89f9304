/* wasm/include/stdlib.h — freestanding build: a bump allocator in wasm_api.c */
#pragma once
#include <stddef.h>
void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void free(void *p);
long strtol(const char *s, char **end, int base);
