/* program/models/gptlike.c — the LayerNorm decoders of the GPT design (pb_gpt): token (and
 * learned position) embeddings, pre-LN layers, q/k/v separate or in one matrix (three layouts),
 * attention and feed-forward in sequence or side by side, biases where the family has them, a
 * final LayerNorm and the head. GPT-2, GPT-BigCode, GPT-J, GPT-NeoX, Phi and OPT fill it. */
#include "models.h"

#include <math.h>
#include <stdio.h>

static int lw(wg_pbuild *b, const pb_gpt *g, int64_t li, const char *name, const char *what,
              int64_t rows, int64_t K)
{
    char pre[96];
    snprintf(pre, sizeof pre, g->layer, (long long)li);
    return pb_w(b, false, rows, K, "%s%s.%s", pre, name, what);
}

static void linear(wg_pbuild *b, const pb_gpt *g, int64_t li, const char *name, bool bias,
                   int64_t rows, int64_t K, int x, int y)
{
    pb_matmul(b, x, lw(b, g, li, name, "weight", rows, K), bias ? lw(b, g, li, name, "bias", 1, rows) : -1, y);
}

static void norm(wg_pbuild *b, const pb_gpt *g, int64_t li, const char *name, int x, int y)
{
    pb_layernorm(b, x, lw(b, g, li, name, "weight", 1, g->H),
                 g->ln_no_bias ? -1 : lw(b, g, li, name, "bias", 1, g->H), y, g->eps);
}

/* a LayerNorm outside the layers ("<name>.weight", "<name>.bias") */
static void top_norm(wg_pbuild *b, const pb_gpt *g, const char *name, int x, int y)
{
    pb_layernorm(b, x, pb_w(b, false, 1, g->H, "%s.weight", name),
                 g->ln_no_bias ? -1 : pb_w(b, false, 1, g->H, "%s.bias", name), y, g->eps);
}

/* q, k, v of one layer: separate matrices, or one with [q | k | v] (layout 0), per head
 * [h][q k v] (1: GPT-NeoX), per key/value group [q.. k v] (2: Falcon's new architecture), or in
 * CodeGen's four groups of [q v k] (3) */
static void qkv(wg_pbuild *b, const pb_gpt *g, int64_t li, int h, int q, int k, int v)
{
    int64_t hd = g->a.head_dim, Q = g->a.heads * hd, KV = g->a.kv_heads * hd;
    if (!g->qkv) {
        linear(b, g, li, g->q, g->qkv_bias, Q, g->H, h, q);
        linear(b, g, li, g->k, g->qkv_bias, KV, g->H, h, k);
        linear(b, g, li, g->v, g->qkv_bias, KV, g->H, h, v);
        return;
    }
    int f = pb_act(b, "qkv", Q + 2 * KV);
    linear(b, g, li, g->qkv, g->qkv_bias, Q + 2 * KV, g->H, h, f);
    if (g->qkv_layout == 0) {
        pb_slice(b, f, q, 0);
        pb_slice(b, f, k, Q);
        pb_slice(b, f, v, Q + KV);
    } else if (g->qkv_layout == 1) {
        pb_slice_groups(b, f, q, 0, hd, 3 * hd);
        pb_slice_groups(b, f, k, hd, hd, 3 * hd);
        pb_slice_groups(b, f, v, 2 * hd, hd, 3 * hd);
    } else if (g->qkv_layout == 3) {
        int64_t ld = Q / 4;
        pb_slice_groups(b, f, q, 0, ld, 3 * ld);
        pb_slice_groups(b, f, v, ld, ld, 3 * ld);
        pb_slice_groups(b, f, k, 2 * ld, ld, 3 * ld);
    } else {
        int64_t r = g->a.heads / g->a.kv_heads, gs = (r + 2) * hd;
        pb_slice_groups(b, f, q, 0, r * hd, gs);
        pb_slice_groups(b, f, k, r * hd, hd, gs);
        pb_slice_groups(b, f, v, (r + 1) * hd, hd, gs);
    }
}

