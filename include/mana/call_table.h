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
#define MANA_CALL_TABLE_VERSION 8

/* How libmana learns the table's address: the lower half puts it in the
 * upper half's environment, and libmana removes it at start-up so child
 * processes never inherit it. */
#define MANA_CALL_TABLE_ENV "MANA_CALL_TABLE"

typedef void (*mana_upper_sighandler_fn)(int, void *, void *);

/* One communicator as the checkpoint's agreement sees it (libmana keeps
 * an array of them; ckpt_sync.c). GID names the same communicator on
 * every member; COUNT is the collectives this rank entered on it. */
struct mana_comm_count {
    int32_t vcomm;   /* its virtual id in this rank */
    uint32_t nmembers;
    uint64_t gid;
    uint64_t count;
    uint64_t target; /* the agreed count to reach before stopping */
    const int32_t *members; /* world ranks of every member (both groups of an intercommunicator) */
    /* For the agreement round (ckpt_agree.c): bit K of OPEN_MASK, the
     * collective COUNT - K is a nonblocking one of the application that
     * it has not seen complete and that can be posted again after a
     * restart; GAP, the members may stay apart on this communicator: some
     * have not entered the collectives after GAP_FLOOR, which every
     * member that has can post again. */
    uint64_t open_mask;
    uint64_t gap_floor;
    uint8_t gap;
};

/* The handshake between the checkpoint thread (lower half) and the MPI
 * wrappers (upper half) while a checkpoint is being agreed
 * (docs/checkpoint-protocol.md). It lives in the call table, in upper
 * memory, so it is saved with the application. */
struct mana_ckpt_sync {
    _Atomic uint32_t pending;       /* a checkpoint is being agreed: collectives wait at their gate */
    _Atomic uint32_t epoch;         /* bumped at every agreement round: gates and paused loops look again */
    _Atomic uint32_t targets_valid; /* every comm's target is agreed for this checkpoint */
    _Atomic uint32_t in_collective; /* 1: inside a collective that has not completed; for one with no
                                     * nonblocking form, past its barrier: 2, waiting to make the call
                                     * (under the lock); 3, making it outside the lock; 4: inside a
                                     * collective it can post again after a restart (inside_gid's);
                                     * 5: in MANA's barrier before MPI_Comm_create_group or
                                     * MPI_Intercomm_create, not released: a restart starts it again */
    _Atomic uint32_t blocking_go;   /* this rank was at 2 when every rank was out of collectives or at 2:
                                     * make that call (a grant for that one call only) */
    _Atomic uint64_t restarts;      /* bumped by every restart: test loops post their requests again */
    _Atomic uint32_t replay_due;    /* a restart happened: rebuild MPI objects at the next MPI call */
    _Atomic uint32_t finalizing;    /* the application is in MPI_Finalize: no more checkpoints */
    uint32_t last_gate;             /* the comms[] entry of the last collective's gate */
    uint64_t inside_gid;            /* in_collective 4: the gid of its communicator */
    uint32_t ncomms;                /* comms[0, ncomms) */
    struct mana_comm_count *comms;
    int32_t world_size;
    int32_t world_rank;
    /* The application thread's upper %fs (the thread that called
     * MPI_Init). While the checkpoint thread holds the lower lock, MPI may
     * run a user callback (a reduction op of a pending collective) on it;
     * the callback then runs on this thread pointer, and a nested MPI call
     * from it is recognised as nested. */
    uint64_t app_fs;
    /* Set while the checkpoint thread holds the lower lock, with its
     * stack: a nested MPI call from a callback on that thread runs on
     * that stack; the application's thread, with the same %fs, is not
     * nested and must wait for the lock. */
    _Atomic uint32_t held_by_ckpt;
    uint64_t ckpt_stack_lo, ckpt_stack_hi;
    uint64_t *sent;     /* point-to-point messages sent to each world rank */
    uint64_t *received; /* and received from each */
    /* Live one-sided windows: a checkpoint is refused while one exists. */
    int (*windows_open)(void);
    /* Draining (upper-half/ckpt_drain.h), called by the checkpoint thread
     * with the lower %fs and the lower lock: DRAIN_BEGIN takes the
     * application's pending receives back; each DRAIN_PASS completes what
     * it can and receives the messages waiting, and returns how much is
     * still pending on this rank (EXPECTED[r]: the messages world rank r
     * sent to this one; *A_FUNCTION: the call of a request still
     * pending); DRAIN_RESUME posts the receives again when the job goes
     * on (after the checkpoint, or after a drain that gave up). */
    void (*drain_begin)(void);
    uint64_t (*drain_pass)(const uint64_t *expected, int *no_memory, const char **a_function);
    void (*drain_resume)(void);
    /* Sets comms[i].open_mask, before each agreement round (same rules). */
    void (*mark_open_collectives)(void);
    /* What the last drain did on this rank (MANA_DEBUG=drain prints it). */
    uint64_t drained_messages, drained_bytes, requests_completed, receives_taken_back, collectives_left;
    /* The lower half's own duplicate of MPI_COMM_WORLD (a real handle,
     * remade at every restart): MANA's point-to-point messages (barriers
     * over a group) travel on it, apart from the application's. */
    uint64_t private_comm;
    /* MPI takes calls from several threads at once (MPI_THREAD_MULTIPLE):
     * a blocking call with no nonblocking form runs outside the lower
     * lock (in_collective 3), and the agreement goes on beside it. */
    uint32_t concurrent_calls;
};

