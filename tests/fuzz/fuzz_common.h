/* What the fuzz harnesses share (tests/fuzz, docs/fuzzing.md): the input
 * as a file, for the parsers that read a path. Harnesses write nothing
 * outside /tmp and close every fd they open. */
#ifndef MANA_FUZZ_COMMON_H
#define MANA_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Regions and blobs larger than this are not decompressed: a small input
 * can claim gigabytes, which the reader rightly allows (a real image can
 * hold them), and allocating them would only slow the fuzzer. */
#define FUZZ_MAX_RAW (4u << 20)

/* An anonymous file holding DATA, read back from offset 0: its fd, or -1. */
static inline int fuzz_memfd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

#endif
