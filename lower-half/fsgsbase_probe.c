#define _GNU_SOURCE
#include "fsgsbase_probe.h"

#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

static sigjmp_buf probe_jump;

static void on_sigill(int sig)
{
    (void)sig;
    siglongjmp(probe_jump, 1);
}

static int rdfsbase_works(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigill;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGILL, &sa, &old) != 0)
        return 0;
    volatile int works = 0;
    if (sigsetjmp(probe_jump, 1) == 0) {
        const struct mana_fs_method insn = {.read_insn = 1, .write_insn = 0};
        const struct mana_fs_method call = {.read_insn = 0, .write_insn = 0};
        works = mana_rdfsbase(&insn) == mana_rdfsbase(&call);
    }
    sigaction(SIGILL, &old, NULL);
    return works;
}

void fsgsbase_probe(struct mana_fs_method *m)
{
    const char *force = getenv("MANA_FS_SWITCH");
    if (force != NULL && strcmp(force, "syscall") == 0) {
        m->read_insn = m->write_insn = 0;
        return;
    }
    m->write_insn = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
    m->read_insn = m->write_insn || rdfsbase_works();
}
