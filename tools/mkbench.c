/* tools/mkbench.c — writes benchmark inputs: HF-Llama-shaped fp16 safetensors checkpoints with
 * config.json. Weights are deterministic pseudo-random (uniform, a few 8x outliers), so the
 * timing of quantization is realistic; the values carry no meaning.
 *   mkbench OUTDIR                 hidden 2048, 16 layers, intermediate 5632, vocab 32000: about
 *                                  1.9 GB in one model.safetensors (`make bench`)
 *   mkbench --7b OUTDIR [LAYERS]   Llama-2-7B's shape (hidden 4096, intermediate 11008, 32 heads,
 *                                  vocab 32000; 32 layers unless LAYERS): about 13.5 GB, sharded
 *                                  like the hub's (model-0000i-of-0000n.safetensors of at most
 *                                  5 GB, model.safetensors.index.json) (`make bench-large`)
 *   mkbench --gemv FILE            one 4096 x 4096 fp16 weight, for the kernel benchmark */
#define _GNU_SOURCE
#include "../quant/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct shape {
    int hidden, layers, inter, vocab, heads;
    uint64_t shard_cap; /* 0: one file */
} shape;

#define MAXT (2 + 9 * 128 + 1)
typedef struct tensors {
    wg_st_entry es[MAXT];
    char names[MAXT][96];
    size_t n;
} tensors;

static void add(tensors *t, const char *name, int64_t r, int64_t k)
{
    snprintf(t->names[t->n], sizeof t->names[t->n], "%s", name);
    t->es[t->n] = (wg_st_entry){t->names[t->n], WG_DT_F16, k ? 2 : 1, {r, k}, 0};
    t->es[t->n].nbytes = 2ull * (uint64_t)r * (uint64_t)(k ? k : 1);
    t->n++;
}

static void llama_tensors(const shape *s, tensors *t)
{
    char nm[96];
    add(t, "model.embed_tokens.weight", s->vocab, s->hidden);
    for (int l = 0; l < s->layers; l++) {
        static const char *att[4] = {"q_proj", "k_proj", "v_proj", "o_proj"};
        for (int a = 0; a < 4; a++) {
            snprintf(nm, sizeof nm, "model.layers.%d.self_attn.%s.weight", l, att[a]);
            add(t, nm, s->hidden, s->hidden);
        }
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.gate_proj.weight", l);
        add(t, nm, s->inter, s->hidden);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.up_proj.weight", l);
        add(t, nm, s->inter, s->hidden);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.down_proj.weight", l);
        add(t, nm, s->hidden, s->inter);
        snprintf(nm, sizeof nm, "model.layers.%d.input_layernorm.weight", l);
        add(t, nm, s->hidden, 0);
        snprintf(nm, sizeof nm, "model.layers.%d.post_attention_layernorm.weight", l);
        add(t, nm, s->hidden, 0);
    }
    add(t, "model.norm.weight", s->hidden, 0);
    add(t, "lm_head.weight", s->vocab, s->hidden);
}

