/* tests/fuzz/fuzz_onnx.c — ModelProto through protobuf-c and the tensor extraction and
 * classification after it. */
#include "fuzz_common.h"
#include "../../formats/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static const uint8_t ext[64] = {0};
    fuzz_file("weights.bin", ext, sizeof ext); /* a valid external data file beside it */
    const char *path = fuzz_file("model.onnx", data, n);
    wg_model *m;
    wg_error err = {0};
    if (wg_model_open(path, NULL, &m, &err) == 0) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < m->n_tensors; i++) /* every byte a tensor claims is readable */
            if (m->tensors[i].nbytes && m->tensors[i].data)
                sink ^= ((const uint8_t *)m->tensors[i].data)[m->tensors[i].nbytes - 1];
        (void)sink;
        wg_model_free(m);
    } else if (!err.code || !err.msg[0])
        abort();
    return 0;
}
