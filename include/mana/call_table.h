/* The contract between the two halves: one table in upper-visible memory,
 * filled by the lower half before the upper half starts, through which
 * libmana reaches MPI and the lower half's services. Both halves are
 * built from this header; the magic, version and size catch a libmana
 * and a lower half from different builds. */
#ifndef MANA_CALL_TABLE_H
#define MANA_CALL_TABLE_H

#include <stdint.h>

#include "mana/fsbase.h"
#include "mana_mpi_table.h" /* generated from mpi-wrappers/mpi_api.txt */

#define MANA_CALL_TABLE_MAGIC 0x3142544341434e4dULL /* "MNCACTB1" */
#define MANA_CALL_TABLE_VERSION 2

/* How libmana learns the table's address: the lower half puts it in the
 * upper half's environment, and libmana removes it at start-up so child
 * processes never inherit it. */
#define MANA_CALL_TABLE_ENV "MANA_CALL_TABLE"

typedef void (*mana_upper_sighandler_fn)(int, void *, void *);

struct mana_call_table {
    uint64_t magic;
    uint32_t version;
    uint32_t size;
    uint64_t lower_fs;   /* %fs base of the lower half's main thread */
    struct mana_fs_method fs_method; /* how %fs is switched here */
    char stub_dir[4096]; /* where the stub libmpich.so.12 lives */

    /* Lower-half services, called with the lower %fs like MPI. */
    void (*lower_exit)(int status) __attribute__((noreturn));
    /* libmana hands the application's SIGSYS handler here, because the
     * lower half's region labeller owns SIGSYS and chains to it. */
    void (*set_upper_sigsys)(mana_upper_sighandler_fn handler);
    /* The vDSO's clock_gettime (NULL without a vDSO): vDSO code uses no
     * TLS, so the upper half calls it without switching %fs. */
    int (*vdso_clock_gettime)(int clock, void *timespec);

    /* Filled by libmana at start-up, for the lower half's checkpoint
     * thread: the lower lock it takes to keep the application out of MPI
     * while it stops it, and the holder's %fs word the lock goes with. */
    _Atomic int *upper_lock_word;
    volatile uint64_t *upper_holder_fs;
    /* Run by the restore engine on the restarted main thread, with the
     * upper %fs, after memory is back and before the application goes on:
     * libmana re-registers what the new lower half does not know (its
     * SIGSYS handler) and rebuilds MPI objects. 0, or -1 with ERR. It must
     * not use the upper malloc: the application may have been stopped
     * inside it. */
    int (*upper_after_restart)(char *err, unsigned long errlen);

    /* The signals the lower half keeps for checkpoints (the checkpoint
     * request, the stop signal): libmana does not let the application
     * take them. */
    int ckpt_signals[2];

    struct mana_mpi_table mpi;
};

#endif
