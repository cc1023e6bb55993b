/* libFuzzer harness for a rank's thread and process records (lower-half/
 * ckpt_state.c), the byte strings of an image's THREADS section: the
 * input as the main thread's record (thread, process, signals, timers,
 * open files) and as another thread's. A record decoded is encoded again
 * and must decode to the same. Seeds: tests/fuzz/corpus/ckpt_state. */
#include "fuzz_common.h"

#include <string.h>

#include "ckpt_state.h"

static struct ckpt_process_state ps, again; /* PATH_MAX cwd: off the stack */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    struct ckpt_thread_state t, t2;
    ckpt_decode_thread(data, size, &t, err, sizeof err);
    if (ckpt_decode_main(data, size, &t, &ps, err, sizeof err) != 0)
        return 0;
    size_t len;
    uint8_t *enc = ckpt_encode_main(&t, &ps, &len);
    if (enc == NULL)
        abort(); /* a record just decoded must encode */
    if (ckpt_decode_main(enc, len, &t2, &again, err, sizeof err) != 0 || memcmp(&t, &t2, sizeof t) != 0 ||
        strcmp(ps.cwd, again.cwd) != 0 || ps.nsig != again.nsig || again.files.count != ps.files.count)
        abort(); /* the round trip lost something */
    ckpt_files_free(&again.files);
    ckpt_files_free(&ps.files);
    free(enc);
    return 0;
}
