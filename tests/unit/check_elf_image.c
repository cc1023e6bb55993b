/* Unit tests for loader/elf_image (ELF header reading with libelf) and
 * loader/elf_map (mapping PT_LOAD segments into this process).
 *
 * Test programs are compiled with gcc into a temporary directory when the
 * suite starts: a PIE, a non-PIE, a static program, one with an executable
 * stack, a shared library and a program with several DT_NEEDED entries.
 * Damaged files are made from copies of those (cut short, bytes patched),
 * and a few small ELF files are written by hand. Every result of
 * elf_image_read is compared with a direct parse of the file's headers. */
#define _GNU_SOURCE
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_image.h"
#include "elf_map.h"

#define PAGE 4096ULL
#define INTERP_X86_64 "/lib64/ld-linux-x86-64.so.2"

#define REQUIRE(cond, ...)                                                                                             \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            ck_abort_msg(__VA_ARGS__);                                                                                 \
    } while (0)

#define ASSERT_CONTAINS(text, part)                                                                                    \
    ck_assert_msg(strstr((text), (part)) != NULL, "message '%s' does not contain '%s'", (text), (part))

/* --- the temporary directory and the programs built into it ----------- */

static char tmpdir[PATH_MAX];

static const char *tmp_path(const char *name)
{
    static char paths[8][PATH_MAX + 64];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", tmpdir, name);
    return p;
}

static void write_text(const char *name, const char *text)
{
    FILE *f = fopen(tmp_path(name), "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", tmp_path(name), strerror(errno));
        exit(EXIT_FAILURE);
    }
}

static const char prog_c[] = "#include <stdio.h>\n"
                             "int big_bss[20000];\n"
                             "int data_var = 42;\n"
                             "const char marker[] = \"MANA-ELF-TEST-MARKER\";\n"
                             "int main(void) { big_bss[1] = data_var; puts(marker); return big_bss[1] - 42; }\n";
static const char lib_c[] = "int lib_value(void) { return 7; }\n";

static const char *const built[] = {"pie", "nopie", "static", "execstack", "libfoo.so.1", "needs", "prog.o"};

/* Compiles the test programs; exits the whole test program on failure,
 * as nothing here could run without them. */
static void build_programs(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/mana-check-elf.XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
    write_text("prog.c", prog_c);
    write_text("lib.c", lib_c);
    write_text("script.sh", "#!/bin/sh\necho not an ELF file\n");
    write_text("empty", "");
    char cmd[8 * PATH_MAX];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && { gcc -O1 -fPIE -pie -o pie prog.c & gcc -O1 -fno-pie -no-pie -o nopie prog.c & "
             "gcc -O1 -static -o static prog.c & gcc -O1 -z execstack -o execstack prog.c & "
             "gcc -O1 -c -o prog.o prog.c & "
             "gcc -O1 -shared -fPIC -Wl,-soname,libfoo.so.1 -o libfoo.so.1 lib.c; wait; } && "
             "gcc -O1 -o needs prog.c -Wl,--no-as-needed -L. -l:libfoo.so.1 -lm",
             tmpdir);
    int rc = system(cmd);
    for (size_t i = 0; i < sizeof built / sizeof built[0]; i++) {
        struct stat st;
        if (rc != 0 || stat(tmp_path(built[i]), &st) != 0) {
            fprintf(stderr, "building the test programs in %s failed (status %d, %s missing?)\n", tmpdir, rc,
                    built[i]);
            exit(EXIT_FAILURE);
        }
    }
}

static void remove_programs(void)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* --- file helpers ------------------------------------------------------ */

static unsigned char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    unsigned char *data = malloc((size_t)st.st_size + 1);
    ck_assert_ptr_nonnull(data);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        ck_assert_int_gt(n, 0);
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return data;
}

static void spill(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
}

/* A copy of SRC named NAME in the temp dir, cut to LEN bytes (all if
 * LEN is SIZE_MAX); returns its path. */
static const char *copy_of(const char *src, const char *name, size_t len)
{
    size_t n;
    unsigned char *data = slurp(src, &n);
    const char *dst = tmp_path(name);
    spill(dst, data, len < n ? len : n, 0755);
    free(data);
    return dst;
}

static void patch(const char *path, uint64_t offset, const void *bytes, size_t len)
{
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, bytes, len, (off_t)offset), (ssize_t)len);
    close(fd);
}

/* Headers parsed without libelf, to check elf_image_read against. */
struct raw_elf {
    Elf64_Ehdr eh;
    Elf64_Phdr ph[64];
};

static void raw_read(const char *path, struct raw_elf *r)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &r->eh, sizeof r->eh, 0), (ssize_t)sizeof r->eh);
    ck_assert_uint_le(r->eh.e_phnum, 64);
    ck_assert_uint_eq(r->eh.e_phentsize, sizeof(Elf64_Phdr));
    ssize_t want = (ssize_t)(r->eh.e_phnum * sizeof(Elf64_Phdr));
    ck_assert_int_eq(pread(fd, r->ph, (size_t)want, (off_t)r->eh.e_phoff), want);
    close(fd);
}

