/* program/models/decoder.c — the pre-norm decoder of the Llama design with its variants' switches
 * (pb_dec): the stages every decoder template of this folder fills. */
#include "models.h"

#include <math.h>
#include <string.h>

void pb_dec_defaults(wg_pbuild *b, pb_dec *d)
{
    memset(d, 0, sizeof *d);
    d->prefix = "model.";
    d->L = pb_need(b, "num_hidden_layers");
    d->H = pb_need(b, "hidden_size");
    d->I = pb_need(b, "intermediate_size");
    d->V = pb_need(b, "vocab_size");
    d->a.heads = pb_need(b, "num_attention_heads");
    d->a.kv_heads = pb_int(b, "num_key_value_heads", d->a.heads);
    d->a.head_dim = pb_int(b, "head_dim", d->a.heads ? d->H / d->a.heads : 0);
    d->a.causal = d->a.rope = true;
    d->a.mask = -1;
    d->a.scale = d->a.head_dim ? 1.0 / sqrt((double)d->a.head_dim) : 0;
    double pr = pb_partial_rotary(b, 1);
    d->a.rot = (int64_t)(d->a.head_dim * pr);
    d->eps = pb_num(b, "rms_norm_eps", 1e-6);
    d->embed_mult = d->residual_mult = d->logits_mult = 1;
    d->act = pb_act_code(b, "hidden_act", "silu");
    if (d->L > 1024)
        pb_fail(b, "config.json: %lld layers: more than the 1024 the program builder takes",
                (long long)d->L);
}

/* the window of each layer: config.json's layer_types where given, else `rule`: 'a' every
 * layer (Mistral, Starcoder 2), 'q' Qwen's use_sliding_window from max_window_layers on, 'e'
 * even layers (Gemma 2), 0 none (a sliding_window key is then refused unless used) */
void pb_dec_windows(wg_pbuild *b, pb_dec *d, char rule)
{
    json_t *lt = pb_cfg(b, "layer_types");
    if (!lt && !rule)
        return; /* a sliding_window left unclaimed is refused */
    int64_t w = pb_int(b, "sliding_window", 0);
    if (lt) {
        if (!json_is_array(lt) || (int64_t)json_array_size(lt) != d->L) {
            pb_fail(b, "config.json: layer_types is not a list of %lld layer types", (long long)d->L);
            return;
        }
        for (int64_t i = 0; i < d->L; i++) {
            const char *s = json_string_value(json_array_get(lt, (size_t)i));
            if (s && !strcmp(s, "sliding_attention"))
                d->window_of[i] = w;
            else if (!s || strcmp(s, "full_attention"))
                pb_fail(b, "config.json: layer_types[%lld] \"%s\" is not implemented", (long long)i,
                        s ? s : "?");
        }
        if (w <= 0)
            for (int64_t i = 0; i < d->L && PB_OK(b); i++)
                if (d->window_of[i])
                    pb_fail(b, "config.json: sliding layers without a sliding_window");
        return;
    }
    bool on = rule == 'a' || rule == 'e' ||
              (rule == 'q' && pb_bool(b, "use_sliding_window", false));
    int64_t from = rule == 'q' ? pb_int(b, "max_window_layers", 0) : 0;
    for (int64_t i = 0; i < d->L && on && w > 0; i++)
        d->window_of[i] = (rule == 'e' ? i % 2 == 0 : i >= from) ? w : 0;
}

/* y = norm(x) after x += pend (fused in the RMSNorm kernel; an add before a LayerNorm) */
static void norm(wg_pbuild *b, const pb_dec *d, int x, int pend, int w, int bias, int y)
{
    if (!d->layernorm) {
        pb_rmsnorm(b, x, pend, w, y, d->eps, d->norm_off, d->H);
        return;
    }
    if (pend >= 0)
        pb_add(b, x, pend);
    pb_layernorm(b, x, w, bias, y, d->eps);
}

static int nw(wg_pbuild *b, const pb_dec *d, int64_t li, const char *name)
{
    if (d->norm_bare)
        return -1;
    return li < 0 ? pb_w(b, false, 1, d->H, "%s%s.weight", d->prefix, name)
                  : pb_w(b, false, 1, d->H, "%slayers.%lld.%s.weight", d->prefix, (long long)li, name);
}

