/* Reading ELF headers with libelf: only what loading and launch checks use. */
#include "elf_image.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_SIZE_LOADER 4096ULL

static int prot_from_flags(uint32_t flags)
{
    int prot = 0;
    if (flags & PF_R)
        prot |= PROT_READ;
    if (flags & PF_W)
        prot |= PROT_WRITE;
    if (flags & PF_X)
        prot |= PROT_EXEC;
    return prot;
}

static int read_interp(int fd, const GElf_Phdr *ph, struct elf_image *img, char *err, size_t errlen)
{
    if (ph->p_filesz == 0 || ph->p_filesz >= sizeof img->interp) {
        snprintf(err, errlen, "%s: PT_INTERP has an invalid size (%llu bytes): the file is damaged",
                 img->path, (unsigned long long)ph->p_filesz);
        return -1;
    }
    ssize_t n = pread(fd, img->interp, ph->p_filesz, (off_t)ph->p_offset);
    if (n != (ssize_t)ph->p_filesz) {
        snprintf(err, errlen, "%s: cannot read PT_INTERP: the file is truncated", img->path);
        return -1;
    }
    img->interp[ph->p_filesz - 1] = '\0';
    return 0;
}

/* DT_NEEDED comes from the dynamic section; a file without section
 * headers simply reports no needed libraries. */
static void read_needed(Elf *elf, struct elf_image *img)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_DYNAMIC)
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        if (data == NULL || sh.sh_entsize == 0)
            return;
        size_t count = sh.sh_size / sh.sh_entsize;
        for (size_t i = 0; i < count && img->nneeded < ELF_IMAGE_MAX_NEEDED; i++) {
            GElf_Dyn dyn;
            if (gelf_getdyn(data, (int)i, &dyn) == NULL || dyn.d_tag == DT_NULL)
                break;
            if (dyn.d_tag != DT_NEEDED)
                continue;
            const char *name = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
            if (name == NULL)
                continue;
            snprintf(img->needed[img->nneeded++], sizeof img->needed[0], "%s", name);
        }
        return;
    }
}

static int read_phdrs(Elf *elf, int fd, uint64_t file_size, struct elf_image *img, char *err, size_t errlen)
{
    size_t phnum;
    if (elf_getphdrnum(elf, &phnum) != 0 || phnum == 0) {
        snprintf(err, errlen, "%s: no program headers: not an executable or shared object", img->path);
        return -1;
    }
    img->phnum = (uint16_t)phnum;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) == NULL) {
            snprintf(err, errlen, "%s: program header %zu unreadable: %s", img->path, i, elf_errmsg(-1));
            return -1;
        }
        switch (ph.p_type) {
        case PT_LOAD:
            if (img->nloads == ELF_IMAGE_MAX_LOADS) {
                snprintf(err, errlen, "%s: more than %d PT_LOAD segments: not supported", img->path,
                         ELF_IMAGE_MAX_LOADS);
                return -1;
            }
            if (ph.p_filesz > ph.p_memsz || (ph.p_vaddr % PAGE_SIZE_LOADER) != (ph.p_offset % PAGE_SIZE_LOADER)) {
                snprintf(err, errlen, "%s: PT_LOAD segment %zu is inconsistent (size or alignment): the file is damaged",
                         img->path, i);
                return -1;
            }
            if (ph.p_offset > file_size || ph.p_filesz > file_size - ph.p_offset) {
                snprintf(err, errlen,
                         "%s: truncated: PT_LOAD segment %zu ends at byte %llu of a %llu-byte file (an interrupted "
                         "copy or build?): rebuild or copy the program again",
                         img->path, i, (unsigned long long)(ph.p_offset + ph.p_filesz),
                         (unsigned long long)file_size);
                return -1;
            }
            img->loads[img->nloads++] = (struct elf_load_segment){
                .vaddr = ph.p_vaddr, .offset = ph.p_offset, .filesz = ph.p_filesz,
                .memsz = ph.p_memsz, .prot = prot_from_flags(ph.p_flags)};
            break;
        case PT_INTERP:
            if (read_interp(fd, &ph, img, err, errlen) != 0)
                return -1;
            break;
        case PT_PHDR:
            img->phdr_vaddr = ph.p_vaddr;
            break;
        case PT_GNU_STACK:
            img->exec_stack = (ph.p_flags & PF_X) != 0;
            break;
        default:
            break;
        }
    }
    if (img->nloads == 0) {
        snprintf(err, errlen, "%s: no PT_LOAD segment: nothing to load", img->path);
        return -1;
    }
    return 0;
}

/* Without PT_PHDR the headers are in memory only if the first segment
 * maps the file offset they sit at. */
static void locate_phdrs_in_memory(struct elf_image *img, uint64_t phoff)
{
    if (img->phdr_vaddr != 0)
        return;
    for (size_t i = 0; i < img->nloads; i++) {
        const struct elf_load_segment *s = &img->loads[i];
        if (phoff >= s->offset && phoff + (uint64_t)img->phnum * img->phentsize <= s->offset + s->filesz) {
            img->phdr_vaddr = s->vaddr + (phoff - s->offset);
            return;
        }
    }
}

int elf_image_read(const char *path, struct elf_image *img, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    snprintf(img->path, sizeof img->path, "%s", path);
    if (elf_version(EV_CURRENT) == EV_NONE) {
        snprintf(err, errlen, "libelf is unusable: %s", elf_errmsg(-1));
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    if (elf == NULL || elf_kind(elf) != ELF_K_ELF) {
        snprintf(err, errlen, "%s: not an ELF file (a script or data?): MANA runs compiled programs", path);
        goto out;
    }
    GElf_Ehdr eh;
    if (gelf_getehdr(elf, &eh) == NULL) {
        snprintf(err, errlen, "%s: ELF header unreadable: %s", path, elf_errmsg(-1));
        goto out;
    }
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64) {
        snprintf(err, errlen, "%s: not an x86-64 program (ELF class %d, machine %d): rebuild it for x86-64",
                 path, eh.e_ident[EI_CLASS], eh.e_machine);
        goto out;
    }
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
        snprintf(err, errlen, "%s: ELF type %d is neither an executable nor a PIE", path, eh.e_type);
        goto out;
    }
    img->is_pie = eh.e_type == ET_DYN;
    img->entry = eh.e_entry;
    img->phentsize = eh.e_phentsize;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (read_phdrs(elf, fd, (uint64_t)st.st_size, img, err, errlen) != 0)
        goto out;
    locate_phdrs_in_memory(img, eh.e_phoff);
    read_needed(elf, img);
    rc = 0;
out:
    if (elf != NULL)
        elf_end(elf);
    close(fd);
    return rc;
}

void elf_image_span(const struct elf_image *img, uint64_t *lo, uint64_t *hi)
{
    uint64_t min = UINT64_MAX, max = 0;
    for (size_t i = 0; i < img->nloads; i++) {
        const struct elf_load_segment *s = &img->loads[i];
        if (s->vaddr < min)
            min = s->vaddr;
        if (s->vaddr + s->memsz > max)
            max = s->vaddr + s->memsz;
    }
    *lo = min & ~(PAGE_SIZE_LOADER - 1);
    *hi = (max + PAGE_SIZE_LOADER - 1) & ~(PAGE_SIZE_LOADER - 1);
}

int elf_image_needs(const struct elf_image *img, const char *lib)
{
    for (size_t i = 0; i < img->nneeded; i++)
        if (strcmp(img->needed[i], lib) == 0)
            return 1;
    return 0;
}
