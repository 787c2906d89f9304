/* wasm/include/math.h — the few math functions quant/quant.c uses, as clang builtins
 * (WebAssembly has floor/abs/sqrt instructions; log10 is imported from JS if ever called). */
#pragma once
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define floorf __builtin_floorf
#define fabsf __builtin_fabsf
#define fabs __builtin_fabs
#define sqrt __builtin_sqrt
#define isfinite(x) __builtin_isfinite(x)
#define isnan(x) __builtin_isnan(x)
double log10(double);
