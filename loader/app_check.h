/* Launch-time checks on the application, so that every program MANA
 * cannot run is refused before MPI starts, with the cause and the fix. */
#ifndef MANA_APP_CHECK_H
#define MANA_APP_CHECK_H

#include <stddef.h>

#include "elf_image.h"

/* Exit statuses follow the shell's convention for a command that cannot
 * be run. */
enum app_check_status {
    APP_CHECK_OK = 0,
    APP_CHECK_UNUSABLE = 126,  /* exists but is not a program we can run */
    APP_CHECK_NOT_FOUND = 127, /* no such file, or not on $PATH */
};

/* Finds NAME as execvp would (a name with a slash is a path, else $PATH
 * is searched), writes the path to RESOLVED, reads it into IMG and checks
 * it is a dynamically linked x86-64 program that does not need Open MPI's
 * ABI. On failure the message in ERR names the file, the cause and a fix. */
enum app_check_status app_check(const char *name, char *resolved, size_t resolved_len, struct elf_image *img,
                                char *err, size_t errlen);

#endif
