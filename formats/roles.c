/* formats/roles.c — classify tensors: family, component, role, layer.
 *
 * The rules are data: one row per (family, name pattern). Patterns are globs where `*` matches
 * any run of characters, `?` one character, and `#` a run of decimal digits whose value is the
 * tensor's layer index (the first `#` captures). Order of precedence for a tensor:
 *   1. the user's rules file (--rules FILE), first matching row wins;
 *   2. the detected family's rows, first matching row wins;
 *   3. the generic rows (any family);
 *   4. for ONNX, the op that consumes the initializer (Gather -> embedding, Conv -> conv,
 *      MatMul/Gemm -> linear, *Normalization -> norm, 1-D into Add -> bias).
 * The family comes from config.json's model_type when there is one, else from whichever
 * family's rows match the most tensors. */
#include "model.h"
#include "model_internal.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IN_OUT 1 /* weight stored [in, out] (GPT-2 Conv1D) */

typedef struct rule {
    const char *family, *pattern;
    wg_role role;
    const char *component; /* NULL: family default for layered tensors, else "model" */
    int flags;
} rule;

#define R(f, p, r, c) {f, p, WG_ROLE_##r, c, 0}
#define RF(f, p, r, c, fl) {f, p, WG_ROLE_##r, c, fl}
static const rule builtin[] = {
    /* Llama / Mistral / Qwen2 / Qwen3 / Gemma / Phi-3 naming */
    R("llama", "*embed_tokens.weight", EMBEDDING, "embeddings"),
    R("llama", "*layers.#.self_attn.q_proj.weight", ATTN_Q, "decoder"),
    R("llama", "*layers.#.self_attn.k_proj.weight", ATTN_K, "decoder"),
    R("llama", "*layers.#.self_attn.v_proj.weight", ATTN_V, "decoder"),
    R("llama", "*layers.#.self_attn.qkv_proj.weight", ATTN_QKV, "decoder"),
    R("llama", "*layers.#.self_attn.o_proj.weight", ATTN_OUT, "decoder"),
    R("llama", "*layers.#.mlp.gate_proj.weight", FFN_GATE, "decoder"),
    R("llama", "*layers.#.mlp.up_proj.weight", FFN_UP, "decoder"),
    R("llama", "*layers.#.mlp.gate_up_proj.weight", FFN_UP, "decoder"),
    R("llama", "*layers.#.mlp.down_proj.weight", FFN_DOWN, "decoder"),
    R("llama", "*layers.#.*norm*", NORM, "decoder"),
    R("llama", "*layers.#.*bias", BIAS, "decoder"),
    R("llama", "*model.norm.weight", NORM, "head"),
    R("llama", "norm.weight", NORM, "head"),
    R("llama", "lm_head.weight", HEAD, "head"),
    /* GPT-2 (Conv1D weights are [in, out]) */
    R("gpt2", "*wte.weight", EMBEDDING, "embeddings"),
    R("gpt2", "*wpe.weight", POS_EMBEDDING, "embeddings"),
    RF("gpt2", "*h.#.attn.c_attn.weight", ATTN_QKV, "decoder", IN_OUT),
    RF("gpt2", "*h.#.attn.c_proj.weight", ATTN_OUT, "decoder", IN_OUT),
    RF("gpt2", "*h.#.mlp.c_fc.weight", FFN_UP, "decoder", IN_OUT),
    RF("gpt2", "*h.#.mlp.c_proj.weight", FFN_DOWN, "decoder", IN_OUT),
    R("gpt2", "*h.#.ln_?.*", NORM, "decoder"),
    R("gpt2", "*h.#.*.bias", BIAS, "decoder"),
    R("gpt2", "*h.#.attn.*", OTHER, "decoder"),
    R("gpt2", "*ln_f.*", NORM, "head"),
    R("gpt2", "lm_head.weight", HEAD, "head"),
    /* BERT / RoBERTa */
    R("bert", "*embeddings.word_embeddings.weight", EMBEDDING, "embeddings"),
    R("bert", "*embeddings.position_embeddings.weight", POS_EMBEDDING, "embeddings"),
    R("bert", "*embeddings.token_type_embeddings.weight", POS_EMBEDDING, "embeddings"),
    R("bert", "*embeddings.LayerNorm.*", NORM, "embeddings"),
    R("bert", "*encoder.layer.#.attention.self.query.weight", ATTN_Q, "text_encoder"),
    R("bert", "*encoder.layer.#.attention.self.key.weight", ATTN_K, "text_encoder"),
    R("bert", "*encoder.layer.#.attention.self.value.weight", ATTN_V, "text_encoder"),
    R("bert", "*encoder.layer.#.attention.output.dense.weight", ATTN_OUT, "text_encoder"),
    R("bert", "*encoder.layer.#.intermediate.dense.weight", FFN_UP, "text_encoder"),
    R("bert", "*encoder.layer.#.output.dense.weight", FFN_DOWN, "text_encoder"),
    R("bert", "*encoder.layer.#.*LayerNorm.*", NORM, "text_encoder"),
    R("bert", "*encoder.layer.#.*bias", BIAS, "text_encoder"),
    R("bert", "*pooler.dense.weight", LINEAR, "head"),
    R("bert", "*pooler.dense.bias", BIAS, "head"),
    R("bert", "*cls.predictions.decoder.weight", HEAD, "head"),
    R("bert", "*cls.predictions.transform.dense.weight", LINEAR, "head"),
    R("bert", "*cls.*LayerNorm.*", NORM, "head"),
    R("bert", "classifier.weight", HEAD, "head"),
    /* T5 */
    R("t5", "shared.weight", EMBEDDING, "embeddings"),
    R("t5", "*coder.embed_tokens.weight", EMBEDDING, "embeddings"),
    R("t5", "encoder.block.#.layer.?.SelfAttention.q.weight", ATTN_Q, "text_encoder"),
    R("t5", "encoder.block.#.layer.?.SelfAttention.k.weight", ATTN_K, "text_encoder"),
    R("t5", "encoder.block.#.layer.?.SelfAttention.v.weight", ATTN_V, "text_encoder"),
    R("t5", "encoder.block.#.layer.?.SelfAttention.o.weight", ATTN_OUT, "text_encoder"),
    R("t5", "encoder.block.#.layer.?.SelfAttention.relative_attention_bias.weight", POS_EMBEDDING, "text_encoder"),
    R("t5", "encoder.block.#.layer.?.DenseReluDense.wi.weight", FFN_UP, "text_encoder"),
    R("t5", "encoder.block.#.layer.?.DenseReluDense.wi_0.weight", FFN_GATE, "text_encoder"),
    R("t5", "encoder.block.#.layer.?.DenseReluDense.wi_1.weight", FFN_UP, "text_encoder"),
    R("t5", "encoder.block.#.layer.?.DenseReluDense.wo.weight", FFN_DOWN, "text_encoder"),
    R("t5", "encoder.block.#.layer.?.layer_norm.weight", NORM, "text_encoder"),
    R("t5", "encoder.final_layer_norm.weight", NORM, "text_encoder"),
    R("t5", "decoder.block.#.layer.?.*Attention.q.weight", ATTN_Q, "decoder"),
    R("t5", "decoder.block.#.layer.?.*Attention.k.weight", ATTN_K, "decoder"),
    R("t5", "decoder.block.#.layer.?.*Attention.v.weight", ATTN_V, "decoder"),
    R("t5", "decoder.block.#.layer.?.*Attention.o.weight", ATTN_OUT, "decoder"),
    R("t5", "decoder.block.#.layer.?.SelfAttention.relative_attention_bias.weight", POS_EMBEDDING, "decoder"),
    R("t5", "decoder.block.#.layer.?.DenseReluDense.wi.weight", FFN_UP, "decoder"),
    R("t5", "decoder.block.#.layer.?.DenseReluDense.wi_0.weight", FFN_GATE, "decoder"),
    R("t5", "decoder.block.#.layer.?.DenseReluDense.wi_1.weight", FFN_UP, "decoder"),
    R("t5", "decoder.block.#.layer.?.DenseReluDense.wo.weight", FFN_DOWN, "decoder"),
    R("t5", "decoder.block.#.layer.?.layer_norm.weight", NORM, "decoder"),
    R("t5", "decoder.final_layer_norm.weight", NORM, "head"),
    R("t5", "lm_head.weight", HEAD, "head"),
    /* ViT */
    R("vit", "*embeddings.patch_embeddings.projection.weight", CONV, "vision_encoder"),
    R("vit", "*embeddings.patch_embeddings.projection.bias", BIAS, "vision_encoder"),
    R("vit", "*embeddings.cls_token", POS_EMBEDDING, "vision_encoder"),
    R("vit", "*embeddings.position_embeddings", POS_EMBEDDING, "vision_encoder"),
    R("vit", "*encoder.layer.#.attention.attention.query.weight", ATTN_Q, "vision_encoder"),
    R("vit", "*encoder.layer.#.attention.attention.key.weight", ATTN_K, "vision_encoder"),
    R("vit", "*encoder.layer.#.attention.attention.value.weight", ATTN_V, "vision_encoder"),
    R("vit", "*encoder.layer.#.attention.output.dense.weight", ATTN_OUT, "vision_encoder"),
    R("vit", "*encoder.layer.#.intermediate.dense.weight", FFN_UP, "vision_encoder"),
    R("vit", "*encoder.layer.#.output.dense.weight", FFN_DOWN, "vision_encoder"),
    R("vit", "*encoder.layer.#.layernorm_*", NORM, "vision_encoder"),
    R("vit", "*encoder.layer.#.*bias", BIAS, "vision_encoder"),
    R("vit", "*vit.layernorm.*", NORM, "vision_encoder"),
    R("vit", "classifier.weight", HEAD, "head"),
    /* CLIP / SigLIP */
    R("clip", "*text_model.embeddings.token_embedding.weight", EMBEDDING, "text_encoder"),
    R("clip", "*text_model.embeddings.position_embedding.weight", POS_EMBEDDING, "text_encoder"),
    R("clip", "*vision_model.embeddings.patch_embedding.weight", CONV, "vision_encoder"),
    R("clip", "*vision_model.embeddings.*embedding*", POS_EMBEDDING, "vision_encoder"),
    R("clip", "*_model.encoder.layers.#.self_attn.q_proj.weight", ATTN_Q, NULL),
    R("clip", "*_model.encoder.layers.#.self_attn.k_proj.weight", ATTN_K, NULL),
    R("clip", "*_model.encoder.layers.#.self_attn.v_proj.weight", ATTN_V, NULL),
    R("clip", "*_model.encoder.layers.#.self_attn.out_proj.weight", ATTN_OUT, NULL),
    R("clip", "*_model.encoder.layers.#.mlp.fc1.weight", FFN_UP, NULL),
    R("clip", "*_model.encoder.layers.#.mlp.fc2.weight", FFN_DOWN, NULL),
    R("clip", "*_model.encoder.layers.#.layer_norm?.*", NORM, NULL),
    R("clip", "*_model.encoder.layers.#.*bias", BIAS, NULL),
    R("clip", "*text_model.final_layer_norm.*", NORM, "text_encoder"),
    R("clip", "*vision_model.pre_lay*norm.*", NORM, "vision_encoder"),
    R("clip", "*vision_model.post_layernorm.*", NORM, "vision_encoder"),
    R("clip", "text_projection.weight", LINEAR, "text_encoder"),
    R("clip", "visual_projection.weight", LINEAR, "vision_encoder"),
    R("clip", "logit_scale", OTHER, "head"),
    /* Whisper */
    R("whisper", "*encoder.conv?.weight", CONV, "audio_encoder"),
    R("whisper", "*encoder.conv?.bias", BIAS, "audio_encoder"),
    R("whisper", "*encoder.embed_positions.weight", POS_EMBEDDING, "audio_encoder"),
    R("whisper", "*encoder.layers.#.self_attn.q_proj.weight", ATTN_Q, "audio_encoder"),
    R("whisper", "*encoder.layers.#.self_attn.k_proj.weight", ATTN_K, "audio_encoder"),
    R("whisper", "*encoder.layers.#.self_attn.v_proj.weight", ATTN_V, "audio_encoder"),
    R("whisper", "*encoder.layers.#.self_attn.out_proj.weight", ATTN_OUT, "audio_encoder"),
    R("whisper", "*encoder.layers.#.fc1.weight", FFN_UP, "audio_encoder"),
    R("whisper", "*encoder.layers.#.fc2.weight", FFN_DOWN, "audio_encoder"),
    R("whisper", "*encoder.layers.#.*layer_norm.*", NORM, "audio_encoder"),
    R("whisper", "*encoder.layers.#.*bias", BIAS, "audio_encoder"),
    R("whisper", "*encoder.layer_norm.*", NORM, "audio_encoder"),
    R("whisper", "*decoder.embed_tokens.weight", EMBEDDING, "embeddings"),
    R("whisper", "*decoder.embed_positions.weight", POS_EMBEDDING, "embeddings"),
    R("whisper", "*decoder.layers.#.*attn.q_proj.weight", ATTN_Q, "decoder"),
    R("whisper", "*decoder.layers.#.*attn.k_proj.weight", ATTN_K, "decoder"),
    R("whisper", "*decoder.layers.#.*attn.v_proj.weight", ATTN_V, "decoder"),
    R("whisper", "*decoder.layers.#.*attn.out_proj.weight", ATTN_OUT, "decoder"),
    R("whisper", "*decoder.layers.#.fc1.weight", FFN_UP, "decoder"),
    R("whisper", "*decoder.layers.#.fc2.weight", FFN_DOWN, "decoder"),
    R("whisper", "*decoder.layers.#.*layer_norm.*", NORM, "decoder"),
    R("whisper", "*decoder.layers.#.*bias", BIAS, "decoder"),
    R("whisper", "*decoder.layer_norm.*", NORM, "head"),
    R("whisper", "proj_out.weight", HEAD, "head"),
    /* generic: any family, by common name fragments */
    R("generic", "*lm_head*", HEAD, "head"),
    R("generic", "*classifier*weight", HEAD, "head"),
    R("generic", "*norm*", NORM, NULL),
    R("generic", "*Norm*", NORM, NULL),
    R("generic", "*ln_*", NORM, NULL),
    R("generic", "*bias", BIAS, NULL),
    R("generic", "*pos*embed*", POS_EMBEDDING, "embeddings"),
    R("generic", "*embed*", EMBEDDING, "embeddings"),
    R("generic", "*qkv*", ATTN_QKV, NULL),
    R("generic", "*q_proj*", ATTN_Q, NULL),
    R("generic", "*k_proj*", ATTN_K, NULL),
    R("generic", "*v_proj*", ATTN_V, NULL),
    R("generic", "*o_proj*", ATTN_OUT, NULL),
    R("generic", "*out_proj*", ATTN_OUT, NULL),
    R("generic", "*query*", ATTN_Q, NULL),
    R("generic", "*key*", ATTN_K, NULL),
    R("generic", "*value*", ATTN_V, NULL),
    R("generic", "*gate_proj*", FFN_GATE, NULL),
    R("generic", "*up_proj*", FFN_UP, NULL),
    R("generic", "*down_proj*", FFN_DOWN, NULL),
    R("generic", "*fc1*", FFN_UP, NULL),
    R("generic", "*fc2*", FFN_DOWN, NULL),
    R("generic", "*conv*", CONV, NULL),
};

