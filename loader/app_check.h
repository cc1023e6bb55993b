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

/* The MPI ABI the application was built for, and so the upper face
 * MANA gives it: MPICH's (libmana.so and the stubs of lib/mana/stub), or
 * Open MPI's (libmana-ompi.so and lib/mana/ompi/libmpi.so.40,
 * docs/mpi-wrappers.md "The Open MPI face"). */
enum app_face { APP_FACE_MPICH, APP_FACE_OMPI };
#define APP_FACE_OMPI_LIBRARY "libmpi.so.40"
static inline enum app_face app_face_of(const struct elf_image *img)
{
    return elf_image_needs(img, APP_FACE_OMPI_LIBRARY) ? APP_FACE_OMPI : APP_FACE_MPICH;
}
static inline const char *app_face_name(enum app_face f)
{
    return f == APP_FACE_OMPI ? "Open MPI (libmpi.so.40)" : "MPICH (libmpich.so.12)";
}

/* Finds NAME as execvp would (a name with a slash is a path, else $PATH
 * is searched), writes the path to RESOLVED, reads it into IMG and checks
 * it is a dynamically linked x86-64 program built for an MPI ABI MANA has
 * a face for (app_face_of). On failure the message in ERR names the file,
 * the cause and a fix. */
enum app_check_status app_check(const char *name, char *resolved, size_t resolved_len, struct elf_image *img,
                                char *err, size_t errlen);

#endif
