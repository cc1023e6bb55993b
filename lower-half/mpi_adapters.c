#include "mpi_adapters.h"

#include "ckpt_thread.h"

#include <pthread.h>
#include <signal.h>

/* MPI runs MULTIPLE where it can, whatever level the application asked
 * for: MANA's own threads call it under the lower lock, and a blocking
 * call with no nonblocking form runs outside the lock, beside the
 * checkpoint thread's agreement (docs/checkpoint-protocol.md); at least
 * SERIALIZED, and then those calls keep the lock. Threads that
 * MPI_Init starts (UCX's progress thread) inherit a mask that blocks the
 * application's asynchronous signals, so those signals always land on an
 * upper thread; SIGSYS and the faults stay open. */
int lower_thread_level = MPI_THREAD_SINGLE;

void lower_block_async_signals(sigset_t *old)
{
    sigset_t block;
    sigfillset(&block);
    static const int keep_open[] = {SIGSYS, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT};
    for (size_t i = 0; i < sizeof keep_open / sizeof keep_open[0]; i++)
        sigdelset(&block, keep_open[i]);
    pthread_sigmask(SIG_BLOCK, &block, old);
}

int lower_mpi_init(int *argc, char ***argv, int *provided)
{
    sigset_t old;
    lower_block_async_signals(&old);
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, provided);
    lower_thread_level = *provided;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* The checkpoint thread starts inside the application's MPI_Init, so it
 * exists exactly when MPI does. */
int mana_lh_MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    (void)required; /* the upper half caps what the application is told */
    int rc = lower_mpi_init(argc, argv, provided);
    if (rc == MPI_SUCCESS)
        ckpt_after_mpi_init();
    return rc;
}
