/* The vDSO is a small ELF shared object the kernel maps into every
 * process; libelf reads it straight from memory. Its size is the end of
 * its last PT_LOAD, and the symbols are relative to its load address. */
#include "vdso_symbol.h"

#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <sys/auxv.h>

static size_t vdso_size(const unsigned char *image)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)image;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
        return 0;
    size_t end = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(image + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset + ph[i].p_filesz > end)
            end = ph[i].p_offset + ph[i].p_filesz;
    return end;
}

void *vdso_symbol(const char *name)
{
    unsigned char *image = (unsigned char *)getauxval(AT_SYSINFO_EHDR);
    if (image == NULL || elf_version(EV_CURRENT) == EV_NONE)
        return NULL;
    size_t size = vdso_size(image);
    if (size == 0)
        return NULL;
    Elf *elf = elf_memory((char *)image, size);
    if (elf == NULL)
        return NULL;
    void *found = NULL;
    Elf_Scn *scn = NULL;
    while (found == NULL && (scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_DYNSYM || sh.sh_entsize == 0)
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        size_t count = sh.sh_size / sh.sh_entsize;
        for (size_t i = 0; data != NULL && i < count; i++) {
            GElf_Sym sym;
            if (gelf_getsym(data, (int)i, &sym) == NULL || sym.st_shndx == SHN_UNDEF)
                continue;
            const char *s = elf_strptr(elf, sh.sh_link, sym.st_name);
            if (s != NULL && strcmp(s, name) == 0) {
                found = image + sym.st_value;
                break;
            }
        }
    }
    elf_end(elf);
    return found;
}