/* Index of the Nth program header of TYPE, or -1. */
static int raw_find(const struct raw_elf *r, uint32_t type, int nth)
{
    for (int i = 0; i < r->eh.e_phnum; i++)
        if (r->ph[i].p_type == type && nth-- == 0)
            return i;
    return -1;
}

static int prot_of(uint32_t flags)
{
    return ((flags & PF_R) ? PROT_READ : 0) | ((flags & PF_W) ? PROT_WRITE : 0) | ((flags & PF_X) ? PROT_EXEC : 0);
}

/* Reads PATH and checks every field against the raw headers. */
static void read_and_compare(const char *path, struct elf_image *img)
{
    char err[8192] = "";
    int rc = elf_image_read(path, img, err, sizeof err);
    ck_assert_msg(rc == 0, "elf_image_read(%s) failed: %s", path, err);
    struct raw_elf r;
    raw_read(path, &r);
    ck_assert_str_eq(img->path, path);
    ck_assert_int_eq(img->is_pie, r.eh.e_type == ET_DYN);
    ck_assert_uint_eq(img->entry, r.eh.e_entry);
    ck_assert_uint_eq(img->phnum, r.eh.e_phnum);
    ck_assert_uint_eq(img->phentsize, sizeof(Elf64_Phdr));

    size_t nloads = 0;
    for (int i = 0; i < r.eh.e_phnum; i++) {
        const Elf64_Phdr *p = &r.ph[i];
        if (p->p_type != PT_LOAD)
            continue;
        ck_assert_uint_lt(nloads, img->nloads);
        const struct elf_load_segment *s = &img->loads[nloads++];
        ck_assert_uint_eq(s->vaddr, p->p_vaddr);
        ck_assert_uint_eq(s->offset, p->p_offset);
        ck_assert_uint_eq(s->filesz, p->p_filesz);
        ck_assert_uint_eq(s->memsz, p->p_memsz);
        ck_assert_int_eq(s->prot, prot_of(p->p_flags));
        /* PT_LOAD consistency the kernel relies on. */
        ck_assert_uint_le(s->filesz, s->memsz);
        ck_assert_uint_eq(s->vaddr % PAGE, s->offset % PAGE);
    }
    ck_assert_uint_eq(img->nloads, nloads);
    ck_assert_uint_gt(nloads, 0);
    /* Sorted by address, as the ELF specification requires. */
    for (size_t i = 1; i < img->nloads; i++)
        ck_assert_uint_ge(img->loads[i].vaddr, img->loads[i - 1].vaddr + img->loads[i - 1].memsz);

    int interp = raw_find(&r, PT_INTERP, 0);
    if (interp < 0) {
        ck_assert_str_eq(img->interp, "");
    } else {
        char want[4096] = "";
        int fd = open(path, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, want, r.ph[interp].p_filesz, (off_t)r.ph[interp].p_offset),
                         (ssize_t)r.ph[interp].p_filesz);
        close(fd);
        ck_assert_str_eq(img->interp, want);
    }

    int stack = raw_find(&r, PT_GNU_STACK, 0);
    ck_assert_int_eq(img->exec_stack, stack >= 0 && (r.ph[stack].p_flags & PF_X) != 0);

    int phdr = raw_find(&r, PT_PHDR, 0);
    if (phdr >= 0) {
        ck_assert_uint_eq(img->phdr_vaddr, r.ph[phdr].p_vaddr);
    } else {
        /* Where the first PT_LOAD (mapping file offset 0) puts them. */
        int l0 = raw_find(&r, PT_LOAD, 0);
        ck_assert_uint_eq(r.ph[l0].p_offset, 0);
        ck_assert_uint_eq(img->phdr_vaddr, r.ph[l0].p_vaddr + r.eh.e_phoff);
    }
}

/* Writes a hand-made x86-64 ELF file: header, NPH program headers right
 * after it, then zero bytes up to SIZE. No section headers. */
static const char *synthetic(const char *name, uint16_t type, const Elf64_Phdr *ph, uint16_t nph, size_t size)
{
    size_t need = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr);
    if (size < need)
        size = need;
    unsigned char *data = calloc(1, size);
    ck_assert_ptr_nonnull(data);
    Elf64_Ehdr eh = {0};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = type;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = 0x10080;
    eh.e_phoff = nph ? sizeof eh : 0;
    eh.e_ehsize = sizeof eh;
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = nph;
    memcpy(data, &eh, sizeof eh);
    if (nph > 0)
        memcpy(data + sizeof eh, ph, nph * sizeof(Elf64_Phdr));
    const char *path = tmp_path(name);
    spill(path, data, size, 0755);
    free(data);
    return path;
}

static Elf64_Phdr load_ph(uint64_t vaddr, uint64_t offset, uint64_t filesz, uint64_t memsz, uint32_t flags)
{
    return (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = flags, .p_offset = offset, .p_vaddr = vaddr,
                        .p_paddr = vaddr, .p_filesz = filesz, .p_memsz = memsz, .p_align = PAGE};
}

/* elf_image_read must fail on PATH with a message naming it and PART. */
static void expect_read_error(const char *path, const char *part)
{
    struct elf_image img;
    char err[8192] = "";
    ck_assert_msg(elf_image_read(path, &img, err, sizeof err) == -1, "%s was accepted", path);
    ASSERT_CONTAINS(err, path);
    ASSERT_CONTAINS(err, part);
}