/* config model_type -> family */
static const struct { const char *model_type, *family; } type_family[] = {
    {"llama", "llama"}, {"mistral", "llama"}, {"mixtral", "llama"}, {"qwen2", "llama"},
    {"qwen3", "llama"}, {"gemma", "llama"}, {"gemma2", "llama"}, {"gemma3_text", "llama"},
    {"phi3", "llama"}, {"smollm3", "llama"}, {"olmo", "llama"}, {"granite", "llama"},
    {"gpt2", "gpt2"}, {"bert", "bert"}, {"roberta", "bert"}, {"xlm-roberta", "bert"},
    {"distilbert", "bert"}, {"t5", "t5"}, {"mt5", "t5"}, {"vit", "vit"}, {"deit", "vit"},
    {"clip", "clip"}, {"siglip", "clip"}, {"clip_text_model", "clip"},
    {"clip_vision_model", "clip"}, {"whisper", "whisper"},
};

/* Component of a layered tensor when the rule names none. */
static const struct { const char *family, *component; } layer_component[] = {
    {"llama", "decoder"}, {"gpt2", "decoder"}, {"bert", "text_encoder"}, {"t5", "decoder"},
    {"vit", "vision_encoder"}, {"whisper", "decoder"},
};

#define MAX_NAME_MATCH 4096

