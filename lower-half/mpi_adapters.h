/* Lower-half MPI adapters: what the generated table calls instead of the
 * real MPI function for the `both` lines of mpi-wrappers/mpi_api.txt. */
#ifndef MANA_MPI_ADAPTERS_H
#define MANA_MPI_ADAPTERS_H

#include <mpi.h>
#include <signal.h>
#include <stdint.h>

#include "image.h"
#include "mana/call_table.h"

int mana_lh_MPI_Init_thread(int *argc, char ***argv, int required, int *provided);
/* The real MPI_Init at MANA's thread level, with asynchronous signals
 * blocked for the threads it starts; no checkpoint thread (a restart
 * starts that later). */
int lower_mpi_init(int *argc, char ***argv, int *provided);
/* Blocks every asynchronous signal on the calling thread (SIGSYS and
 * the faults stay open); OLD gets the mask it had. */
void lower_block_async_signals(sigset_t *old);
/* What lower_mpi_init got. */
extern int lower_thread_level;

/* Per MPI flavour (mpich_calls.c, ompi_abi_calls.c): which one this
 * lower half runs; the table's language hooks; COMM (this MPI's handle)
 * as the table passes it, in MPICH's ABI. */
extern const enum mana_mpi_flavour lower_flavour;
/* The application's face (lower_main.c at launch; the image's at a
 * restart), which every image of this process records. */
extern enum mana_app_face lower_face;
void mana_lower_fill_lang_hooks(struct mana_lang_hooks *h);
uint64_t lower_table_comm(MPI_Comm comm);

/* Generated (lower_mpi_table_fill.c), or Open MPI's (ompi_abi_calls.c). */
void mana_lower_fill_mpi_table(struct mana_mpi_table *t);

#endif
