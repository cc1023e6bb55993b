/* What mana-launch and mana-restart share: the checkpoint options, and
 * starting the job's coordinator on rank 0 when none is given. Both set
 * the environment the lower half's checkpoint thread reads
 * (ckpt_thread.h). */
#ifndef MANA_CKPT_LAUNCH_H
#define MANA_CKPT_LAUNCH_H

#include <stddef.h>

struct ckpt_launch_opts {
    const char *ckpt_dir; /* NULL: $MANA_CKPT_DIR, else ./mana-checkpoints */
    const char *coord;    /* HOST:PORT of a running coordinator, or NULL */
    const char *interval; /* seconds, as given */
    const char *keep;
    const char *signal;   /* number or name (USR1, SIGUSR2, ...) */
};

/* Checks the options and exports them for the lower half; on rank 0 of
 * a job with no coordinator given, starts one (mana-coordinator from
 * BINDIR). Returns 0, or an exit status (2 usage, 1 runtime) after
 * printing why, prefixed with PROG. */
int ckpt_launch_setup(const char *prog, const struct ckpt_launch_opts *o, const char *bindir);

/* The checkpoint directory the options name (--ckpt-dir, else
 * $MANA_CKPT_DIR, else ./mana-checkpoints), made absolute, into OUT:
 * 0, or -1 after printing why. */
int ckpt_launch_dir(const char *prog, const struct ckpt_launch_opts *o, char *out, size_t len);

/* The directory of the running executable (for sibling programs). */
void ckpt_launch_self_dir(char *out, size_t len);

#endif