/* Glob match with `#` capture; recursion depth is bounded by the pattern length. */
static bool gmatch(const char *p, const char *s, long *layer)
{
    for (; *p; p++, s++) {
        switch (*p) {
        case '*':
            for (const char *t = s;; t++) {
                if (gmatch(p + 1, t, layer))
                    return true;
                if (!*t)
                    return false;
            }
        case '?':
            if (!*s)
                return false;
            break;
        case '#': {
            if (!isdigit((unsigned char)*s))
                return false;
            long v = 0;
            const char *t = s;
            while (isdigit((unsigned char)*t)) {
                if (v < 1000000)
                    v = v * 10 + (*t - '0');
                t++;
            }
            if (!gmatch(p + 1, t, layer))
                return false;
            if (layer) /* outer captures run last, so the first `#` wins */
                *layer = v;
            return true;
        }
        default:
            if (*p != *s)
                return false;
        }
    }
    return !*s;
}

bool wg_glob_match(const char *pattern, const char *name, long *layer)
{
    if (layer)
        *layer = -1;
    if (strlen(name) > MAX_NAME_MATCH)
        return false;
    long l = -1;
    bool ok = gmatch(pattern, name, &l);
    if (ok && layer)
        *layer = l;
    return ok;
}

/* Layer index from a name when no rule captured one: the number after a well-known container
 * ("layers.3.", "h.3.", "block.3.", "blocks/3/"), else -1. */
