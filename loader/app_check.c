/* What an application must be for the split process to load it. */
#include "app_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_regular_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static enum app_check_status resolve(const char *name, char *out, size_t outlen, char *err, size_t errlen)
{
    if (strchr(name, '/') != NULL) {
        snprintf(out, outlen, "%s", name);
        struct stat st;
        if (stat(name, &st) != 0) {
            snprintf(err, errlen, "application '%s' not found (%s): check the path", name, strerror(errno));
            return APP_CHECK_NOT_FOUND;
        }
        if (!S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "application '%s' is not a regular file", name);
            return APP_CHECK_UNUSABLE;
        }
        if (access(name, X_OK) != 0) {
            snprintf(err, errlen, "application '%s' is not executable: chmod +x it", name);
            return APP_CHECK_UNUSABLE;
        }
        return APP_CHECK_OK;
    }
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    /* Every entry, including empty ones (the current directory) and a
     * trailing empty one after the last ':'. */
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len == 0)
            snprintf(out, outlen, "%s", name);
        else
            snprintf(out, outlen, "%.*s/%s", (int)len, p, name);
        if (is_regular_executable(out))
            return APP_CHECK_OK;
        if (colon == NULL)
            break;
        p = colon + 1;
    }
    snprintf(err, errlen, "application '%s' not found in $PATH: give its path (for example ./%s)", name, name);
    return APP_CHECK_NOT_FOUND;
}

enum app_check_status app_check(const char *name, char *resolved, size_t resolved_len, struct elf_image *img,
                                char *err, size_t errlen)
{
    enum app_check_status st = resolve(name, resolved, resolved_len, err, errlen);
    if (st != APP_CHECK_OK)
        return st;
    char why[4200];
    if (elf_image_read(resolved, img, why, sizeof why) != 0) {
        snprintf(err, errlen, "cannot run application: %s", why);
        return APP_CHECK_UNUSABLE;
    }
    if (img->interp[0] == '\0') {
        snprintf(err, errlen,
                 "application '%s' is statically linked: MANA loads the MPI library beside the program, so the "
                 "program must be dynamically linked (rebuild it with mpicc.mpich, without -static)",
                 resolved);
        return APP_CHECK_UNUSABLE;
    }
    /* The MPI libraries MANA has a face for (MPICH's Fortran and C++
     * bindings run over its stub libmpich, docs/design-decisions.md);
     * any other libmpi or libmpich is another MPI's ABI, and Open MPI's
     * Fortran and C++ binding libraries call into Open MPI's internals. */
    static const char *const known[] = {"libmpich.so.12", "libmpi.so.12", "libmpichfort.so.12", "libmpichcxx.so.12",
                                        APP_FACE_OMPI_LIBRARY};
    for (size_t i = 0; i < img->nneeded; i++) {
        const char *lib = img->needed[i];
        int known_lib = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            known_lib |= strcmp(lib, known[k]) == 0;
        if (known_lib)
            continue;
        if (strncmp(lib, "libmpi_mpifh.so", 15) == 0 || strncmp(lib, "libmpi_usempi", 13) == 0 ||
            strncmp(lib, "libmpi_cxx.so", 13) == 0) {
            snprintf(err, errlen,
                     "application '%s' uses Open MPI's Fortran or C++ bindings (it needs %s): MANA runs C and "
                     "C++ programs built with mpicc.openmpi/mpicxx.openmpi that use the C API, and Fortran and "
                     "C++ bindings built with MPICH (rebuild it with mpif90.mpich or mpicxx.mpich)",
                     resolved, lib);
            return APP_CHECK_UNUSABLE;
        }
        if (strncmp(lib, "libmpi.so", 9) == 0 || strncmp(lib, "libmpich.so", 11) == 0 ||
            strncmp(lib, "libmpi_", 7) == 0 || strncmp(lib, "libmpich", 8) == 0) {
            snprintf(err, errlen,
                     "application '%s' needs %s, an MPI ABI MANA has no face for: MANA runs programs built "
                     "with MPICH (libmpich.so.12) or Open MPI 4 (libmpi.so.40); rebuild it with mpicc.mpich "
                     "or mpicc.openmpi",
                     resolved, lib);
            return APP_CHECK_UNUSABLE;
        }
    }
    return APP_CHECK_OK;
}
