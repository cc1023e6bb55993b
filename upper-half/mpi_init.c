/* MPI functions whose upper side is not a plain crossing: start-up and
 * the thread level (the lower half always runs MPI at least SERIALIZED so
 * MANA's own threads may call it; the application sees the level it asked
 * for, capped at what the lock makes safe), and memory that must live in
 * the upper half to be saved. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_sync.h"
#include "crossing.h"
#include "mpi_replay.h"
#include "mpi_wrap.h"
#include "stub_check.h"

static int app_thread_level = MPI_THREAD_SINGLE;
static pthread_t init_thread;

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    if (mana_lower != NULL)
        mana_stub_check();
    if (mana_mpi_state_init() != 0)
        return MPI_ERR_NO_MEM;
    init_thread = pthread_self();
    int lower_provided = MPI_THREAD_SINGLE;
    struct mana_crossing c;
    mana_cross_enter(&c, "MPI_Init_thread");
    int rc = mana_lower->mpi.MPI_Init_thread(argc, argv, required, &lower_provided);
    mana_cross_leave(&c);
    if (rc == MPI_SUCCESS && mana_ckpt_sync_init() != 0)
        return MPI_ERR_NO_MEM;
    int cap = required < MPI_THREAD_SERIALIZED ? required : MPI_THREAD_SERIALIZED;
    app_thread_level = lower_provided < cap ? lower_provided : cap;
    if (provided != NULL)
        *provided = app_thread_level;
    return rc;
}
MANA_PMPI_ALIAS(MPI_Init_thread)

int MPI_Init(int *argc, char ***argv)
{
    int provided;
    return MPI_Init_thread(argc, argv, MPI_THREAD_SINGLE, &provided);
}
MANA_PMPI_ALIAS(MPI_Init)

int MPI_Query_thread(int *provided)
{
    *provided = app_thread_level;
    return MPI_SUCCESS;
}
MANA_PMPI_ALIAS(MPI_Query_thread)

/* The lower half sees every upper thread as its own main thread, so the
 * answer must come from the upper side. */
int MPI_Is_thread_main(int *flag)
{
    *flag = pthread_equal(pthread_self(), init_thread);
    return MPI_SUCCESS;
}
MANA_PMPI_ALIAS(MPI_Is_thread_main)

/* Memory from the lower half's allocator would not be saved in a
 * checkpoint, so MPI_Alloc_mem is served from the upper heap. */
int MPI_Alloc_mem(MPI_Aint size, MPI_Info info, void *baseptr)
{
    (void)info;
    void *p = malloc(size > 0 ? (size_t)size : 1);
    if (p == NULL)
        return MPI_ERR_NO_MEM;
    *(void **)baseptr = p;
    return MPI_SUCCESS;
}
MANA_PMPI_ALIAS(MPI_Alloc_mem)

int MPI_Free_mem(void *base)
{
    free(base);
    return MPI_SUCCESS;
}
MANA_PMPI_ALIAS(MPI_Free_mem)

/* MPICH's MPI_Pcontrol does nothing; a variadic call cannot be forwarded.
 *
 * A test hook, off unless MANA_DEBUG contains "replay": MPI_Pcontrol(99)
 * replays the record log on the live lower half, as a restart does on a
 * fresh one. Every object the application holds is made a second time
 * and its id moved to the new one, so whatever the program does with
 * its objects afterwards shows whether the replay rebuilt them right
 * (tests/integration/replay_objects.sh). */
#define MANA_PCONTROL_REPLAY 99

int MPI_Pcontrol(const int level, ...)
{
    const char *debug = getenv("MANA_DEBUG");
    if (level == MANA_PCONTROL_REPLAY && debug && strstr(debug, "replay")) {
        char err[512];
        size_t n = rl_count(mana_record_log());
        if (mana_mpi_replay(err, sizeof err) != 0) {
            fprintf(stderr, "MANA: MANA_DEBUG=replay: %s\n", err);
            return MPI_ERR_OTHER;
        }
        fprintf(stderr, "MANA: MANA_DEBUG=replay: replayed %zu records\n", n);
    }
    return MPI_SUCCESS;
}
MANA_PMPI_ALIAS(MPI_Pcontrol)