static void block(wg_pbuild *b, const pb_gpt *g, int64_t li, int x, int h, int h2, int o, int m)
{
    int64_t Q = g->a.heads * g->a.head_dim, KV = g->a.kv_heads * g->a.head_dim;
    int q = pb_act(b, "q", Q), k = pb_act(b, "k", KV), v = pb_act(b, "v", KV), att = pb_act(b, "att", Q),
        f = pb_act(b, "gate", g->I);
    norm(b, g, li, g->ln1, x, h);
    qkv(b, g, li, h, q, k, v);
    pb_attn a = g->a;
    a.window = g->window_of[li];
    pb_attention(b, &a, (int)li, q, k, v, att);
    linear(b, g, li, g->o, g->o_bias, g->H, Q, att, o);
    int hm = h;
    if (!g->parallel) {
        pb_add(b, x, o);
        norm(b, g, li, g->ln2, x, h);
    } else if (g->ln2) {
        norm(b, g, li, g->ln2, x, h2);
        hm = h2;
    }
    linear(b, g, li, g->fc1, g->mlp_bias, g->I, g->H, hm, f);
    pb_bias_act(b, f, -1, g->act, 1, 1);
    linear(b, g, li, g->fc2, g->mlp_bias, g->H, g->I, f, m);
    if (g->parallel)
        pb_add(b, m, o);
}

bool pb_gpt_attn(wg_pbuild *b, pb_gpt *g, int64_t nh, int64_t nkv, const char *key)
{
    if (!PB_OK(b))
        return false;
    if (nh <= 0 || g->H % nh || nkv <= 0 || nh % nkv)
        return pb_fail(b, "config.json: hidden size %lld, %s %lld and %lld key/value heads do not divide",
                       (long long)g->H, key, (long long)nh, (long long)nkv);
    int64_t hd = g->H / nh;
    g->a = (pb_attn){.heads = nh, .kv_heads = nkv, .head_dim = hd, .causal = true, .mask = -1,
                     .scale = 1 / sqrt((double)hd)};
    return true;
}

void pb_gpt_decoder(wg_pbuild *b, const pb_gpt *g)
{
    wg_prog *p = b->p;
    if (!PB_OK(b))
        return;
    if (g->L > 1024) {
        pb_fail(b, "config.json: %lld layers: more than the 1024 the program builder takes", (long long)g->L);
        return;
    }
    pb_describe(b, true, "logits", g->V, g->H, g->NP, "arange");
    p->pos_offset = g->pos_offset;
    if (g->a.rope)
        pb_rope(b, 10000, g->a.rot);
    pb_stage(b, "embed");
    int x = pb_act(b, "x", g->H), h = pb_act(b, "h", g->H), o = pb_act(b, "o", g->H),
        m = pb_act(b, "m", g->H), h2 = g->parallel && g->ln2 ? pb_act(b, "h2", g->H) : -1;
    int wte = pb_w(b, false, g->V, g->H, "%s.weight", g->wte);
    pb_gather(b, x, wte, pb_input(b, "input_ids"));
    if (g->embed_mult && g->embed_mult != 1)
        pb_bias_act(b, x, -1, 0, 1, g->embed_mult);
    if (g->emb_ln) {
        top_norm(b, g, g->emb_ln, x, h);
        pb_slice(b, h, x, 0);
    }
    if (g->wpe) {
        pb_gather(b, h, pb_w(b, false, g->NP + g->pos_offset, g->H, "%s.weight", g->wpe),
                  pb_input(b, "position_ids"));
        pb_add(b, x, h);
    }
    for (int64_t li = 0; li < g->L && PB_OK(b); li++) {
        pb_stage(b, "layer %lld", (long long)li);
        if (li)
            pb_add(b, x, m);
        block(b, g, li, x, h, h2, o, m);
    }
    pb_stage(b, "head");
    if (g->L)
        pb_add(b, x, m);
    top_norm(b, g, g->ln_f, x, h);
    int head = g->head ? pb_w(b, true, g->V, g->H, "%s.weight", g->head) : -1;
    int logits = pb_act(b, "logits", g->V);
    pb_matmul(b, h, head >= 0 ? head : wte, g->head_bias ? pb_w(b, false, 1, g->V, "%s.bias", g->head) : -1,
              logits);
}
