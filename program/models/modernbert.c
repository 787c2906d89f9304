/* program/models/modernbert.c — ModernBERT: x = LN(tok_embeddings[ids]); per layer
 * x += Wo.attn(LN_a(x)) (no LN_a in layer 0), x += Wo.(act(in) * gate)(LN_m(x)) with
 * [in | gate] = Wi.LN_m(x) (HF's chunk(2): the activation takes the first half); final_norm.
 * LayerNorms without bias unless norm_bias. Attention from the fused Wqkv ([3][heads][hd]
 * columns), rotate-half rotary, bidirectional: every global_attn_every_n_layers-th layer (from
 * layer 0) over every key with global_rope_theta's table, the others over keys at most
 * local_attention // 2 tokens away on either side with local_rope_theta's. Output:
 * last_hidden_state. */
#include "models.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* the theta of one layer type: rope_parameters[type] (transformers 5) or the older key */
static double layer_theta(wg_pbuild *b, const char *type, const char *old_key, double def)
{
    json_t *rp = pb_cfg(b, "rope_parameters"), *t = json_is_object(rp) ? json_object_get(rp, type) : NULL;
    double theta = pb_num(b, old_key, def);
    if (rp && !json_is_object(rp))
        pb_fail(b, "config.json: rope_parameters is not an object");
    if (!t || json_is_null(t))
        return theta;
    const char *k;
    json_t *v;
    json_object_foreach(t, k, v) {
        if (!strcmp(k, "rope_theta") && json_is_number(v))
            theta = json_number_value(v);
        else if (strcmp(k, "rope_type") || !json_is_string(v) || strcmp(json_string_value(v), "default"))
            pb_fail(b, "config.json: rope_parameters.%s.%s is not implemented (default rope only)", type, k);
    }
    return theta;
}

/* layer_types, where given, must be the global_attn_every_n_layers pattern: HF takes the
 * window from the pattern and the rotary table from layer_types */
static void check_layer_types(wg_pbuild *b, int64_t L, int64_t every)
{
    json_t *lt = pb_cfg(b, "layer_types");
    if (!lt)
        return;
    if (!json_is_array(lt) || (int64_t)json_array_size(lt) != L) {
        pb_fail(b, "config.json: layer_types is not an array of %lld layers", (long long)L);
        return;
    }
    for (int64_t i = 0; i < L; i++) {
        const char *s = json_string_value(json_array_get(lt, (size_t)i)),
                   *want = i % every ? "sliding_attention" : "full_attention";
        if (!s || strcmp(s, want)) {
            pb_fail(b, "config.json: layer_types[%lld] \"%s\" differs from global_attn_every_n_layers' "
                    "\"%s\" (not implemented)", (long long)i, s ? s : "?", want);
            return;
        }
    }
}

