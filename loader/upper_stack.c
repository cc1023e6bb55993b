/* Layout, from high to low addresses, as Linux's create_elf_tables does:
 * strings (execfn, env, argv, platform), the 16 random bytes, padding,
 * then auxv, envp, argv and argc, with argc 16-byte aligned. */
#include "upper_stack.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>

struct stack_cursor {
    uint8_t *lo;
    uint8_t *top;
    int overflow;
};

static uint8_t *push_bytes(struct stack_cursor *c, const void *data, size_t len)
{
    if (c->overflow || (size_t)(c->top - c->lo) < len) {
        c->overflow = 1;
        return NULL;
    }
    c->top -= len;
    memcpy(c->top, data, len);
    return c->top;
}

static char *push_string(struct stack_cursor *c, const char *s)
{
    return (char *)push_bytes(c, s, strlen(s) + 1);
}

static size_t count_strings(char *const *v)
{
    size_t n = 0;
    while (v[n] != NULL)
        n++;
    return n;
}

uint64_t upper_stack_build(void *lo, void *hi, const struct upper_stack_spec *spec, char *err, size_t errlen)
{
    struct stack_cursor c = {.lo = lo, .top = hi, .overflow = 0};
    size_t argc = count_strings(spec->argv);
    size_t envc = count_strings(spec->envp);
    char *argv_copy[argc + 1];
    char *envp_copy[envc + 1];

    char *execfn = push_string(&c, spec->execfn);
    for (size_t i = envc; i-- > 0;)
        envp_copy[i] = push_string(&c, spec->envp[i]);
    for (size_t i = argc; i-- > 0;)
        argv_copy[i] = push_string(&c, spec->argv[i]);
    char *platform = spec->platform ? push_string(&c, spec->platform) : NULL;
    uint8_t *random = push_bytes(&c, spec->random, sizeof spec->random);
    argv_copy[argc] = NULL;
    envp_copy[envc] = NULL;

    struct auxv_entry auxv[UPPER_STACK_MAX_AUXV + 4];
    size_t nauxv = 0;
    for (size_t i = 0; i < spec->nauxv && i < UPPER_STACK_MAX_AUXV; i++)
        auxv[nauxv++] = spec->auxv[i];
    auxv[nauxv++] = (struct auxv_entry){AT_EXECFN, (uint64_t)execfn};
    auxv[nauxv++] = (struct auxv_entry){AT_RANDOM, (uint64_t)random};
    if (platform)
        auxv[nauxv++] = (struct auxv_entry){AT_PLATFORM, (uint64_t)platform};
    auxv[nauxv++] = (struct auxv_entry){AT_NULL, 0};

    size_t words = 1 + (argc + 1) + (envc + 1) + 2 * nauxv;
    size_t table_bytes = words * sizeof(uint64_t);
    if (c.overflow || (size_t)(c.top - c.lo) < table_bytes + 16) {
        snprintf(err, errlen, "upper stack of %zu bytes is too small for %zu arguments and %zu environment entries",
                 (size_t)((uint8_t *)hi - (uint8_t *)lo), argc, envc);
        return 0;
    }
    uint64_t sp = ((uint64_t)c.top - table_bytes) & ~15ULL;
    uint64_t *w = (uint64_t *)sp;
    *w++ = argc;
    for (size_t i = 0; i <= argc; i++)
        *w++ = (uint64_t)argv_copy[i];
    for (size_t i = 0; i <= envc; i++)
        *w++ = (uint64_t)envp_copy[i];
    memcpy(w, auxv, nauxv * sizeof auxv[0]);
    return sp;
}

void upper_stack_view(uint64_t sp, struct upper_stack_view *view)
{
    uint64_t *w = (uint64_t *)sp;
    view->argc = (long)w[0];
    view->argv = (char **)&w[1];
    char **e = view->argv + view->argc + 1;
    view->envp = e;
    while (*e != NULL)
        e++;
    view->auxv = (struct auxv_entry *)(e + 1);
}

uint64_t upper_stack_auxv(const struct upper_stack_view *view, uint64_t type, int *found)
{
    for (const struct auxv_entry *a = view->auxv; a->type != AT_NULL; a++) {
        if (a->type == type) {
            *found = 1;
            return a->value;
        }
    }
    *found = 0;
    return 0;
}
