/* program/models/moe.c — the mixture-of-experts MLP of the decoders (Mixtral, Qwen2-MoE,
 * Qwen3-MoE, OLMoE): router logits = gate(h); the router op keeps each token's k largest
 * softmax weights (renormalised where the family does) and zeroes the rest; then every expert
 * runs as bundle matmuls (SwiGLU) and moe_add sums out += weight[:, e] * expert_e(h), in expert
 * order as Hugging Face's loop, an unchosen expert adding nothing. The same function as HF's,
 * computed densely: every expert is evaluated for every token, E/k times the weight reads of a
 * sparse dispatch (left for later: it needs the runtime to gather tokens per expert).
 *
 * Checkpoints name experts one by one (block.experts.N.gate.weight: what the Hub's Mixtral and
 * Qwen MoE checkpoints hold and what transformers 5's save_pretrained writes by default); a
 * checkpoint with every expert in one 3-D tensor (experts.gate_up_proj, save_original_format
 * False) is refused by name. */
#include "models.h"

#include <string.h>

void pb_moe_config(wg_pbuild *b, pb_dec *d, int64_t I, bool norm, const char *block,
                   const char *gate, const char *up, const char *down)
{
    pb_moe *m = &d->moe;
    memset(m, 0, sizeof *m);
    /* num_local_experts (Mixtral; transformers 5 for Qwen3-MoE too) or num_experts (Qwen, OLMoE) */
    int64_t local = pb_int(b, "num_local_experts", 0), experts = pb_int(b, "num_experts", 0);
    if (local && experts && local != experts)
        pb_fail(b, "config.json: num_local_experts %lld and num_experts %lld differ", (long long)local,
                (long long)experts);
    m->E = local ? local : experts;
    if (m->E <= 0)
        pb_fail(b, "config.json: num_local_experts / num_experts missing or not positive");
    m->k = pb_need(b, "num_experts_per_tok");
    m->I = I;
    m->norm = norm;
    m->block = block;
    m->gate = gate;
    m->up = up;
    m->down = down;
    if (PB_OK(b) && (m->k > m->E || m->E > WG_MOE_MAX_EXPERTS))
        pb_fail(b, "config.json: num_experts_per_tok %lld of %lld experts: not implemented (1 <= k <= "
                "experts <= %d)", (long long)m->k, (long long)m->E, WG_MOE_MAX_EXPERTS);
    /* transformers multiplies the router's input by jitter noise in training only */
    pb_num(b, "router_jitter_noise", 0);
}

void pb_moe_layers(wg_pbuild *b, pb_dec *d)
{
    int64_t step = pb_int(b, "decoder_sparse_step", 1);
    if (step < 1)
        pb_fail(b, "config.json: decoder_sparse_step %lld is not positive", (long long)step);
    json_t *only = pb_cfg(b, "mlp_only_layers");
    if (only && !json_is_array(only))
        pb_fail(b, "config.json: mlp_only_layers is not a list of layer indices");
    for (int64_t li = 0; li < d->L && PB_OK(b); li++)
        d->moe.dense[li] = (li + 1) % step != 0;
    size_t i;
    json_t *v;
    json_array_foreach(only, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= d->L) {
            pb_fail(b, "config.json: mlp_only_layers[%zu] is not a layer index below %lld", i,
                    (long long)d->L);
            return;
        }
        d->moe.dense[json_integer_value(v)] = true;
    }
}

/* an expert's SwiGLU of h into out: down(act(gate(h)) * up(h)) */
static void swiglu(wg_pbuild *b, const pb_dec *d, const char *base, int64_t I, const char *const names[3],
                   const char *vg, const char *vu, int h, int out)
{
    int g = pb_act(b, vg, I), u = pb_act(b, vu, I);
    pb_matmul(b, h, pb_w(b, false, I, d->H, "%s%s.weight", base, names[0]), -1, g);
    pb_matmul(b, h, pb_w(b, false, I, d->H, "%s%s.weight", base, names[1]), -1, u);
    pb_glu(b, g, u, d->act);
    pb_matmul(b, g, pb_w(b, false, d->H, I, "%s%s.weight", base, names[2]), -1, out);
}

void pb_moe_mlp(wg_pbuild *b, const pb_dec *d, int64_t li, int h, int y)
{
    const pb_moe *m = &d->moe;
    char at[160], base[200];
    snprintf(at, sizeof at, "%slayers.%lld.%s.", d->prefix, (long long)li, m->block);
    static const char *const fused[] = {"experts.gate_up_proj", "experts.down_proj"};
    for (int i = 0; i < 2; i++)
        if (pb_has(b, "%s%s", at, fused[i]) || pb_has(b, "%slayers.%lld.mlp.%s", d->prefix, (long long)li, fused[i]))
            pb_fail(b, "%s program: %s%s holds every expert in one 3-D tensor (save_pretrained with "
                    "save_original_format=False): not implemented; experts saved one by one "
                    "(%sexperts.0.%s.weight, transformers' default) are", b->p->model_type, at, fused[i], at,
                    m->gate);
    int logits = pb_act(b, "router_logits", m->E), w = pb_act(b, "router_weights", m->E),
        out = pb_act(b, "expert_out", d->H);
    pb_matmul(b, h, pb_w(b, false, m->E, d->H, "%sgate.weight", at), -1, logits);
    pb_moe_router(b, logits, w, m->k, m->norm);
    const char *names[3] = {m->gate, m->up, m->down};
    for (int64_t e = 0; e < m->E && PB_OK(b); e++) {
        snprintf(base, sizeof base, "%sexperts.%lld.", at, (long long)e);
        swiglu(b, d, base, m->I, names, "expert_gate", "expert_up", h, out);
        pb_moe_add(b, y, w, e, out, e > 0);
    }
    if (!m->shared_I)
        return;
    /* Qwen2-MoE: out += sigmoid(shared_expert_gate(h)) * shared_expert(h) */
    static const char *const sn[3] = {"gate_proj", "up_proj", "down_proj"};
    snprintf(base, sizeof base, "%sshared_expert.", at);
    swiglu(b, d, base, m->shared_I, sn, "shared_gate", "shared_up", h, out);
    int sw = pb_act(b, "shared_weight", 1);
    pb_matmul(b, h, pb_w(b, false, 1, d->H, "%sshared_expert_gate.weight", at), -1, sw);
    pb_bias_act(b, sw, -1, 7, 1, 1);
    pb_moe_add(b, y, sw, 0, out, true);
}
