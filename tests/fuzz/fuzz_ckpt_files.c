/* libFuzzer harness for the open-files record of a rank's image
 * (lower-half/ckpt_files.c, ckpt_files_decode): decoded, encoded again,
 * and the encoding must decode to the same table. Seeds:
 * tests/fuzz/corpus/ckpt_files. */
#include "fuzz_common.h"

#include <string.h>

#include "ckpt_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    struct ckpt_file_table t, t2;
    if (ckpt_files_decode(data, size, &t, err, sizeof err) != 0)
        return 0;
    size_t len;
    uint8_t *enc = ckpt_files_encode(&t, &len);
    if (enc == NULL)
        abort();
    if (ckpt_files_decode(enc, len, &t2, err, sizeof err) != 0 || t2.count != t.count)
        abort();
    for (uint32_t i = 0; i < t.count; i++)
        if (t.f[i].fd != t2.f[i].fd || t.f[i].offset != t2.f[i].offset || strcmp(t.f[i].path, t2.f[i].path) != 0)
            abort();
    ckpt_files_free(&t2);
    ckpt_files_free(&t);
    free(enc);
    return 0;
}
