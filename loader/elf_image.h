/* What the loader needs to know about one ELF file before mapping it:
 * read with libelf, kept in a small plain struct so the mapping code and
 * the launch-time checks never touch libelf themselves. */
#ifndef MANA_ELF_IMAGE_H
#define MANA_ELF_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define ELF_IMAGE_MAX_LOADS 16
#define ELF_IMAGE_MAX_NEEDED 64

struct elf_load_segment {
    uint64_t vaddr;  /* p_vaddr */
    uint64_t offset; /* p_offset */
    uint64_t filesz;
    uint64_t memsz;
    int prot; /* PROT_* from p_flags */
};

struct elf_image {
    char path[4096];
    int is_pie;          /* ET_DYN: loaded at a base of our choosing */
    uint64_t entry;      /* e_entry, relative to the base for ET_DYN */
    uint64_t phdr_vaddr; /* where the program headers are in memory (0: not loaded) */
    uint16_t phnum;
    uint16_t phentsize;
    int exec_stack; /* PT_GNU_STACK asks for an executable stack */
    size_t nloads;
    struct elf_load_segment loads[ELF_IMAGE_MAX_LOADS];
    char interp[4096]; /* PT_INTERP, empty for a static program */
    size_t nneeded;
    char needed[ELF_IMAGE_MAX_NEEDED][256]; /* DT_NEEDED, in order */
};

/* Reads PATH's headers into IMG. On failure returns -1 and writes a
 * message naming the file and the cause into ERR. */
int elf_image_read(const char *path, struct elf_image *img, char *err, size_t errlen);

/* Lowest page and one past the highest page the PT_LOAD segments cover,
 * as link-time addresses. */
void elf_image_span(const struct elf_image *img, uint64_t *lo, uint64_t *hi);

/* Whether IMG names LIB (exact match) among its DT_NEEDED entries. */
int elf_image_needs(const struct elf_image *img, const char *lib);

#endif
