/* tools/mkbench.c — writes the benchmark input: an HF-Llama-shaped fp16 safetensors checkpoint
 * (hidden 2048, 16 layers, intermediate 5632, vocab 32000, about 1.9 GB) with config.json.
 * Weights are deterministic pseudo-random (Gaussian-like, a few outliers), so the timing of
 * quantization is realistic; the values carry no meaning.  Usage: mkbench OUTDIR */
#define _GNU_SOURCE
#include "../quant/quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { H = 2048, L = 16, I = 5632, V = 32000 };

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
    if (argc != 2) {
        fprintf(stderr, "usage: mkbench OUTDIR | mkbench --gemv FILE\n");
        return 1;
    }
    mkdir(argv[1], 0755);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", argv[1]);
    FILE *c = fopen(path, "w");
    if (!c)
        return 1;
    fprintf(c, "{\"model_type\":\"llama\",\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":%d,"
               "\"intermediate_size\":%d,\"num_hidden_layers\":%d,\"num_attention_heads\":16,"
               "\"num_key_value_heads\":16,\"vocab_size\":%d,\"max_position_embeddings\":2048,"
               "\"rms_norm_eps\":1e-5,\"tie_word_embeddings\":false}\n", H, I, L, V);
    fclose(c);
    wg_st_entry es[2 + L * 9 + 1];
    char names[2 + L * 9 + 1][96];
    size_t n = 0;
#define ADD(nm, r, k)                                                                          \
    do {                                                                                       \
        snprintf(names[n], sizeof names[n], "%s", nm);                                         \
        es[n] = (wg_st_entry){names[n], WG_DT_F16, (k) ? 2 : 1, {(r), (k)}, 0};               \
        es[n].nbytes = 2ull * (uint64_t)(r) * (uint64_t)((k) ? (k) : 1);                      \
        n++;                                                                                   \
    } while (0)
    ADD("model.embed_tokens.weight", V, H);
    char nm[96];
    for (int l = 0; l < L; l++) {
        static const char *att[4] = {"q_proj", "k_proj", "v_proj", "o_proj"};
        for (int a = 0; a < 4; a++) {
            snprintf(nm, sizeof nm, "model.layers.%d.self_attn.%s.weight", l, att[a]);
            ADD(nm, H, H);
        }
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.gate_proj.weight", l);
        ADD(nm, I, H);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.up_proj.weight", l);
        ADD(nm, I, H);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.down_proj.weight", l);
        ADD(nm, H, I);
        snprintf(nm, sizeof nm, "model.layers.%d.input_layernorm.weight", l);
        ADD(nm, H, 0);
        snprintf(nm, sizeof nm, "model.layers.%d.post_attention_layernorm.weight", l);
        ADD(nm, H, 0);
    }
    ADD("model.norm.weight", H, 0);
    ADD("lm_head.weight", V, H);
    wg_error err = {0};
    wg_st_writer w;
    snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);
    if (wg_st_writer_open(&w, path, es, n, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t chunk = 1 << 20;
    uint16_t *buf = malloc(chunk * 2);
    uint32_t s = 1;
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
    if (wg_st_writer_close(&w, true, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return 0;
}
