/* Test-only fault injection (include/mana/test_faults.h): reads
 * MANA_TEST_FAULT and acts at the named points. Linked only into the
 * test tree (build/faults/), never into what `make install` installs.
 * Used by the lower half and the coordinator, so plain libc only. */
#define _GNU_SOURCE
#include "mana/test_faults.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MANA_TEST_FAULTS
#error "test_faults.c belongs to the test tree only: build it with -DMANA_TEST_FAULTS"
#endif

enum action { ACT_KILL, ACT_STOP, ACT_ENOSPC, ACT_EIO, ACT_EROFS };

static const struct {
    const char *name;
    enum action act;
} actions[] = {
    {"kill", ACT_KILL}, {"stop", ACT_STOP}, {"enospc", ACT_ENOSPC}, {"eio", ACT_EIO}, {"erofs", ACT_EROFS},
};

/* "@N" or "#N" at *P (after the action), or nothing: *OUT stays -1. A
 * number must follow the mark. 0, or -1 when malformed. */
static int selector(char **p, char mark, long *out)
{
    *out = -1;
    if (**p != mark)
        return 0;
    char *end;
    errno = 0;
    *out = strtol(*p + 1, &end, 10);
    if (end == *p + 1 || errno != 0 || *out < 0)
        return -1;
    *p = end;
    return 0;
}

/* Finds the item of MANA_TEST_FAULT for PHASE, RANK and GEN; its action
 * in *ACT. 1 if there is one, 0 if not. A malformed variable ends the
 * process: a test that misspelt its fault would otherwise pass without
 * injecting anything. */
static int lookup(const char *phase, int rank, unsigned long long gen, enum action *act)
{
    const char *spec = getenv("MANA_TEST_FAULT");
    if (spec == NULL || *spec == '\0')
        return 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        int known = 0, bad = colon == NULL || colon == item;
        enum action a = ACT_KILL;
        long want_rank = -1, want_gen = -1;
        if (!bad) {
            char *p = colon + 1;
            size_t n = strcspn(p, "@#");
            for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
                if (strlen(actions[i].name) == n && strncmp(p, actions[i].name, n) == 0) {
                    known = 1;
                    a = actions[i].act;
                }
            p += n;
            bad = !known || selector(&p, '@', &want_rank) != 0 || selector(&p, '#', &want_gen) != 0 || *p != '\0';
        }
        if (bad) {
            fprintf(stderr, "mana-test-fault: MANA_TEST_FAULT=%s: bad item '%s': write PHASE:ACTION[@RANK][#GEN] with "
                    "ACTION kill, stop, enospc, eio or erofs\n", spec, item);
            fflush(stderr);
            _exit(2);
        }
        *colon = '\0';
        if (strcmp(item, phase) == 0 && (want_rank < 0 || want_rank == rank) &&
            (want_gen < 0 || (unsigned long long)want_gen == gen)) {
            *act = a;
            return 1;
        }
    }
    return 0;
}

void test_fault_point(const char *phase, int rank, unsigned long long gen)
{
    enum action a;
    if (!lookup(phase, rank, gen, &a) || (a != ACT_KILL && a != ACT_STOP))
        return;
    /* The line first: the test waits for it to know the process is there. */
    fprintf(stderr, "mana-test-fault: %s: %s pid %d rank %d generation %llu\n", phase,
            a == ACT_KILL ? "killing" : "stopped", (int)getpid(), rank, gen);
    fflush(stderr);
    /* To this thread: a process-directed SIGSTOP may be taken by another
     * thread, and this one would go on (and send DONE) until that thread
     * runs and stops the group. Sent to this thread, it stops before it
     * returns from the call. */
    syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), a == ACT_KILL ? SIGKILL : SIGSTOP);
}

int test_fault_errno(const char *phase, int rank, unsigned long long gen)
{
    enum action a;
    if (!lookup(phase, rank, gen, &a))
        return 0;
    switch (a) {
    case ACT_ENOSPC: return ENOSPC;
    case ACT_EIO: return EIO;
    case ACT_EROFS: return EROFS;
    default: return 0;
    }
}
