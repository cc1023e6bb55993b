/* libFuzzer harness for a generation's MANIFEST and the `latest` file
 * (restart/manifest.c): the input is written as both, into one private
 * directory under /tmp made at the first run and removed at exit, and
 * read back by manifest_read and manifest_latest_dir. Seeds:
 * tests/fuzz/corpus/manifest. */
#include "fuzz_common.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "manifest.h"

static char dir[64];

static void cleanup(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/MANIFEST", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/latest", dir);
    unlink(p);
    rmdir(dir);
}

static int put(const char *name, const uint8_t *data, size_t size)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(fd);
    return done == size ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/mana-fuzz-manifest.XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
        atexit(cleanup);
    }
    char err[1024], out[4200];
    struct manifest m;
    if (put("MANIFEST", data, size) == 0 && manifest_read(dir, &m, err, sizeof err) == 0) {
        for (int i = 0; i < m.nranks; i++)
            if (m.ranks[i].file[0] == '\0' || strchr(m.ranks[i].file, '/') != NULL)
                abort(); /* accepted, so every rank has a plain file name */
        manifest_free(&m);
    }
    if (put("latest", data, size) == 0)
        manifest_latest_dir(dir, out, sizeof out, err, sizeof err);
    return 0;
}
