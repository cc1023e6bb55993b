/* Which %fs instructions this CPU and kernel allow (see mana/fsbase.h). */
#ifndef MANA_FSGSBASE_PROBE_H
#define MANA_FSGSBASE_PROBE_H

#include "mana/fsbase.h"

/* wrfsbase only when AT_HWCAP2 reports FSGSBASE; rdfsbase also when the
 * instruction runs and agrees with arch_prctl (checked under a SIGILL
 * handler). MANA_FS_SWITCH=syscall forces arch_prctl for both. */
void fsgsbase_probe(struct mana_fs_method *m);

#endif
