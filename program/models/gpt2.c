/* program/models/gpt2.c — GPT-2: learned positions, pre-LayerNorm layers with q, k and v in one
 * Conv1D matrix (c_attn, stored [in, out]: the bundle's matrix view is [out][in]), biases
 * everywhere, a GELU feed-forward, the head tied to the token embeddings. */
#include "models.h"

#include <math.h>
#include <string.h>

void wg_tpl_gpt2(wg_pbuild *b)
{
    wg_prog *p = b->p;
    int64_t L = pb_need(b, "n_layer"), H = pb_need(b, "n_embd"), V = pb_need(b, "vocab_size"),
            NP = pb_need(b, "n_positions"), nh = pb_need(b, "n_head");
    int64_t I = pb_int(b, "n_inner", 4 * H), hd = nh ? H / nh : 0;
    double eps = pb_num(b, "layer_norm_epsilon", 1e-5);
    int act = pb_act_code(b, "activation_function", "gelu_new");
    bool scaled = pb_bool(b, "scale_attn_weights", true);
    pb_bool(b, "reorder_and_upcast_attn", false); /* upcasting only: f32 computes the same */
    if (!PB_OK(b))
        return;
    if (H % nh)
        pb_fail(b, "config.json: n_embd %lld is not a multiple of n_head %lld", (long long)H,
                (long long)nh);
    const char *pre = pb_has(b, "transformer.wte.weight") ? "transformer." : "";
    snprintf(p->task, sizeof p->task, "causal-lm");
    snprintf(p->output, sizeof p->output, "logits");
    snprintf(p->output_name, sizeof p->output_name, "logits");
    snprintf(p->positions, sizeof p->positions, "arange");
    p->vocab = V;
    p->hidden = H;
    p->max_positions = NP;
    pb_attn a = {.heads = nh, .kv_heads = nh, .head_dim = hd, .causal = true, .mask = -1,
                 .scale = scaled ? 1 / sqrt((double)hd) : 1};
    pb_stage(b, "embed");
    int x = pb_act(b, "x", H), e = pb_act(b, "h", H), o = pb_act(b, "o", H), m = pb_act(b, "m", H);
    int wte = pb_w(b, false, V, H, "%swte.weight", pre);
    pb_gather(b, x, wte, pb_input(b, "input_ids"));
    pb_gather(b, e, pb_w(b, false, NP, H, "%swpe.weight", pre), pb_input(b, "position_ids"));
    pb_add(b, x, e);
    int pend = -1, h = e;
    for (int64_t li = 0; li < L && PB_OK(b); li++) {
        pb_stage(b, "layer %lld", (long long)li);
#define LW(rows, K, name) pb_w(b, false, rows, K, "%sh.%lld." name, pre, (long long)li)
        if (pend >= 0)
            pb_add(b, x, pend);
        pb_layernorm(b, x, LW(1, H, "ln_1.weight"), LW(1, H, "ln_1.bias"), h, eps);
        int qkv = pb_act(b, "qkv", 3 * H), q = pb_act(b, "q", H), k = pb_act(b, "k", H),
            v = pb_act(b, "v", H), att = pb_act(b, "att", H);
        pb_matmul(b, h, LW(3 * H, H, "attn.c_attn.weight"), LW(1, 3 * H, "attn.c_attn.bias"), qkv);
        pb_slice(b, qkv, q, 0);
        pb_slice(b, qkv, k, H);
        pb_slice(b, qkv, v, 2 * H);
        pb_attention(b, &a, (int)li, q, k, v, att);
        pb_matmul(b, att, LW(H, H, "attn.c_proj.weight"), LW(1, H, "attn.c_proj.bias"), o);
        pb_add(b, x, o);
        pb_layernorm(b, x, LW(1, H, "ln_2.weight"), LW(1, H, "ln_2.bias"), h, eps);
        int f = pb_act(b, "gate", I);
        pb_matmul(b, h, LW(I, H, "mlp.c_fc.weight"), LW(1, I, "mlp.c_fc.bias"), f);
        pb_bias_act(b, f, -1, act, 1, 1);
        pb_matmul(b, f, LW(H, I, "mlp.c_proj.weight"), LW(1, H, "mlp.c_proj.bias"), m);
        pend = m;
#undef LW
    }
    pb_stage(b, "head");
    if (pend >= 0)
        pb_add(b, x, pend);
    pb_layernorm(b, x, pb_w(b, false, 1, H, "%sln_f.weight", pre), pb_w(b, false, 1, H, "%sln_f.bias", pre),
                 h, eps);
    int head = pb_w(b, true, V, H, "lm_head.weight");
    int logits = pb_act(b, "logits", V);
    pb_matmul(b, h, head >= 0 ? head : wte, -1, logits);
}
