/* verify/engine_internal.h — what engine.c and engine_text.c share: the runners' temporary
 * work directory and the int32 files they hand over. */
#ifndef WG_VERIFY_ENGINE_INTERNAL_H
#define WG_VERIFY_ENGINE_INTERNAL_H
#include "../formats/model.h"
#include <stddef.h>
#include <stdint.h>

/* a new directory $TMPDIR/wgpack-run-XXXXXX (or under /tmp) into work (n bytes) */
int wg_engine_work(char *work, size_t n, wg_error *err);
/* v[0..n) as little-endian int32 into path */
int wg_engine_write_i32(const char *path, const int32_t *v, int n, wg_error *err);
#endif