/* --- elf_image_read on real programs ---------------------------------- */

START_TEST(test_read_self)
{
    static struct elf_image img;
    read_and_compare("/proc/self/exe", &img);
    ck_assert_int_eq(img.is_pie, 1); /* Debian's gcc builds PIE by default */
    ck_assert_str_eq(img.interp, INTERP_X86_64);
    ck_assert(elf_image_needs(&img, "libc.so.6"));
    ck_assert(elf_image_needs(&img, "libelf.so.1")); /* this program links -lelf */
    ck_assert(!elf_image_needs(&img, "libc.so"));
    ck_assert(!elf_image_needs(&img, "libc.so.6.1"));
    ck_assert(!elf_image_needs(&img, ""));
    /* The entry point and the headers are in this process at base + link
     * address: the PT_PHDR address minus the runtime one gives the base. */
    extern char __ehdr_start[] __attribute__((visibility("hidden")));
    uint64_t base = (uint64_t)(uintptr_t)__ehdr_start;
    ck_assert_mem_eq((void *)(uintptr_t)(base + img.phdr_vaddr),
                     (void *)(uintptr_t)(base + ((Elf64_Ehdr *)__ehdr_start)->e_phoff),
                     (size_t)img.phnum * img.phentsize);
    ck_assert_uint_eq(img.entry, ((Elf64_Ehdr *)__ehdr_start)->e_entry);
}
END_TEST

START_TEST(test_read_bin_true)
{
    static struct elf_image img;
    read_and_compare("/bin/true", &img);
    ck_assert_str_eq(img.interp, INTERP_X86_64);
    ck_assert_uint_eq(img.nneeded, 1);
    ck_assert_str_eq(img.needed[0], "libc.so.6");
    ck_assert_int_eq(img.exec_stack, 0);
}
END_TEST

START_TEST(test_read_pie)
{
    static struct elf_image img;
    read_and_compare(tmp_path("pie"), &img);
    ck_assert_int_eq(img.is_pie, 1);
    ck_assert_str_eq(img.interp, INTERP_X86_64);
    ck_assert_uint_eq(img.nneeded, 1);
    ck_assert_str_eq(img.needed[0], "libc.so.6");
    ck_assert_uint_lt(img.entry, 0x100000); /* relative to the base */
    /* One executable segment holds the entry point; .bss makes the last
     * segment much larger in memory than in the file. */
    int in_exec = 0;
    for (size_t i = 0; i < img.nloads; i++)
        if ((img.loads[i].prot & PROT_EXEC) && img.entry >= img.loads[i].vaddr &&
            img.entry < img.loads[i].vaddr + img.loads[i].memsz)
            in_exec++;
    ck_assert_int_eq(in_exec, 1);
    const struct elf_load_segment *last = &img.loads[img.nloads - 1];
    ck_assert_int_eq(last->prot, PROT_READ | PROT_WRITE);
    ck_assert_uint_ge(last->memsz - last->filesz, 20000 * sizeof(int));
}
END_TEST

START_TEST(test_read_nopie)
{
    static struct elf_image img;
    read_and_compare(tmp_path("nopie"), &img);
    ck_assert_int_eq(img.is_pie, 0);
    ck_assert_str_eq(img.interp, INTERP_X86_64);
    ck_assert_uint_ge(img.loads[0].vaddr, 0x400000);
    ck_assert_uint_ge(img.entry, 0x400000);
    ck_assert_uint_ge(img.phdr_vaddr, 0x400000);
}
END_TEST

START_TEST(test_read_static)
{
    static struct elf_image img;
    read_and_compare(tmp_path("static"), &img);
    ck_assert_int_eq(img.is_pie, 0);
    ck_assert_str_eq(img.interp, "");
    ck_assert_uint_eq(img.nneeded, 0);
    /* No PT_PHDR: found through the first segment, which maps offset 0. */
    struct raw_elf r;
    raw_read(tmp_path("static"), &r);
    ck_assert_int_eq(raw_find(&r, PT_PHDR, 0), -1);
    ck_assert_uint_eq(img.phdr_vaddr, img.loads[0].vaddr + r.eh.e_phoff);
}
END_TEST

START_TEST(test_read_shared_library)
{
    static struct elf_image img;
    read_and_compare(tmp_path("libfoo.so.1"), &img);
    ck_assert_int_eq(img.is_pie, 1); /* ET_DYN */
    ck_assert_str_eq(img.interp, "");
    ck_assert(!elf_image_needs(&img, "libfoo.so.1")); /* its soname is not a need */
}
END_TEST

START_TEST(test_needed_in_order)
{
    static struct elf_image img;
    read_and_compare(tmp_path("needs"), &img);
    ck_assert_uint_eq(img.nneeded, 3);
    ck_assert_str_eq(img.needed[0], "libfoo.so.1");
    ck_assert_str_eq(img.needed[1], "libm.so.6");
    ck_assert_str_eq(img.needed[2], "libc.so.6");
    ck_assert(elf_image_needs(&img, "libfoo.so.1"));
    ck_assert(elf_image_needs(&img, "libm.so.6"));
    ck_assert(!elf_image_needs(&img, "libfoo.so"));
    ck_assert(!elf_image_needs(&img, "libmpi.so.40"));
}
END_TEST

