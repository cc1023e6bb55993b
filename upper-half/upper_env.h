/* The upper half's environment as the application and its children see it. */
#ifndef MANA_UPPER_ENV_H
#define MANA_UPPER_ENV_H

/* Removes the call table's address, libmana from LD_PRELOAD and the stub
 * directory from LD_LIBRARY_PATH, so a program the application starts
 * (system(), a shell) runs natively instead of finding a table that is
 * not there. */
void mana_upper_env_hide(const char *stub_dir);

#endif
