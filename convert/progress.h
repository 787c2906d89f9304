/* convert/progress.h — the progress bar of the long commands (build, quantize, export-onnx,
 * verify), on stderr:
 *     quantize [##########----------]   51/111 tensors  0.95/1.91 GB  0:04 ETA 0:04
 * with the current stage (plan, quantize, write, hash, compress, export, ORT, forward) on the
 * left. Work is reported by the library where it happens (wg_progress_stage/wg_progress_done in
 * formats/model.h, from any thread); this module draws it at most 10 times a second.
 * Nothing is drawn when stderr is not a terminal or --quiet was given (main() strips it). */
#ifndef WG_PROGRESS_H
#define WG_PROGRESS_H
#include "../formats/model.h"
#include <stdbool.h>

void wg_bar_quiet(bool quiet);
/* Start the bar for model m (its tensors and bytes are the totals). No-op when quiet or when
 * stderr is not a terminal; a second call (a second model) keeps the first totals. */
void wg_bar_begin(const wg_model *m);
/* Draw the final state and end the line (main() calls it after every command). */
void wg_bar_end(void);

#endif