START_TEST(test_exec_stack)
{
    static struct elf_image img;
    read_and_compare(tmp_path("execstack"), &img);
    ck_assert_int_eq(img.exec_stack, 1);
    read_and_compare(tmp_path("pie"), &img);
    ck_assert_int_eq(img.exec_stack, 0);
}
END_TEST

START_TEST(test_needs_and_span_on_plain_struct)
{
    static struct elf_image img;
    memset(&img, 0, sizeof img);
    img.nloads = 3;
    img.loads[0] = (struct elf_load_segment){.vaddr = 0x1234, .memsz = 0x10};
    img.loads[1] = (struct elf_load_segment){.vaddr = 0x5000, .memsz = 0x2001};
    img.loads[2] = (struct elf_load_segment){.vaddr = 0x3000, .memsz = 0x1000}; /* out of order */
    uint64_t lo = 1, hi = 1;
    elf_image_span(&img, &lo, &hi);
    ck_assert_uint_eq(lo, 0x1000);
    ck_assert_uint_eq(hi, 0x8000);
    img.nloads = 1;
    img.loads[0] = (struct elf_load_segment){.vaddr = 0x400000, .memsz = 0x1000};
    elf_image_span(&img, &lo, &hi);
    ck_assert_uint_eq(lo, 0x400000);
    ck_assert_uint_eq(hi, 0x401000);

    img.nneeded = 2;
    strcpy(img.needed[0], "libmpi.so.40");
    strcpy(img.needed[1], "libc.so.6");
    ck_assert_int_eq(elf_image_needs(&img, "libmpi.so.40"), 1);
    ck_assert_int_eq(elf_image_needs(&img, "libc.so.6"), 1);
    ck_assert_int_eq(elf_image_needs(&img, "libmpi.so.4"), 0);
    ck_assert_int_eq(elf_image_needs(&img, "libmpi.so.400"), 0);
    img.nneeded = 1; /* entries past nneeded do not count */
    ck_assert_int_eq(elf_image_needs(&img, "libc.so.6"), 0);
}
END_TEST

START_TEST(test_span_of_real_programs)
{
    static struct elf_image img;
    const char *paths[] = {"/bin/true", tmp_path("pie"), tmp_path("nopie"), tmp_path("static"),
                           tmp_path("libfoo.so.1")};
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
        read_and_compare(paths[k], &img);
        uint64_t lo, hi, min = UINT64_MAX, max = 0;
        elf_image_span(&img, &lo, &hi);
        for (size_t i = 0; i < img.nloads; i++) {
            if (img.loads[i].vaddr < min)
                min = img.loads[i].vaddr;
            if (img.loads[i].vaddr + img.loads[i].memsz > max)
                max = img.loads[i].vaddr + img.loads[i].memsz;
        }
        ck_assert_uint_eq(lo % PAGE, 0);
        ck_assert_uint_eq(hi % PAGE, 0);
        ck_assert_uint_le(lo, min);
        ck_assert_uint_gt(lo + PAGE, min);
        ck_assert_uint_ge(hi, max);
        ck_assert_uint_lt(hi, max + PAGE);
    }
}
END_TEST

/* --- elf_image_read on hand-made files --------------------------------- */