static int nb(wg_pbuild *b, const pb_dec *d, int64_t li, const char *name)
{
    if (!d->norm_bias)
        return -1;
    return li < 0 ? pb_w(b, false, 1, d->H, "%s%s.bias", d->prefix, name)
                  : pb_w(b, false, 1, d->H, "%slayers.%lld.%s.bias", d->prefix, (long long)li, name);
}

#define LW(opt, rows, K, name) \
    pb_w(b, opt, rows, K, "%slayers.%lld." name, d->prefix, (long long)li)

static void attention(wg_pbuild *b, const pb_dec *d, int64_t li, int h, int o)
{
    int64_t Q = d->a.heads * d->a.head_dim, KV = d->a.kv_heads * d->a.head_dim;
    int q = pb_act(b, "q", Q), k = pb_act(b, "k", KV), v = pb_act(b, "v", KV);
    if (d->fused_qkv) {
        int qkv = pb_act(b, "qkv", Q + 2 * KV);
        pb_matmul(b, h, LW(false, Q + 2 * KV, d->H, "self_attn.qkv_proj.weight"),
                  d->qkv_bias ? LW(false, 1, Q + 2 * KV, "self_attn.qkv_proj.bias") : -1, qkv);
        pb_slice(b, qkv, q, 0);
        pb_slice(b, qkv, k, Q);
        pb_slice(b, qkv, v, Q + KV);
    } else {
        pb_matmul(b, h, LW(false, Q, d->H, "self_attn.q_proj.weight"),
                  d->qkv_bias ? LW(false, 1, Q, "self_attn.q_proj.bias") : -1, q);
        pb_matmul(b, h, LW(false, KV, d->H, "self_attn.k_proj.weight"),
                  d->qkv_bias ? LW(false, 1, KV, "self_attn.k_proj.bias") : -1, k);
        pb_matmul(b, h, LW(false, KV, d->H, "self_attn.v_proj.weight"),
                  d->qkv_bias ? LW(false, 1, KV, "self_attn.v_proj.bias") : -1, v);
    }
    if (d->qk_norm) {
        int64_t nq = d->qk_norm == 1 ? d->a.head_dim : Q, nk = d->qk_norm == 1 ? d->a.head_dim : KV;
        int qn = pb_act(b, "q_normed", Q), kn = pb_act(b, "k_normed", KV);
        pb_rmsnorm(b, q, -1, LW(false, 1, nq, "self_attn.q_norm.weight"), qn, d->eps, d->norm_off, nq);
        pb_rmsnorm(b, k, -1, LW(false, 1, nk, "self_attn.k_norm.weight"), kn, d->eps, d->norm_off, nk);
        q = qn;
        k = kn;
    }
    pb_attn a = d->a;
    a.window = d->window_of[li];
    a.rope_local = d->local_rope && a.window > 0;
    int att = pb_act(b, "att", Q);
    pb_attention(b, &a, (int)li, q, k, v, att);
    pb_matmul(b, att, LW(false, d->H, Q, "self_attn.o_proj.weight"),
              d->o_bias ? LW(false, 1, d->H, "self_attn.o_proj.bias") : -1, o);
}

static void mlp(wg_pbuild *b, const pb_dec *d, int64_t li, int h, int m)
{
    if (d->moe.E && !d->moe.dense[li]) {
        pb_moe_mlp(b, d, li, h, m);
        return;
    }
    int g = pb_act(b, "gate", d->I), u = pb_act(b, "up", d->I);
    if (d->plain_mlp) {
        pb_matmul(b, h, LW(false, d->I, d->H, "mlp.c_fc.weight"),
                  d->mlp_bias ? LW(false, 1, d->I, "mlp.c_fc.bias") : -1, g);
        pb_bias_act(b, g, -1, d->act, 1, 1);
        pb_matmul(b, g, LW(false, d->H, d->I, "mlp.c_proj.weight"),
                  d->mlp_bias ? LW(false, 1, d->H, "mlp.c_proj.bias") : -1, m);
        return;
    }
    if (d->fused_gate_up) {
        int gu = pb_act(b, "gate_up", 2 * d->I);
        pb_matmul(b, h, LW(false, 2 * d->I, d->H, "mlp.gate_up_proj.weight"), -1, gu);
        pb_slice(b, gu, g, 0);
        pb_slice(b, gu, u, d->I);
    } else {
        pb_matmul(b, h, LW(false, d->I, d->H, "mlp.gate_proj.weight"),
                  d->mlp_bias ? LW(false, 1, d->I, "mlp.gate_proj.bias") : -1, g);
        pb_matmul(b, h, LW(false, d->I, d->H, "mlp.up_proj.weight"),
                  d->mlp_bias ? LW(false, 1, d->I, "mlp.up_proj.bias") : -1, u);
    }
    pb_glu(b, g, u, d->act);
    pb_matmul(b, g, LW(false, d->H, d->I, "mlp.down_proj.weight"),
              d->mlp_bias ? LW(false, 1, d->H, "mlp.down_proj.bias") : -1, m);
}

