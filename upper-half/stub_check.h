/* Catching the silent failure of the split process: a real MPI library
 * loaded into the upper half (the application would run unsplit). */
#ifndef MANA_STUB_CHECK_H
#define MANA_STUB_CHECK_H

/* Exits with a message naming the library and the fix if the upper
 * half's link map holds an MPI or UCX library other than MANA's stubs. */
void mana_stub_check(void);

/* Whether PATH names a library of a real MPI or network stack. */
int mana_is_real_mpi_library(const char *path, const char *stub_dir);

#endif
