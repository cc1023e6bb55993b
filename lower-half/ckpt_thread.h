/* The checkpoint thread of a rank: a lower-half thread (with its own
 * lower C library descriptor) that talks to the job's coordinator and,
 * when told to, stops the application and writes this rank's image.
 * docs/checkpoint-protocol.md has the sequence. */
#ifndef MANA_CKPT_THREAD_H
#define MANA_CKPT_THREAD_H

#include <stddef.h>

#include "mana/call_table.h"

/* The environment mana-launch (or mana-restart) hands the lower half. */
#define MANA_ENV_CKPT_DIR "MANA_CKPT_DIR"
#define MANA_ENV_COORD "MANA_COORD"
#define MANA_ENV_COORD_TOKEN "MANA_COORD_TOKEN"
/* MANA_COORD=none: no coordinator could be started (already said why). */
#define MANA_COORD_NONE "none"
#define MANA_ENV_CKPT_SIGNAL "MANA_CKPT_SIGNAL"


/* Before the upper half starts: remembers the table, installs the stop
 * handler and the checkpoint-signal handler. 0 or -1 with ERR. */
int ckpt_prepare(struct mana_call_table *table, char *err, size_t errlen);

/* After the real MPI_Init, on the application's thread: agrees on the
 * coordinator's address over MPI (rank 0 knows it) and starts the
 * checkpoint thread. A job that cannot checkpoint says why on stderr
 * and runs on. */
void ckpt_after_mpi_init(void);

/* The checkpoint signal (SIGUSR1 unless --signal changed it). */
int ckpt_trigger_signal(void);

#endif