static void scaled(wg_pbuild *b, int v, double mult)
{
    if (mult != 1)
        pb_bias_act(b, v, -1, 0, 1, mult);
}

void pb_decoder(wg_pbuild *b, const pb_dec *d)
{
    wg_prog *p = b->p;
    pb_describe(b, true, "logits", d->V, d->H, p->max_positions, "arange");
    if (d->a.rope)
        pb_rope(b, 10000, d->a.rot);
    if (d->local_rope)
        pb_rope_local(b, d->local_theta);
    pb_stage(b, "embed");
    int x = pb_act(b, "x", d->H), h = pb_act(b, "h", d->H), o = pb_act(b, "o", d->H),
        m = pb_act(b, "m", d->H);
    int embed = pb_w(b, false, d->V, d->H, "%sembed_tokens.weight", d->prefix);
    pb_gather(b, x, embed, pb_input(b, "input_ids"));
    scaled(b, x, d->embed_mult);
    int pend = -1;
    for (int64_t li = 0; li < d->L && PB_OK(b); li++) {
        pb_stage(b, "layer %lld", (long long)li);
        if (d->post_only) {
            if (pend >= 0)
                pb_add(b, x, pend);
            attention(b, d, li, x, o);
            pb_rmsnorm(b, o, -1, nw(b, d, li, "post_attention_layernorm"), h, d->eps, d->norm_off, d->H);
            pb_add(b, x, h);
            mlp(b, d, li, x, o);
            pb_rmsnorm(b, o, -1, nw(b, d, li, "post_feedforward_layernorm"), m, d->eps, d->norm_off, d->H);
            pend = m;
            continue;
        }
        norm(b, d, x, pend, nw(b, d, li, "input_layernorm"), nb(b, d, li, "input_layernorm"), h);
        attention(b, d, li, h, o);
        if (d->parallel) {
            mlp(b, d, li, h, m);
            pb_add(b, o, m);
            pend = o;
            continue;
        }
        int after = o;
        if (d->sandwich) {
            pb_rmsnorm(b, o, -1, nw(b, d, li, "post_attention_layernorm"), m, d->eps, d->norm_off, d->H);
            after = m;
        }
        scaled(b, after, d->residual_mult);
        const char *ln2 = d->sandwich ? "pre_feedforward_layernorm" : "post_attention_layernorm";
        norm(b, d, x, after, nw(b, d, li, ln2), nb(b, d, li, ln2), h);
        mlp(b, d, li, h, o);
        pend = o;
        if (d->sandwich) {
            pb_rmsnorm(b, o, -1, nw(b, d, li, "post_feedforward_layernorm"), m, d->eps, d->norm_off, d->H);
            pend = m;
        }
        scaled(b, pend, d->residual_mult);
    }
    pb_stage(b, "head");
    norm(b, d, x, pend, nw(b, d, -1, "norm"), nb(b, d, -1, "norm"), h);
    int head = pb_w(b, true, d->V, d->H, "lm_head.weight");
    if (head < 0)
        head = embed; /* tied: the checkpoint stores the embeddings once */
    int logits = pb_act(b, "logits", d->V);
    pb_matmul(b, h, head, -1, logits);
    scaled(b, logits, d->logits_mult);
    if (d->final_softcap > 0)
        pb_bias_act(b, logits, -1, 6, 1 / d->final_softcap, d->final_softcap);
}
