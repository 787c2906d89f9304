/* program/models/vit.c — Vision Transformers: ViT and DeiT (its distillation token: two leading
 * tokens). The image, pixel_values [channels][height][width] as the processor made it, is cut
 * into patch x patch squares (the patch embedding is a stride-patch convolution, so a matmul of
 * each square by the conv weight's matrix view [hidden][channels * patch * patch]); the CLS (and
 * distillation) token rows lead; the learned position embeddings [1][tokens][hidden] are added
 * as they are (image sizes other than config.json's image_size, which HF interpolates to, are
 * not implemented). Pre-LN layers: x += Wo.attn(LN_before(x)), x += W2.act(W1.LN_after(x));
 * bidirectional attention over every token; the final LayerNorm gives last_hidden_state. The
 * image classifier (ViTForImageClassification, DeiTForImageClassification) reads the first
 * token; the pooler of the base model and DeiT's teacher head are not implemented (no head). */
#include "models.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* image_size / patch_size: an integer or [height, width] */
static void vit_sides(wg_pbuild *b, const char *key, int64_t def, int64_t *h, int64_t *w)
{
    json_t *v = pb_cfg(b, key);
    if (json_is_array(v) && json_array_size(v) == 2 && json_is_integer(json_array_get(v, 0)) &&
        json_is_integer(json_array_get(v, 1))) {
        *h = json_integer_value(json_array_get(v, 0));
        *w = json_integer_value(json_array_get(v, 1));
    } else {
        *h = *w = pb_int(b, key, def);
    }
    if (*h <= 0 || *w <= 0 || *h > 1 << 14 || *w > 1 << 14)
        pb_fail(b, "config.json: %s is not a positive size", key);
}

static void vit_image(wg_pbuild *b, int first)
{
    wg_prog *p = b->p;
    int64_t ph, pw;
    vit_sides(b, "image_size", 224, &p->img_height, &p->img_width);
    vit_sides(b, "patch_size", 16, &ph, &pw);
    p->img_channels = pb_int(b, "num_channels", 3);
    if (!PB_OK(b))
        return;
    if (ph != pw)
        pb_fail(b, "config.json: patch_size %lldx%lld: only square patches are implemented", (long long)ph,
                (long long)pw);
    else if (p->img_height % ph || p->img_width % ph)
        pb_fail(b, "config.json: image_size %lldx%lld is not a multiple of patch_size %lld",
                (long long)p->img_height, (long long)p->img_width, (long long)ph);
    else if (p->img_channels < 1 || p->img_channels > 16)
        pb_fail(b, "config.json: num_channels %lld is not implemented", (long long)p->img_channels);
    p->img_patch = ph;
    p->img_tokens = first + (p->img_height / ph) * (p->img_width / ph);
}

void wg_tpl_vit(wg_pbuild *b)
{
    wg_prog *p = b->p;
    bool deit = !strcmp(p->model_type, "deit");
    static const char *const prefixes[] = {"vit.", "deit.", ""};
    const char *pre = "";
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (pb_has(b, "%sembeddings.cls_token", prefixes[i])) {
            pre = prefixes[i];
            break;
        }
    int64_t H = pb_need(b, "hidden_size"), nh = pb_need(b, "num_attention_heads"),
            L = pb_need(b, "num_hidden_layers"), I = pb_need(b, "intermediate_size");
    double eps = pb_num(b, "layer_norm_eps", 1e-12);
    int act = pb_act_code(b, "hidden_act", "gelu");
    bool qkv_bias = pb_bool(b, "qkv_bias", true);
    int first = deit ? 2 : 1;
    vit_image(b, first);
    if (!PB_OK(b))
        return;
    if (H % nh)
        pb_fail(b, "config.json: hidden size %lld is not a multiple of %lld heads", (long long)H, (long long)nh);
    int64_t T = p->img_tokens, C = p->img_channels, ps = p->img_patch, K = C * ps * ps;
    pb_describe(b, false, "x", 0, H, T, "arange");
    pb_attn a = {.heads = nh, .kv_heads = nh, .head_dim = H / nh, .mask = pb_input(b, "attention_mask"),
                 .scale = 1 / sqrt((double)(H / nh))};
    pb_stage(b, "embed");
    int x = pb_act(b, "x", H), h = pb_act(b, "h", H), o = pb_act(b, "o", H), pt = pb_act(b, "patch", K);
    pb_patches(b, pb_input(b, "pixel_values"), pt, first);
    pb_matmul(b, pt, pb_w(b, false, H, K, "%sembeddings.patch_embeddings.projection.weight", pre),
              pb_w(b, false, 1, H, "%sembeddings.patch_embeddings.projection.bias", pre), x);
    pb_set_row(b, x, pb_w(b, false, 1, H, "%sembeddings.cls_token", pre), 0);
    if (deit)
        pb_set_row(b, x, pb_w(b, false, 1, H, "%sembeddings.distillation_token", pre), 1);
    pb_add_flat(b, x, pb_w(b, false, 1, T * H, "%sembeddings.position_embeddings", pre));
    for (int64_t li = 0; li < L && PB_OK(b); li++) {
        pb_stage(b, "layer %lld", (long long)li);
#define LW(rows, K_, nm) pb_w(b, false, rows, K_, "%sencoder.layer.%lld." nm, pre, (long long)li)
#define LB(rows, nm) pb_w(b, !qkv_bias, 1, rows, "%sencoder.layer.%lld." nm, pre, (long long)li)
        int q = pb_act(b, "q", H), k = pb_act(b, "k", H), v = pb_act(b, "v", H), att = pb_act(b, "att", H),
            f = pb_act(b, "f", I);
        pb_layernorm(b, x, LW(1, H, "layernorm_before.weight"), LW(1, H, "layernorm_before.bias"), h, eps);
        pb_matmul(b, h, LW(H, H, "attention.attention.query.weight"), LB(H, "attention.attention.query.bias"), q);
        pb_matmul(b, h, LW(H, H, "attention.attention.key.weight"), LB(H, "attention.attention.key.bias"), k);
        pb_matmul(b, h, LW(H, H, "attention.attention.value.weight"), LB(H, "attention.attention.value.bias"), v);
        pb_attention(b, &a, (int)li, q, k, v, att);
        pb_matmul(b, att, LW(H, H, "attention.output.dense.weight"), LW(1, H, "attention.output.dense.bias"), o);
        pb_add(b, x, o);
        pb_layernorm(b, x, LW(1, H, "layernorm_after.weight"), LW(1, H, "layernorm_after.bias"), h, eps);
        pb_matmul(b, h, LW(I, H, "intermediate.dense.weight"), LW(1, I, "intermediate.dense.bias"), f);
        pb_bias_act(b, f, -1, act, 1, 1);
        pb_matmul(b, f, LW(H, I, "output.dense.weight"), LW(1, H, "output.dense.bias"), o);
        pb_add(b, x, o);
#undef LW
#undef LB
    }
    pb_stage(b, "final");
    int y = pb_act(b, "y", H);
    pb_layernorm(b, x, pb_w(b, false, 1, H, "%slayernorm.weight", pre), pb_w(b, false, 1, H, "%slayernorm.bias", pre),
                 y, eps);
    snprintf(p->output, sizeof p->output, "y");
    pb_enc_head e = {.H = H, .seq_out = "classifier"};
    pb_encoder_head(b, &e, y);
}