static long guess_layer(const char *name)
{
    static const char *keys[] = {"layers", "layer", "h", "blocks", "block"};
    for (const char *p = name; *p; p++) {
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            size_t n = strlen(keys[k]);
            if ((p == name || !isalnum((unsigned char)p[-1])) && !strncmp(p, keys[k], n) &&
                (p[n] == '.' || p[n] == '_' || p[n] == '/') && isdigit((unsigned char)p[n + 1])) {
                long v = 0;
                for (const char *t = p + n + 1; isdigit((unsigned char)*t) && v < 1000000; t++)
                    v = v * 10 + (*t - '0');
                return v;
            }
        }
    }
    return -1;
}

typedef struct user_rule {
    char *pattern, *component;
    int role; /* -1: keep */
    int layout; /* 0 keep, 1 [in,out], 2 [out,in] */
} user_rule;

static int load_user_rules(const char *path, user_rule **out, size_t *n, char *family,
                           wg_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return wg_fail(err, WG_EINPUT, path, "invalid JSON at line %d: %s", jerr.line, jerr.text);
    int rc = 0;
    json_t *rules = json_object_get(root, "rules"), *fam = json_object_get(root, "family");
    if (!json_is_object(root) || !json_is_array(rules)) {
        rc = wg_fail(err, WG_EINPUT, path, "rules file must be an object with a \"rules\" array");
        goto out;
    }
    if (fam && !json_is_string(fam)) {
        rc = wg_fail(err, WG_EINPUT, path, "\"family\" must be a string");
        goto out;
    }
    if (fam)
        snprintf(family, 32, "%s", json_string_value(fam));
    *n = json_array_size(rules);
    *out = calloc(*n ? *n : 1, sizeof **out);
    if (!*out) {
        rc = wg_fail(err, WG_EIO, path, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < *n; i++) {
        json_t *r = json_array_get(rules, i), *p = json_object_get(r, "pattern"),
               *ro = json_object_get(r, "role"), *c = json_object_get(r, "component"),
               *lay = json_object_get(r, "layout");
        user_rule *u = &(*out)[i];
        u->role = -1;
        if (!json_is_string(p) || (ro && !json_is_string(ro)) || (c && !json_is_string(c)) ||
            (lay && !json_is_string(lay))) {
            rc = wg_fail(err, WG_EINPUT, path, "rule %zu: needs a string \"pattern\" and "
                         "optional string \"role\", \"component\", \"layout\"", i);
            goto out;
        }
        if (ro && (u->role = wg_role_parse(json_string_value(ro))) < 0) {
            rc = wg_fail(err, WG_EINPUT, path, "rule %zu: unknown role '%s'", i,
                         json_string_value(ro));
            goto out;
        }
        if (c && (strlen(json_string_value(c)) >= 32 || !wg_plain_name(json_string_value(c), false))) {
            rc = wg_fail(err, WG_EINPUT, path, "rule %zu: component name must be 1-31 of "
                         "[A-Za-z0-9_.-], not starting with '.'", i);
            goto out;
        }
        if (lay) {
            const char *l = json_string_value(lay);
            u->layout = !strcmp(l, "in_out") ? 1 : !strcmp(l, "out_in") ? 2 : -1;
            if (u->layout < 0) {
                rc = wg_fail(err, WG_EINPUT, path, "rule %zu: layout must be in_out or out_in", i);
                goto out;
            }
        }
        u->pattern = strdup(json_string_value(p));
        u->component = c ? strdup(json_string_value(c)) : NULL;
    }
out:
    json_decref(root);
    return rc;
}

static void free_user_rules(user_rule *u, size_t n)
{
    for (size_t i = 0; u && i < n; i++) {
        free(u[i].pattern);
        free(u[i].component);
    }
    free(u);
}

static const char *family_layer_component(const char *family)
{
    for (size_t i = 0; i < sizeof layer_component / sizeof *layer_component; i++)
        if (!strcmp(layer_component[i].family, family))
            return layer_component[i].component;
    return "model";
}

static void pick_family(wg_model *m)
{
    if (m->config.present) {
        for (size_t i = 0; i < sizeof type_family / sizeof *type_family; i++)
            if (!strcmp(m->config.model_type, type_family[i].model_type)) {
                snprintf(m->family, sizeof m->family, "%s", type_family[i].family);
                return;
            }
    }
    /* score: tensors matched by each family's own rows */
    const char *best = "generic";
    size_t best_n = 0;
    for (size_t r = 0; r < sizeof builtin / sizeof *builtin;) {
        const char *fam = builtin[r].family;
        size_t end = r;
        while (end < sizeof builtin / sizeof *builtin && !strcmp(builtin[end].family, fam))
            end++;
        if (strcmp(fam, "generic")) {
            size_t cnt = 0;
            for (size_t i = 0; i < m->n_tensors; i++)
                for (size_t k = r; k < end; k++)
                    if (builtin[k].role != WG_ROLE_OTHER &&
                        (wg_glob_match(builtin[k].pattern, m->tensors[i].name, NULL) ||
                         (m->tensors[i].module &&
                          wg_glob_match(builtin[k].pattern, m->tensors[i].module, NULL)))) {
                        cnt++;
                        break;
                    }
            if (cnt > best_n) {
                best_n = cnt;
                best = fam;
            }
        }
        r = end;
    }
    snprintf(m->family, sizeof m->family, "%s", best);
}

int wg_classify(wg_model *m, const char *rules_path, wg_error *err)
{
    user_rule *ur = NULL;
    size_t nur = 0;
    char ufam[32] = "";
    if (rules_path) {
        int rc = load_user_rules(rules_path, &ur, &nur, ufam, err);
        if (rc) {
            free_user_rules(ur, nur);
            return rc;
        }
    }
    if (*ufam)
        snprintf(m->family, sizeof m->family, "%s", ufam);
    else
        pick_family(m);
    wg_onnx_structural_roles(m); /* baseline from graph structure (ONNX only) */
    const char *deflt = family_layer_component(m->family);
    for (size_t i = 0; i < m->n_tensors; i++) {
        wg_tensor *t = &m->tensors[i];
        long layer = -1;
        const char *comp = NULL;
        bool matched = false;
        /* rules see the tensor's name, then the module path the exporter recorded */
        const char *names[2] = {t->name, t->module};
        for (size_t k = 0; k < 2 * nur && !matched; k++)
            if (names[k / nur] && wg_glob_match(ur[k % nur].pattern, names[k / nur], &layer)) {
                k %= nur;
                matched = true;
                if (ur[k].role >= 0)
                    t->role = (wg_role)ur[k].role;
                comp = ur[k].component;
                if (ur[k].layout)
                    t->in_dim_first = ur[k].layout == 1;
            }
        for (int pass = 0; pass < 2 && !matched; pass++) {
            const char *fam = pass == 0 ? m->family : "generic";
            for (size_t k = 0; k < 2 * sizeof builtin / sizeof *builtin; k++) {
                const rule *r = &builtin[k % (sizeof builtin / sizeof *builtin)];
                const char *nm = names[k / (sizeof builtin / sizeof *builtin)];
                if (!nm || strcmp(r->family, fam) || !wg_glob_match(r->pattern, nm, &layer))
                    continue;
                matched = true;
                /* a generic name guess never overrides what the graph structure says about a
                 * weight's op, except to name its function more precisely */
                if (pass == 1 && t->role != WG_ROLE_OTHER && t->role != WG_ROLE_LINEAR)
                    break;
                if (pass == 1 && t->role == WG_ROLE_LINEAR &&
                    (r->role == WG_ROLE_NORM || r->role == WG_ROLE_BIAS || r->role == WG_ROLE_CONV))
                    break;
                t->role = r->role;
                comp = r->component;
                if ((r->flags & IN_OUT) && m->kind != WG_IN_ONNX) /* ONNX: the graph decides */
                    t->in_dim_first = true;
                break;
            }
        }
            if (layer < 0)
            layer = guess_layer(t->name);
        if (layer < 0 && t->module)
            layer = guess_layer(t->module);
        if (layer > WG_MAX_LAYER(m->n_tensors)) /* a number in a name, not a layer we can hold */
            layer = -1;
        t->layer = (int)layer;
        char scomp[32];
        const char *slash = t->name + t->scope_len;
        if (!comp && t->scope_len) {
            /* a subgraph (If/Loop/Scan body) is a component of its own: a loader fetches only
             * the branch it runs */
            size_t n = 0;
            for (const char *p = t->name; p < slash && n < sizeof scomp - 1; p++)
                scomp[n++] = isalnum((unsigned char)*p) ? *p : '_';
            scomp[n] = 0;
            comp = scomp;
        }
        if (!comp)
            comp = layer >= 0 ? deflt : "model";
        if (!strcmp(comp, deflt) && !strcmp(m->family, "clip"))
            comp = "model";
        if (!strcmp(m->family, "clip") && !strcmp(comp, "model"))
            comp = strstr(t->name, "vision_model") ? "vision_encoder"
                   : strstr(t->name, "text_model") ? "text_encoder" : "model";
        snprintf(t->component, sizeof t->component, "%s", comp);
        /* a 1-D tensor named like a matrix role is its bias/scale, never a matrix */
        if (t->ndim <= 1 && t->role != WG_ROLE_NORM && t->role != WG_ROLE_BIAS &&
            t->role != WG_ROLE_OTHER && t->role != WG_ROLE_POS_EMBEDDING)
            t->role = strstr(t->name, "bias") ? WG_ROLE_BIAS : WG_ROLE_OTHER;
    }
    free_user_rules(ur, nur);
    return 0;
}
