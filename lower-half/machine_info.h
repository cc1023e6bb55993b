/* The machine a rank runs on, as a machine record (restart/
 * machine_record.h): written into every image, and compared at restart
 * with the one the image holds. */
#ifndef MANA_MACHINE_INFO_H
#define MANA_MACHINE_INFO_H

#include <stddef.h>

/* The record of this process's machine: gathered once (hwloc, the MPI
 * library's version string, the environment), the same text afterwards.
 * Call only once MPI is initialised (MPI_Get_library_version is callable
 * before, but the MPI device is known only from an initialised library's
 * point of view in some MPIs), from one thread at a time. Never NULL: what
 * cannot be found says so ("unknown"). */
const char *machine_info_current(size_t *len);

/* At restart, on every rank, after MPI_Init: compares SAVED (the image's
 * record, LEN bytes; NULL when the image has none, VERSION its format
 * version) with this machine and prints one line per difference on
 * stderr. Collective over MPI_COMM_WORLD. Never fails: a difference is
 * news, not an error. */
void machine_info_report_restart(const void *saved, size_t len, unsigned version, int rank);

#endif
