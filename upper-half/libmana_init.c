/* libmana's start and end: find the call table the lower half left in the
 * environment, hide MANA's own variables from the application's children,
 * and at exit hand the process back to the lower half so MPI's and UCX's
 * destructors run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crossing.h"
#include "upper_env.h"
#include "upper_threads.h"

struct mana_call_table *mana_lower;
struct mana_fs_method mana_fs;
volatile uint64_t mana_holder_upper_fs;
_Atomic int mana_lower_lock_word;

void mana_no_lower_half(const char *function)
{
    fprintf(stderr,
            "MANA: %s called, but this program was not started by mana-launch (libmana.so has no lower half): "
            "run it as 'mpirun.mpich -np N mana-launch ./program'\n",
            function);
    fflush(stderr);
    _exit(1);
}

/* Registered from libmana's constructor, which runs before the program's
 * __libc_start_main registers the upper ld.so's finaliser, so this runs
 * after every upper destructor and atexit handler: the upper half is
 * done. Hand the process to the lower half's exit, so MPI's and UCX's
 * destructors run, with the program's exit status. No lock: a thread
 * still blocked inside MPI must not keep the process from exiting, as it
 * would not natively. */
static void exit_through_lower_half(int status, void *unused)
{
    (void)unused;
    fflush(NULL);
    mana_wrfsbase(&mana_fs, mana_lower->lower_fs);
    mana_lower->lower_exit(status);
}

static struct mana_call_table *table_from_environment(void)
{
    const char *text = getenv(MANA_CALL_TABLE_ENV);
    if (text == NULL)
        return NULL;
    char *end;
    errno = 0;
    unsigned long long addr = strtoull(text, &end, 16);
    if (errno != 0 || *end != '\0' || addr == 0) {
        fprintf(stderr, "MANA: %s='%s' is not an address: the lower half and libmana disagree; reinstall MANA\n",
                MANA_CALL_TABLE_ENV, text);
        _exit(1);
    }
    struct mana_call_table *t = (struct mana_call_table *)(uintptr_t)addr;
    if (t->magic != MANA_CALL_TABLE_MAGIC || t->version != MANA_CALL_TABLE_VERSION ||
        t->size != sizeof(struct mana_call_table)) {
        fprintf(stderr,
                "MANA: the lower half's call table (version %u, %u bytes) does not match libmana.so (version %u, "
                "%zu bytes): libmana.so and mana-lh-mpich come from different builds; reinstall MANA\n",
                t->version, t->size, MANA_CALL_TABLE_VERSION, sizeof(struct mana_call_table));
        _exit(1);
    }
    return t;
}

/* glibc's cached program break, which sbrk trusts (exported, not
 * declared by its headers). */
extern void *__curbrk;

__attribute__((constructor(101))) static void libmana_start(void)
{
    struct mana_call_table *t = table_from_environment();
    if (t == NULL)
        return; /* a child process that inherited LD_PRELOAD: stay inert */
    mana_fs = t->fs_method;
    mana_lower = t;
    t->upper_lock_word = &mana_lower_lock_word;
    t->upper_holder_fs = &mana_holder_upper_fs;
    t->upper_curbrk = &__curbrk;
    mana_upper_env_hide(t->stub_dir);
    mana_threads_register_first();
    on_exit(exit_through_lower_half, NULL);
}
