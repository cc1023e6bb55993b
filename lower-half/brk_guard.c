#include "brk_guard.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

uint64_t brk_guard_current(void)
{
    return (uint64_t)syscall(SYS_brk, 0);
}

int brk_guard_install(uint64_t *brk_at_start, uint64_t *guard, char *err, size_t errlen)
{
    uint64_t brk = brk_guard_current();
    uint64_t page = (brk + 4095) & ~4095ULL;
    void *p = mmap((void *)page, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED || (uint64_t)p != page) {
        snprintf(err, errlen, "cannot place the brk guard page at 0x%llx: %s", (unsigned long long)page,
                 p == MAP_FAILED ? strerror(errno) : "the kernel put it elsewhere (MAP_FIXED_NOREPLACE unsupported)");
        if (p != MAP_FAILED)
            munmap(p, 4096);
        return -1;
    }
    *brk_at_start = brk;
    *guard = page;
    return 0;
}