/* The application's threads, which a checkpoint stops and saves: the
 * process's first thread and every thread the application (or a library
 * of the upper half, such as libgomp) starts with pthread_create, which
 * libmana interposes (thread_wrappers.c). A thread id stays until the
 * thread is gone: the checkpoint thread frees the slots of threads that
 * no longer exist. CREATE_LOCK (a lock word) covers the slots and one
 * whole thread creation, from pthread_create until the new thread has
 * registered, so that the checkpoint thread, which holds it while it
 * stops and saves the threads, never sees a thread half created. */
#define MANA_MAX_UPPER_THREADS 512
struct mana_upper_threads {
    _Atomic int create_lock;
    int32_t pid; /* the process the ids are of: a forked child has none of these threads */
    _Atomic uint32_t unregistered; /* threads started while every slot was taken */
    int32_t tid[MANA_MAX_UPPER_THREADS]; /* 0: free */
};

/* What MPICH's language binding libraries (libmpichfort.so.12,
 * libmpichcxx.so.12), which run in the upper half over the stub, ask of
 * libmpich besides the MPI API: attributes with a language type and the
 * keyval language proxies (mpi_lang.c), and the addresses of the lower
 * MPI's weight sentinels, which libmana's own sentinels stand for.
 * ATTR_TYPE is MPICH's MPIR_Attr_type (0 pointer, 1 MPI_Aint, 3 int). */
struct mana_lang_hooks {
    int (*comm_set_attr)(int comm, int keyval, void *value, int attr_type);
    int (*type_set_attr)(int type, int keyval, void *value, int attr_type);
    int (*win_set_attr)(int win, int keyval, void *value, int attr_type);
    int (*comm_get_attr)(int comm, int keyval, void *value, int *flag, int attr_type);
    int (*type_get_attr)(int type, int keyval, void *value, int *flag, int attr_type);
    int (*win_get_attr)(int win, int keyval, void *value, int *flag, int attr_type);
    void (*keyval_set_proxy)(int keyval, void *copy_proxy, void *delete_proxy);
    const int *unweighted;    /* the lower MPI's MPI_UNWEIGHTED */
    const int *weights_empty; /* and MPI_WEIGHTS_EMPTY */
};

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

    /* A testing aid (MANA_TEST_CKPT_AT_COLL): asks the coordinator for a
     * checkpoint of the job, as the checkpoint signal does. Called with
     * the lower %fs. */
    void (*request_checkpoint)(int exit_after);

    /* Filled by libmana at start-up, for the lower half's checkpoint
     * thread: the lower lock it takes to keep the application out of MPI
     * while it stops it, and the holder's %fs word the lock goes with. */
    _Atomic int *upper_lock_word;
    volatile uint64_t *upper_holder_fs;
    /* The upper glibc's cached program break (its __curbrk): a restart
     * sets it to the new process's break, where the guard page is
     * (brk_guard.h). Left at the old process's, the upper sbrk asks the
     * kernel for a break that lies below the new one, gets the new one
     * back and, taking a higher break for success, hands out memory at
     * the old address, which nothing maps. */
    void **upper_curbrk;

    /* The signals the lower half keeps for checkpoints (the checkpoint
     * request, the stop signal): libmana does not let the application
     * take them. */
    int ckpt_signals[2];

    struct mana_ckpt_sync sync;

    struct mana_upper_threads threads;

    struct mana_lang_hooks lang;

    struct mana_mpi_table mpi;
};

#endif