/* the values of tensors es[0..n) in order, from one generator state *seed */
static int write_file(const char *path, const wg_st_entry *es, size_t n, uint32_t *seed)
{
    wg_error err = {0};
    wg_st_writer w;
    if (wg_st_writer_open(&w, path, es, n, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t chunk = 1 << 20;
    uint16_t *buf = malloc(chunk * 2);
    uint32_t s = *seed;
    for (size_t i = 0; i < n; i++) {
        uint64_t left = es[i].nbytes / 2;
        bool norm = es[i].ndim == 1;
        while (left) {
            size_t k = left < chunk ? (size_t)left : chunk;
            for (size_t j = 0; j < k; j++) {
                s = s * 1664525u + 1013904223u;
                float g = ((float)(s >> 9) / 8388608.0f - 1.0f) * 0.05f;
                if ((s & 0x3ff) == 7)
                    g *= 8.0f; /* rare outliers, as real weights have */
                buf[j] = wg_f32_to_f16(norm ? 1.0f + g : g);
            }
            if (wg_st_writer_data(&w, buf, k * 2, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            left -= k;
        }
    }
    free(buf);
    *seed = s;
    if (wg_st_writer_close(&w, true, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return 0;
}

static int write_config(const char *dir, const shape *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *c = fopen(path, "w");
    if (!c)
        return 1;
    fprintf(c, "{\"model_type\":\"llama\",\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":%d,"
               "\"intermediate_size\":%d,\"num_hidden_layers\":%d,\"num_attention_heads\":%d,"
               "\"num_key_value_heads\":%d,\"vocab_size\":%d,\"max_position_embeddings\":%d,"
               "\"rms_norm_eps\":1e-5,\"tie_word_embeddings\":false%s}\n",
            s->hidden, s->inter, s->layers, s->heads, s->heads, s->vocab,
            s->shard_cap ? 4096 : 2048, s->shard_cap ? ",\"torch_dtype\":\"float16\"" : "");
    return fclose(c) ? 1 : 0;
}

/* shards of at most shard_cap bytes, tensors in order, plus model.safetensors.index.json */
static int write_sharded(const char *dir, const tensors *t, uint64_t cap)
{
    size_t first[MAXT + 1], nsh = 0;
    uint64_t cur = 0, total = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (i == 0 || cur + t->es[i].nbytes > cap) {
            first[nsh++] = i;
            cur = 0;
        }
        cur += t->es[i].nbytes;
        total += t->es[i].nbytes;
    }
    first[nsh] = t->n;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    FILE *ix = fopen(path, "w");
    if (!ix)
        return 1;
    fprintf(ix, "{\"metadata\": {\"total_size\": %llu}, \"weight_map\": {", (unsigned long long)total);
    uint32_t seed = 1;
    for (size_t k = 0; k < nsh; k++) {
        char file[64];
        snprintf(file, sizeof file, "model-%05zu-of-%05zu.safetensors", k + 1, nsh);
        for (size_t i = first[k]; i < first[k + 1]; i++)
            fprintf(ix, "%s\"%s\": \"%s\"", i ? ", " : "", t->names[i], file);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        fprintf(stderr, "mkbench: %s\n", path);
        if (write_file(path, t->es + first[k], first[k + 1] - first[k], &seed))
            return 1;
    }
    fprintf(ix, "}}\n");
    return fclose(ix) ? 1 : 0;
}

/* `mkbench --gemv FILE`: one 4096 x 4096 fp16 weight, for the kernel benchmark */
static int gemv_model(const char *path)
{
    wg_st_entry e = {"layers.0.mlp.down_proj.weight", WG_DT_F16, 2, {4096, 4096}, 4096ull * 4096 * 2};
    wg_error err = {0};
    wg_st_writer w;
    if (wg_st_writer_open(&w, path, &e, 1, NULL, &err))
        return 1;
    uint16_t *row = malloc(4096 * 2);
    uint32_t s = 7;
    for (int r = 0; r < 4096; r++) {
        for (int k = 0; k < 4096; k++) {
            s = s * 1664525u + 1013904223u;
            row[k] = wg_f32_to_f16(((float)(s >> 9) / 8388608.0f - 1.0f) * 0.05f);
        }
        if (wg_st_writer_data(&w, row, 4096 * 2, &err))
            return 1;
    }
    free(row);
    return wg_st_writer_close(&w, true, &err) ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--gemv"))
        return gemv_model(argv[2]);
    shape s = {2048, 16, 5632, 32000, 16, 0};
    const char *dir = argv[1];
    if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "--7b")) {
        s = (shape){4096, argc == 4 ? atoi(argv[3]) : 32, 11008, 32000, 32, 5000000000ull};
        dir = argv[2];
    } else if (argc != 2)
        dir = NULL;
    if (!dir || s.layers < 1 || s.layers > 128) {
        fprintf(stderr, "usage: mkbench OUTDIR | mkbench --7b OUTDIR [LAYERS] | mkbench --gemv FILE\n");
        return 1;
    }
    mkdir(dir, 0755);
    tensors *t = calloc(1, sizeof *t);
    llama_tensors(&s, t);
    int rc = write_config(dir, &s);
    if (!rc && s.shard_cap)
        rc = write_sharded(dir, t, s.shard_cap);
    else if (!rc) {
        char path[4096];
        uint32_t seed = 1;
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        rc = write_file(path, t->es, t->n, &seed);
    }
    free(t);
    return rc;
}
