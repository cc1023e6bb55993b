/* Mapping an ELF file's PT_LOAD segments into this process, as the kernel
 * would for execve: used for the upper half's program and its ld.so. */
#ifndef MANA_ELF_MAP_H
#define MANA_ELF_MAP_H

#include "elf_image.h"

struct elf_mapped {
    uint64_t base;  /* load bias: runtime address = base + link-time address */
    uint64_t start; /* mapped range [start, end), page aligned */
    uint64_t end;
    uint64_t entry; /* runtime entry point */
    uint64_t phdr;  /* runtime address of the program headers, 0 if not loaded */
};

/* Maps IMG. A PIE goes wherever the kernel puts a fresh reservation; a
 * non-PIE program needs its link-time addresses free and fails with a
 * message in ERR if anything already sits there. */
int elf_image_map(const struct elf_image *img, struct elf_mapped *out, char *err, size_t errlen);

#endif