void wg_tpl_modernbert(wg_pbuild *b)
{
    wg_prog *p = b->p;
    const char *pre = pb_has(b, "model.embeddings.tok_embeddings.weight") ? "model." : "";
    int64_t H = pb_need(b, "hidden_size"), V = pb_need(b, "vocab_size"), nh = pb_need(b, "num_attention_heads"),
            L = pb_need(b, "num_hidden_layers"), I = pb_need(b, "intermediate_size"),
            NP = pb_need(b, "max_position_embeddings"), every = pb_int(b, "global_attn_every_n_layers", 3),
            local = pb_int(b, "local_attention", 128);
    double eps = pb_num(b, "norm_eps", 1e-5);
    bool nb = pb_bool(b, "norm_bias", false), ab = pb_bool(b, "attention_bias", false),
         mb = pb_bool(b, "mlp_bias", false);
    int act = pb_act_code(b, "hidden_activation", "gelu");
    double tg = layer_theta(b, "full_attention", "global_rope_theta", 160000),
           tl = layer_theta(b, "sliding_attention", "local_rope_theta", 10000);
    if (!PB_OK(b))
        return;
    if (H % nh || pb_int(b, "head_dim", H / nh) != H / nh)
        pb_fail(b, "config.json: head_dim is not hidden_size %lld / %lld heads", (long long)H, (long long)nh);
    if (every <= 0 || local < 2)
        pb_fail(b, "config.json: global_attn_every_n_layers %lld or local_attention %lld is not implemented",
                (long long)every, (long long)local);
    if (pb_int(b, "sliding_window", local / 2) != local / 2)
        pb_fail(b, "config.json: sliding_window differs from local_attention / 2");
    if (PB_OK(b))
        check_layer_types(b, L, every);
    if (!(tg > 1 && tg <= 1e12))
        pb_fail(b, "config.json: global rope_theta %g is out of range (1, 1e12]", tg);
    if (!PB_OK(b))
        return;
    int64_t hd = H / nh;
    pb_describe(b, false, "out", V, H, NP, "arange");
    p->has_rope = 1;
    p->rope_theta = tg;
    p->rope_rot = hd;
    pb_rope_local(b, tl);
    pb_attn a = {.heads = nh, .kv_heads = nh, .head_dim = hd, .rot = hd, .rope = true,
                 .mask = pb_input(b, "attention_mask"), .scale = 1 / sqrt((double)hd)};
#define NW(fmt, ...) pb_w(b, false, 1, H, "%s" fmt, pre, __VA_ARGS__)
#define NB(on, fmt, ...) ((on) ? pb_w(b, false, 1, H, "%s" fmt, pre, __VA_ARGS__) : -1)
    pb_stage(b, "embed");
    int x = pb_act(b, "x", H), e = pb_act(b, "e", H), hn = pb_act(b, "h", H), o = pb_act(b, "o", H);
    pb_gather(b, e, pb_w(b, false, V, H, "%sembeddings.tok_embeddings.weight", pre), pb_input(b, "input_ids"));
    pb_layernorm(b, e, NW("embeddings.norm.%s", "weight"), NB(nb, "embeddings.norm.%s", "bias"), x, eps);
    for (int64_t li = 0; li < L && PB_OK(b); li++) {
        long long l = (long long)li;
        pb_stage(b, "layer %lld", l);
        int qkv = pb_act(b, "qkv", 3 * H), q = pb_act(b, "q", H), k = pb_act(b, "k", H), v = pb_act(b, "v", H),
            att = pb_act(b, "att", H), wi = pb_act(b, "wi", 2 * I), g = pb_act(b, "gate", I),
            up = pb_act(b, "up", I);
        int in = x;
        if (li) {
            pb_layernorm(b, x, NW("layers.%lld.attn_norm.weight", l), NB(nb, "layers.%lld.attn_norm.bias", l),
                         hn, eps);
            in = hn;
        }
        pb_matmul(b, in, pb_w(b, false, 3 * H, H, "%slayers.%lld.attn.Wqkv.weight", pre, l),
                  ab ? pb_w(b, false, 1, 3 * H, "%slayers.%lld.attn.Wqkv.bias", pre, l) : -1, qkv);
        pb_slice(b, qkv, q, 0);
        pb_slice(b, qkv, k, H);
        pb_slice(b, qkv, v, 2 * H);
        a.rope_local = li % every != 0;
        a.window = a.rope_local ? local / 2 : 0;
        pb_attention(b, &a, (int)li, q, k, v, att);
        pb_matmul(b, att, pb_w(b, false, H, H, "%slayers.%lld.attn.Wo.weight", pre, l),
                  NB(ab, "layers.%lld.attn.Wo.bias", l), o);
        pb_add(b, x, o);
        pb_layernorm(b, x, NW("layers.%lld.mlp_norm.weight", l), NB(nb, "layers.%lld.mlp_norm.bias", l),
                     hn, eps);
        pb_matmul(b, hn, pb_w(b, false, 2 * I, H, "%slayers.%lld.mlp.Wi.weight", pre, l),
                  mb ? pb_w(b, false, 1, 2 * I, "%slayers.%lld.mlp.Wi.bias", pre, l) : -1, wi);
        pb_slice(b, wi, g, 0);
        pb_slice(b, wi, up, I);
        pb_glu(b, g, up, act);
        pb_matmul(b, g, pb_w(b, false, H, I, "%slayers.%lld.mlp.Wo.weight", pre, l),
                  NB(mb, "layers.%lld.mlp.Wo.bias", l), o);
        pb_add(b, x, o);
    }
    pb_stage(b, "head");
    pb_layernorm(b, x, NW("final_norm.%s", "weight"), NB(nb, "final_norm.%s", "bias"),
                 pb_act(b, "out", H), eps);
#undef NW
#undef NB
}
