/* The upper half's environment, made from the lower half's. */
#ifndef MANA_UPPER_ENV_BUILD_H
#define MANA_UPPER_ENV_BUILD_H

#include <stddef.h>
#include <stdint.h>

struct upper_env_inputs {
    char *const *lower_env;    /* NULL-terminated */
    const char *libmana_path;  /* preloaded first */
    const char *stub_dir;      /* searched first for libmpich.so.12 */
    uint64_t call_table;       /* address handed to libmana */
};

/* Returns a malloc'd NULL-terminated array (strings malloc'd too): the
 * lower environment with LD_PRELOAD and LD_LIBRARY_PATH led by MANA's
 * entries, the user's preload restored from MANA_USER_LD_PRELOAD,
 * GLIBC_TUNABLES with glibc.pthread.rseq=0 added to what the user set,
 * and the call table's address. NULL on allocation failure. */
char **upper_env_build(const struct upper_env_inputs *in);

#endif
