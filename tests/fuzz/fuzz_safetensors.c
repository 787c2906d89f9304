/* tests/fuzz/fuzz_safetensors.c — the safetensors header reader and the index reader (the
 * first byte picks which), then the quantizer on whatever tensors were accepted. */
#include "fuzz_common.h"
#include "../../quant/quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (!n)
        return 0;
    const char *path;
    if (data[0] & 1) { /* an index whose shard names point at a fixed valid shard */
        static const uint8_t shard[] = "\x30\0\0\0\0\0\0\0{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  \0\0\x80\x3f\0\0\0\x40";
        fuzz_file("s.safetensors", shard, sizeof shard - 1);
        path = fuzz_file("model.safetensors.index.json", data + 1, n - 1);
    } else
        path = fuzz_file("model.safetensors", data + 1, n - 1);
    wg_model *m;
    wg_error err = {0};
    if (wg_model_open(path, NULL, &m, &err) == 0) {
        wg_plan_opts o;
        wg_plan_opts_default(&o);
        o.preset = WG_PRESET_Q4;
        o.small_numel = 0;
        wg_plan_entry *p = calloc(m->n_tensors + 1, sizeof *p);
        if (p && !wg_plan_preset(m, &o, p, &err))
            for (size_t i = 0; i < m->n_tensors; i++) {
                if (p[i].bytes > (64u << 20))
                    continue;
                uint8_t *buf = malloc(p[i].bytes + 1);
                wg_qmetrics qm;
                wg_qopts qo = {.threads = 1};
                wg_error e2 = {0};
                if (buf)
                    wg_quantize_tensor(&m->tensors[i], &p[i], &qo, buf, &qm, &e2);
                free(buf);
            }
        free(p);
        wg_model_free(m);
    } else if (!err.code || !err.msg[0])
        abort(); /* every failure must carry a message */
    return 0;
}