START_TEST(test_synthetic_phdrs_located)
{
    static struct elf_image img;
    char err[8192] = "";
    /* The first segment maps offset 0, so the headers at offset 64 are at
     * its address + 64. */
    Elf64_Phdr ph[2] = {load_ph(0x10000, 0, 0x1000, 0x1000, PF_R | PF_X), load_ph(0x12000, 0x1000, 0x100, 0x2000,
                                                                                  PF_R | PF_W)};
    const char *p = synthetic("located", ET_EXEC, ph, 2, 0x2000);
    ck_assert_msg(elf_image_read(p, &img, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(img.phdr_vaddr, 0x10000 + sizeof(Elf64_Ehdr));
    ck_assert_uint_eq(img.nloads, 2);
    ck_assert_int_eq(img.loads[0].prot, PROT_READ | PROT_EXEC);
    ck_assert_int_eq(img.loads[1].prot, PROT_READ | PROT_WRITE);
    ck_assert_uint_eq(img.nneeded, 0); /* no section headers: no needs */
    ck_assert_str_eq(img.interp, "");
    ck_assert_uint_eq(img.entry, 0x10080);

    /* No segment maps the headers: not in memory. */
    Elf64_Phdr ph2[1] = {load_ph(0x10000, 0x1000, 0x100, 0x100, PF_R)};
    p = synthetic("unlocated", ET_EXEC, ph2, 1, 0x2000);
    ck_assert_msg(elf_image_read(p, &img, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(img.phdr_vaddr, 0);

    /* Headers only partly inside the first segment's file bytes. */
    Elf64_Phdr ph3[2] = {load_ph(0x10000, 0, 0x60, 0x60, PF_R), load_ph(0x20000, 0x1000, 0x10, 0x10, PF_R)};
    p = synthetic("partial", ET_EXEC, ph3, 2, 0x2000);
    ck_assert_msg(elf_image_read(p, &img, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(img.phdr_vaddr, 0);
}
END_TEST

START_TEST(test_synthetic_load_limit)
{
    static struct elf_image img;
    char err[8192] = "";
    Elf64_Phdr ph[ELF_IMAGE_MAX_LOADS + 1];
    for (int i = 0; i <= ELF_IMAGE_MAX_LOADS; i++)
        ph[i] = load_ph(0x10000 + (uint64_t)i * PAGE, (uint64_t)i * PAGE, 0x100, 0x100, PF_R);
    /* Exactly the maximum is fine... */
    const char *p = synthetic("max_loads", ET_DYN, ph, ELF_IMAGE_MAX_LOADS, (ELF_IMAGE_MAX_LOADS + 1) * PAGE);
    ck_assert_msg(elf_image_read(p, &img, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(img.nloads, ELF_IMAGE_MAX_LOADS);
    ck_assert_uint_eq(img.loads[ELF_IMAGE_MAX_LOADS - 1].vaddr, 0x10000 + (ELF_IMAGE_MAX_LOADS - 1) * PAGE);
    /* ... one more is refused. */
    p = synthetic("too_many_loads", ET_DYN, ph, ELF_IMAGE_MAX_LOADS + 1, (ELF_IMAGE_MAX_LOADS + 2) * PAGE);
    expect_read_error(p, "more than 16 PT_LOAD");
}
END_TEST

START_TEST(test_synthetic_bad_headers)
{
    Elf64_Phdr ok = load_ph(0x10000, 0, 0x100, 0x100, PF_R);
    /* No program headers at all. */
    expect_read_error(synthetic("no_phdrs", ET_EXEC, NULL, 0, 0x1000), "no program headers");
    /* Program headers, none of them PT_LOAD. */
    Elf64_Phdr note = {.p_type = PT_NOTE, .p_offset = 0x100, .p_filesz = 0x10};
    expect_read_error(synthetic("no_loads", ET_EXEC, &note, 1, 0x1000), "no PT_LOAD segment");
    /* PT_INTERP of size 0 and larger than any path. */
    Elf64_Phdr ph[2] = {{.p_type = PT_INTERP, .p_offset = 0x200, .p_filesz = 0}, ok};
    expect_read_error(synthetic("interp0", ET_EXEC, ph, 2, 0x1000), "PT_INTERP has an invalid size (0 bytes)");
    ph[0].p_filesz = 5000;
    expect_read_error(synthetic("interp_big", ET_EXEC, ph, 2, 0x4000), "invalid size (5000 bytes)");
    /* PT_INTERP past the end of the file. */
    ph[0].p_offset = 0x800;
    ph[0].p_filesz = 28;
    expect_read_error(synthetic("interp_cut", ET_EXEC, ph, 2, 0x810), "PT_INTERP: the file is truncated");
    /* A good one, for contrast: read up to its terminating NUL. */
    ph[0].p_filesz = 28;
    const char *p = synthetic("interp_ok", ET_EXEC, ph, 2, 0x1000);
    patch(p, 0x800, INTERP_X86_64, sizeof INTERP_X86_64);
    static struct elf_image img;
    char err[8192] = "";
    ck_assert_msg(elf_image_read(p, &img, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(img.interp, INTERP_X86_64);
    /* filesz > memsz, and vaddr/offset disagreeing modulo the page. */
    Elf64_Phdr bad = load_ph(0x10000, 0, 0x200, 0x100, PF_R);
    expect_read_error(synthetic("filesz_gt_memsz", ET_EXEC, &bad, 1, 0x1000), "PT_LOAD segment 0 is inconsistent");
    bad = load_ph(0x10010, 0x20, 0x100, 0x100, PF_R);
    Elf64_Phdr two[2] = {ok, bad};
    two[1].p_vaddr = 0x20010;
    expect_read_error(synthetic("misaligned", ET_EXEC, two, 2, 0x1000), "PT_LOAD segment 1 is inconsistent");
    /* An object file and a core file are not programs. */
    expect_read_error(synthetic("rel", ET_REL, &ok, 1, 0x1000), "ELF type 1 is neither");
    expect_read_error(synthetic("core", ET_CORE, &ok, 1, 0x1000), "ELF type 4 is neither");
}
END_TEST

/* --- elf_image_read on damaged copies of real programs ----------------- */

START_TEST(test_error_not_found)
{
    const char *p = tmp_path("no-such-program");
    expect_read_error(p, "cannot open");
    expect_read_error(p, strerror(ENOENT));
}
END_TEST

START_TEST(test_error_not_elf)
{
    expect_read_error(tmp_path("script.sh"), "not an ELF file");
    expect_read_error(tmp_path("empty"), "not an ELF file");
    expect_read_error(tmpdir, "not an ELF file"); /* a directory */
}
END_TEST

START_TEST(test_error_object_file)
{
    expect_read_error(tmp_path("prog.o"), "ELF type 1 is neither an executable nor a PIE");
}
END_TEST

START_TEST(test_error_other_class)
{
    const char *p = copy_of(tmp_path("pie"), "class32", SIZE_MAX);
    unsigned char c = ELFCLASS32;
    patch(p, EI_CLASS, &c, 1);
    expect_read_error(p, "not an x86-64 program (ELF class 1, machine 62)");
}
END_TEST

START_TEST(test_error_other_machine)
{
    const char *p = copy_of(tmp_path("pie"), "aarch64", SIZE_MAX);
    uint16_t m = EM_AARCH64;
    patch(p, offsetof(Elf64_Ehdr, e_machine), &m, sizeof m);
    expect_read_error(p, "not an x86-64 program (ELF class 2, machine 183)");
    expect_read_error(p, "rebuild it for x86-64");
}
END_TEST

START_TEST(test_error_truncated)
{
    struct raw_elf r;
    raw_read(tmp_path("pie"), &r);
    int interp = raw_find(&r, PT_INTERP, 0);
    ck_assert_int_ge(interp, 0);
    /* Cut inside the ELF header, inside the program headers, and inside
     * the interpreter path. */
    expect_read_error(copy_of(tmp_path("pie"), "cut16", 16), "not an ELF file");
    expect_read_error(copy_of(tmp_path("pie"), "cut_phdrs", r.eh.e_phoff + sizeof(Elf64_Phdr) + 8), "program header");
    expect_read_error(copy_of(tmp_path("pie"), "cut_interp", r.ph[interp].p_offset + 4),
                      "cannot read PT_INTERP: the file is truncated");
}
END_TEST

START_TEST(test_error_inconsistent_load)
{
    struct raw_elf r;
    raw_read(tmp_path("pie"), &r);
    int l = raw_find(&r, PT_LOAD, 1);
    ck_assert_int_ge(l, 0);
    uint64_t at = r.eh.e_phoff + (uint64_t)l * sizeof(Elf64_Phdr);
    /* File size over memory size. */
    const char *p = copy_of(tmp_path("pie"), "filesz", SIZE_MAX);
    uint64_t v = r.ph[l].p_memsz + 1;
    patch(p, at + offsetof(Elf64_Phdr, p_filesz), &v, sizeof v);
    expect_read_error(p, "is inconsistent");
    /* Offset and address disagree within the page. */
    p = copy_of(tmp_path("pie"), "offset", SIZE_MAX);
    v = r.ph[l].p_offset + 8;
    patch(p, at + offsetof(Elf64_Phdr, p_offset), &v, sizeof v);
    expect_read_error(p, "is inconsistent");
    expect_read_error(p, "damaged");
}
END_TEST

START_TEST(test_read_resets_image)
{
    /* A read fills IMG from scratch: nothing of the previous file stays. */
    static struct elf_image img;
    read_and_compare(tmp_path("needs"), &img);
    ck_assert_uint_eq(img.nneeded, 3);
    read_and_compare(tmp_path("static"), &img);
    ck_assert_uint_eq(img.nneeded, 0);
    ck_assert_str_eq(img.interp, "");
}
END_TEST

/* Regression: a copy cut after the interpreter path but before the end of
 * its PT_LOAD segments is accepted, its DT_NEEDED list silently empty. */
START_TEST(test_error_truncated_segments)
{
    size_t len;
    free(slurp(tmp_path("pie"), &len));
    const char *p = copy_of(tmp_path("pie"), "cut_segments", 2048);
    struct elf_image img;
    char err[8192] = "";
    ck_assert_msg(elf_image_read(p, &img, err, sizeof err) == -1, "a file cut from %zu to 2048 bytes was accepted",
                  len);
    ASSERT_CONTAINS(err, "truncated");
}
END_TEST

/* --- elf_image_map ----------------------------------------------------- */

/* The permissions /proc/self/maps shows for ADDR ("" if unmapped). */
static void perms_at(uint64_t addr, char out[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    char line[PATH_MAX + 128];
    out[0] = '\0';
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long s, e;
        char perms[5];
        if (sscanf(line, "%llx-%llx %4s", &s, &e, perms) == 3 && addr >= s && addr < e) {
            memcpy(out, perms, 5);
            break;
        }
    }
    fclose(f);
}

static int is_mapped(uint64_t addr)
{
    char p[5];
    perms_at(addr, p);
    return p[0] != '\0';
}

/* Checks a successful map of IMG: addresses, bytes, .bss, protections. */
static void check_mapping(const struct elf_image *img, const struct elf_mapped *m)
{
    uint64_t lo, hi;
    elf_image_span(img, &lo, &hi);
    ck_assert_uint_eq(m->start, m->base + lo);
    ck_assert_uint_eq(m->end, m->base + hi);
    ck_assert_uint_eq(m->start % PAGE, 0);
    ck_assert_uint_eq(m->base % PAGE, 0);
    ck_assert_uint_eq(m->entry, m->base + img->entry);
    if (!img->is_pie)
        ck_assert_uint_eq(m->base, 0);

    size_t flen;
    unsigned char *file = slurp(img->path, &flen);
    for (size_t i = 0; i < img->nloads; i++) {
        const struct elf_load_segment *s = &img->loads[i];
        const unsigned char *mem = (const unsigned char *)(uintptr_t)(m->base + s->vaddr);
        ck_assert_uint_le(s->offset + s->filesz, flen);
        /* The segment's file bytes, and the head of its first page. */
        for (uint64_t k = 0; k < s->filesz; k++)
            REQUIRE(mem[k] == file[s->offset + k], "segment %zu: byte %#llx is %#x in memory, %#x in the file", i,
                    (unsigned long long)k, mem[k], file[s->offset + k]);
        int page_shared = i > 0 && (img->loads[i - 1].vaddr + img->loads[i - 1].memsz - 1) / PAGE == s->vaddr / PAGE;
        if (!page_shared)
            ck_assert_mem_eq(mem - s->vaddr % PAGE, file + s->offset - s->offset % PAGE, s->vaddr % PAGE);
        /* With a .bss, it and the rest of its last page read as zero (the
         * file has other bytes there). Without, like the kernel, the rest
         * of the last page shows the file. */
        uint64_t mem_end = (s->vaddr + s->memsz + PAGE - 1) / PAGE * PAGE;
        int page_shared_next = i + 1 < img->nloads && img->loads[i + 1].vaddr < mem_end;
        uint64_t zero_end = page_shared_next ? s->vaddr + s->memsz : mem_end;
        if (s->memsz == s->filesz)
            zero_end = 0;
        for (uint64_t a = s->vaddr + s->filesz; a < zero_end; a++)
            REQUIRE(*(const unsigned char *)(uintptr_t)(m->base + a) == 0,
                    "segment %zu: byte at link address %#llx past the file part is not zero", i,
                    (unsigned long long)a);
        /* Protections as the segment asks, on its first and last page. */
        char want[4] = {(s->prot & PROT_READ) ? 'r' : '-', (s->prot & PROT_WRITE) ? 'w' : '-',
                        (s->prot & PROT_EXEC) ? 'x' : '-', 'p'};
        char got[5];
        perms_at(m->base + s->vaddr, got);
        ck_assert_msg(memcmp(got, want, 4) == 0, "segment %zu at %#llx is '%s', expected '%.4s'", i,
                      (unsigned long long)(m->base + s->vaddr), got, want);
        perms_at(m->base + s->vaddr + s->memsz - 1, got);
        ck_assert_msg(memcmp(got, want, 4) == 0, "end of segment %zu is '%s', expected '%.4s'", i, got, want);
    }
    /* The program headers are where phdr says. */
    if (img->phdr_vaddr != 0) {
        Elf64_Ehdr *eh = (Elf64_Ehdr *)file;
        ck_assert_uint_eq(m->phdr, m->base + img->phdr_vaddr);
        ck_assert_mem_eq((void *)(uintptr_t)m->phdr, file + eh->e_phoff, (size_t)img->phnum * img->phentsize);
    }
    /* The entry point is executable. */
    char got[5];
    perms_at(m->entry, got);
    ck_assert_int_eq(got[2], 'x');
    free(file);
}

START_TEST(test_map_pie)
{
    static struct elf_image img;
    read_and_compare(tmp_path("pie"), &img);
    struct elf_mapped m;
    char err[8192] = "";
    ck_assert_msg(elf_image_map(&img, &m, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_ne(m.base, 0);
    check_mapping(&img, &m);
    /* The marker string is readable at its place in the read-only data. */
    size_t flen;
    unsigned char *file = slurp(img.path, &flen);
    unsigned char *hit = memmem(file, flen, "MANA-ELF-TEST-MARKER", 20);
    ck_assert_ptr_nonnull(hit);
    uint64_t off = (uint64_t)(hit - file);
    for (size_t i = 0; i < img.nloads; i++)
        if (off >= img.loads[i].offset && off < img.loads[i].offset + img.loads[i].filesz)
            ck_assert_mem_eq((void *)(uintptr_t)(m.base + img.loads[i].vaddr + off - img.loads[i].offset),
                             "MANA-ELF-TEST-MARKER", 20);
    free(file);
    ck_assert_int_eq(munmap((void *)(uintptr_t)m.start, m.end - m.start), 0);
    ck_assert(!is_mapped(m.start));
}
END_TEST

START_TEST(test_map_bin_true)
{
    /* Its .bss shares the last file page with other file bytes, which
     * must read as zero once mapped. */
    static struct elf_image img;
    read_and_compare("/bin/true", &img);
    struct elf_mapped m;
    char err[8192] = "";
    ck_assert_msg(elf_image_map(&img, &m, err, sizeof err) == 0, "%s", err);
    check_mapping(&img, &m);
    munmap((void *)(uintptr_t)m.start, m.end - m.start);
}
END_TEST

START_TEST(test_map_pie_twice)
{
    static struct elf_image img;
    read_and_compare(tmp_path("pie"), &img);
    struct elf_mapped a, b;
    char err[8192] = "";
    ck_assert_msg(elf_image_map(&img, &a, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(elf_image_map(&img, &b, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_ne(a.base, b.base);
    ck_assert(a.end <= b.start || b.end <= a.start);
    check_mapping(&img, &a);
    check_mapping(&img, &b);
}
END_TEST

START_TEST(test_map_nopie_at_link_address)
{
    static struct elf_image img;
    read_and_compare(tmp_path("nopie"), &img);
    uint64_t lo, hi;
    elf_image_span(&img, &lo, &hi);
    ck_assert(!is_mapped(lo)); /* this test program is a PIE, far above */
    struct elf_mapped m;
    char err[8192] = "";
    ck_assert_msg(elf_image_map(&img, &m, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(m.base, 0);
    ck_assert_uint_eq(m.start, lo);
    check_mapping(&img, &m);
    munmap((void *)(uintptr_t)m.start, m.end - m.start);
}
END_TEST

START_TEST(test_map_static)
{
    static struct elf_image img;
    read_and_compare(tmp_path("static"), &img);
    struct elf_mapped m;
    char err[8192] = "";
    ck_assert_msg(elf_image_map(&img, &m, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(m.base, 0);
    check_mapping(&img, &m);
    munmap((void *)(uintptr_t)m.start, m.end - m.start);
}
END_TEST

START_TEST(test_map_nopie_address_in_use)
{
    static struct elf_image img;
    read_and_compare(tmp_path("nopie"), &img);
    uint64_t lo, hi;
    elf_image_span(&img, &lo, &hi);
    ck_assert_uint_ge(hi - lo, 2 * PAGE);
    /* Something else already sits on the second page of the range. */
    void *mine = mmap((void *)(uintptr_t)(lo + PAGE), PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                      -1, 0);
    ck_assert_ptr_eq(mine, (void *)(uintptr_t)(lo + PAGE));
    struct elf_mapped m;
    memset(&m, 0x77, sizeof m);
    char err[8192] = "";
    ck_assert_int_eq(elf_image_map(&img, &m, err, sizeof err), -1);
    ASSERT_CONTAINS(err, img.path);
    ASSERT_CONTAINS(err, "non-PIE program needs addresses");
    char range[64];
    snprintf(range, sizeof range, "0x%llx-0x%llx", (unsigned long long)lo, (unsigned long long)hi);
    ASSERT_CONTAINS(err, range);
    ASSERT_CONTAINS(err, "rebuild the program as PIE");
    /* Nothing was left behind, and what was there is untouched. */
    ck_assert(!is_mapped(lo));
    char got[5];
    perms_at(lo + PAGE, got);
    ck_assert_str_eq(got, "r--p");
    ck_assert_uint_eq(m.base, 0x7777777777777777ULL);
    munmap(mine, PAGE);
    /* Once the range is free, the same image maps. */
    ck_assert_msg(elf_image_map(&img, &m, err, sizeof err) == 0, "%s", err);
    check_mapping(&img, &m);
    munmap((void *)(uintptr_t)m.start, m.end - m.start);
}
END_TEST

START_TEST(test_map_file_gone)
{
    static struct elf_image img;
    const char *p = copy_of(tmp_path("pie"), "vanishing", SIZE_MAX);
    read_and_compare(p, &img);
    ck_assert_int_eq(unlink(p), 0);
    struct elf_mapped m;
    char err[8192] = "";
    ck_assert_int_eq(elf_image_map(&img, &m, err, sizeof err), -1);
    ASSERT_CONTAINS(err, p);
    ASSERT_CONTAINS(err, "cannot open");
}
END_TEST

static Suite *elf_image_suite(void)
{
    Suite *s = suite_create("elf_image");
    TCase *rd = tcase_create("read");
    tcase_set_timeout(rd, 30);
    tcase_add_test(rd, test_read_self);
    tcase_add_test(rd, test_read_bin_true);
    tcase_add_test(rd, test_read_pie);
    tcase_add_test(rd, test_read_nopie);
    tcase_add_test(rd, test_read_static);
    tcase_add_test(rd, test_read_shared_library);
    tcase_add_test(rd, test_needed_in_order);
    tcase_add_test(rd, test_exec_stack);
    tcase_add_test(rd, test_needs_and_span_on_plain_struct);
    tcase_add_test(rd, test_span_of_real_programs);
    tcase_add_test(rd, test_synthetic_phdrs_located);
    tcase_add_test(rd, test_synthetic_load_limit);
    tcase_add_test(rd, test_synthetic_bad_headers);
    tcase_add_test(rd, test_read_resets_image);
    suite_add_tcase(s, rd);

    TCase *bad = tcase_create("errors");
    tcase_set_timeout(bad, 30);
    tcase_add_test(bad, test_error_not_found);
    tcase_add_test(bad, test_error_not_elf);
    tcase_add_test(bad, test_error_object_file);
    tcase_add_test(bad, test_error_other_class);
    tcase_add_test(bad, test_error_other_machine);
    tcase_add_test(bad, test_error_truncated);
    tcase_add_test(bad, test_error_inconsistent_load);
    tcase_add_test(bad, test_error_truncated_segments);
    suite_add_tcase(s, bad);

    TCase *map = tcase_create("map");
    tcase_set_timeout(map, 30);
    tcase_add_test(map, test_map_pie);
    tcase_add_test(map, test_map_bin_true);
    tcase_add_test(map, test_map_pie_twice);
    tcase_add_test(map, test_map_nopie_at_link_address);
    tcase_add_test(map, test_map_static);
    tcase_add_test(map, test_map_nopie_address_in_use);
    tcase_add_test(map, test_map_file_gone);
    suite_add_tcase(s, map);
    return s;
}

int main(void)
{
    build_programs();
    SRunner *sr = srunner_create(elf_image_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_programs();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
