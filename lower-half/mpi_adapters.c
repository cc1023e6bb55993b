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

/* MPICH's hooks for its binding libraries, declared in its internal
 * mpir_attr_generic.h (not installed); exported by libmpich.so.12 with
 * these prototypes, MPIR_Attr_type being an enum passed as an int. */
int MPII_Comm_set_attr(MPI_Comm comm, int keyval, void *value, int attr_type);
int MPII_Type_set_attr(MPI_Datatype type, int keyval, void *value, int attr_type);
int MPII_Win_set_attr(MPI_Win win, int keyval, void *value, int attr_type);
int MPII_Comm_get_attr(MPI_Comm comm, int keyval, void *value, int *flag, int attr_type);
int MPII_Type_get_attr(MPI_Datatype type, int keyval, void *value, int *flag, int attr_type);
int MPII_Win_get_attr(MPI_Win win, int keyval, void *value, int *flag, int attr_type);
void MPII_Keyval_set_proxy(int keyval, void *copy_proxy, void *delete_proxy);

void mana_lower_fill_lang_hooks(struct mana_lang_hooks *h)
{
    /* MPI handles are ints in MPICH's ABI, as the table's types say. */
    h->comm_set_attr = MPII_Comm_set_attr;
    h->type_set_attr = MPII_Type_set_attr;
    h->win_set_attr = MPII_Win_set_attr;
    h->comm_get_attr = MPII_Comm_get_attr;
    h->type_get_attr = MPII_Type_get_attr;
    h->win_get_attr = MPII_Win_get_attr;
    h->keyval_set_proxy = MPII_Keyval_set_proxy;
    h->unweighted = MPI_UNWEIGHTED;
    h->weights_empty = MPI_WEIGHTS_EMPTY;
}
