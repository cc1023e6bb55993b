/* Segment mapping: reserve the whole span first so the segments land
 * together and nothing else can slip between them, then map each segment
 * over the reservation and zero .bss, as the kernel's ELF loader does. */
#include "elf_map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096ULL
#define PAGE_DOWN(x) ((x) & ~(PAGE - 1))
#define PAGE_UP(x) (((x) + PAGE - 1) & ~(PAGE - 1))

static int map_segment(int fd, const struct elf_load_segment *s, uint64_t base, const char *path, char *err,
                       size_t errlen)
{
    uint64_t seg_start = PAGE_DOWN(base + s->vaddr);
    uint64_t file_end = base + s->vaddr + s->filesz;
    uint64_t mem_end = PAGE_UP(base + s->vaddr + s->memsz);
    uint64_t file_map_end = PAGE_UP(file_end);
    int writable_prot = s->prot | PROT_WRITE;

    if (s->filesz > 0) {
        void *p = mmap((void *)seg_start, file_map_end - seg_start, writable_prot, MAP_PRIVATE | MAP_FIXED, fd,
                       (off_t)PAGE_DOWN(s->offset));
        if (p == MAP_FAILED) {
            snprintf(err, errlen, "%s: cannot map segment at 0x%llx: %s", path, (unsigned long long)seg_start,
                     strerror(errno));
            return -1;
        }
        /* The rest of the last file page belongs to .bss and must read as zero. */
        if (s->memsz > s->filesz && file_map_end > file_end)
            memset((void *)file_end, 0, file_map_end - file_end);
    } else {
        file_map_end = seg_start;
    }
    if (mem_end > file_map_end) {
        void *p = mmap((void *)file_map_end, mem_end - file_map_end, writable_prot,
                       MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            snprintf(err, errlen, "%s: cannot map .bss at 0x%llx: %s", path, (unsigned long long)file_map_end,
                     strerror(errno));
            return -1;
        }
    }
    if (mprotect((void *)seg_start, mem_end - seg_start, s->prot) != 0) {
        snprintf(err, errlen, "%s: cannot set protection of segment at 0x%llx: %s", path,
                 (unsigned long long)seg_start, strerror(errno));
        return -1;
    }
    return 0;
}

static void *reserve_span(const struct elf_image *img, uint64_t lo, uint64_t hi, char *err, size_t errlen)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *hint = NULL;
    if (!img->is_pie) {
        flags |= MAP_FIXED_NOREPLACE;
        hint = (void *)lo;
    }
    void *p = mmap(hint, hi - lo, PROT_NONE, flags, -1, 0);
    if (p == MAP_FAILED) {
        if (!img->is_pie && errno == EEXIST)
            snprintf(err, errlen,
                     "%s: non-PIE program needs addresses 0x%llx-0x%llx, which the MPI library's half already "
                     "uses: rebuild the program as PIE (the compiler default on Debian)",
                     img->path, (unsigned long long)lo, (unsigned long long)hi);
        else
            snprintf(err, errlen, "%s: cannot reserve %llu bytes of address space: %s", img->path,
                     (unsigned long long)(hi - lo), strerror(errno));
        return NULL;
    }
    return p;
}

int elf_image_map(const struct elf_image *img, struct elf_mapped *out, char *err, size_t errlen)
{
    uint64_t lo, hi;
    elf_image_span(img, &lo, &hi);
    int fd = open(img->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", img->path, strerror(errno));
        return -1;
    }
    void *reservation = reserve_span(img, lo, hi, err, errlen);
    if (reservation == NULL) {
        close(fd);
        return -1;
    }
    uint64_t base = img->is_pie ? (uint64_t)reservation - lo : 0;
    for (size_t i = 0; i < img->nloads; i++) {
        if (map_segment(fd, &img->loads[i], base, img->path, err, errlen) != 0) {
            munmap(reservation, hi - lo);
            close(fd);
            return -1;
        }
    }
    close(fd);
    out->base = base;
    out->start = base + lo;
    out->end = base + hi;
    out->entry = base + img->entry;
    out->phdr = img->phdr_vaddr ? base + img->phdr_vaddr : 0;
    return 0;
}
