/* The stubs live in the lower half's stub directory; any other libmpich,
 * libmpi or UCX library in the upper link map means the upper ld.so found
 * the real one first (an RPATH in the program, or a preload). */
#define _GNU_SOURCE
#include "stub_check.h"

#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crossing.h"

static const char *const real_library_prefixes[] = {"libmpich.so", "libmpi.so", "libucp.so", "libucs.so",
                                                     "libuct.so",   "libucm.so", "libopen-pal.so"};

int mana_is_real_mpi_library(const char *path, const char *stub_dir)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dirlen = strlen(stub_dir);
    for (size_t i = 0; i < sizeof real_library_prefixes / sizeof real_library_prefixes[0]; i++) {
        const char *prefix = real_library_prefixes[i];
        if (strncmp(base, prefix, strlen(prefix)) != 0)
            continue;
        int in_stub_dir = slash != NULL && (size_t)(slash - path) == dirlen && strncmp(path, stub_dir, dirlen) == 0;
        return !in_stub_dir;
    }
    return 0;
}

static int check_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (info->dlpi_name != NULL && mana_is_real_mpi_library(info->dlpi_name, mana_lower->stub_dir)) {
        fprintf(stderr,
                "MANA: the real MPI library %s was loaded into the application, so MPI would run without MANA. "
                "The program's RPATH or LD_PRELOAD points at it: rebuild without -Wl,-rpath to the MPI library "
                "directory, or remove it from LD_PRELOAD, so that MANA's stub (%s) is found first\n",
                info->dlpi_name, mana_lower->stub_dir);
        fflush(stderr);
        _exit(1);
    }
    return 0;
}

void mana_stub_check(void)
{
    dl_iterate_phdr(check_object, NULL);
}
