/* The initial stack the kernel would build for execve (argc, argv, envp,
 * auxv and the strings they point to), built in memory we own so the
 * upper half's ld.so starts exactly as after a real exec. */
#ifndef MANA_UPPER_STACK_H
#define MANA_UPPER_STACK_H

#include <stddef.h>
#include <stdint.h>

struct auxv_entry {
    uint64_t type;
    uint64_t value;
};

#define UPPER_STACK_MAX_AUXV 48

struct upper_stack_spec {
    char *const *argv;  /* NULL-terminated */
    char *const *envp;  /* NULL-terminated */
    const char *execfn; /* AT_EXECFN string */
    const char *platform; /* AT_PLATFORM string, or NULL to leave it out */
    unsigned char random[16]; /* AT_RANDOM bytes */
    /* Entries with plain values; AT_EXECFN, AT_PLATFORM, AT_RANDOM and
     * AT_NULL are added by the builder because they point into the stack. */
    size_t nauxv;
    struct auxv_entry auxv[UPPER_STACK_MAX_AUXV];
};

/* Builds the stack at the top of [lo, hi) and returns the initial stack
 * pointer (pointing at argc, 16-byte aligned), or 0 with ERR set when it
 * does not fit. */
uint64_t upper_stack_build(void *lo, void *hi, const struct upper_stack_spec *spec, char *err, size_t errlen);

/* Reads back what upper_stack_build (or the kernel) laid out at SP. */
struct upper_stack_view {
    long argc;
    char **argv;
    char **envp;
    struct auxv_entry *auxv; /* terminated by AT_NULL */
};
void upper_stack_view(uint64_t sp, struct upper_stack_view *view);

/* The value of auxv entry TYPE in VIEW, or 0 with *found = 0. */
uint64_t upper_stack_auxv(const struct upper_stack_view *view, uint64_t type, int *found);

#endif
