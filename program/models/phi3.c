/* program/models/phi3.c — Phi-3: the Llama design with q, k and v in one matrix (qkv_proj) and
 * the gate and up projections in one (gate_up_proj, gate first); partial rotary where
 * configured; a window on every layer when sliding_window is set. */
#include "models.h"

void wg_tpl_phi3(wg_pbuild *b)
{
    pb_dec d;
    pb_dec_defaults(b, &d);
    d.fused_qkv = d.fused_gate_up = true;
    pb_dec_windows(b, &d, 'a');
    pb_decoder(b, &d);
}
