/* What the application and the programs it starts see of MANA's
 * environment: the application gets the user's preload and tunables; a
 * child started with system() gets no call table address and no libmana,
 * and runs natively. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *or_unset(const char *s)
{
    return s ? s : "(unset)";
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    printf("app LD_PRELOAD=%s\n", or_unset(getenv("LD_PRELOAD")));
    printf("app MANA_CALL_TABLE=%s\n", or_unset(getenv("MANA_CALL_TABLE")));
    printf("app GLIBC_TUNABLES=%s\n", or_unset(getenv("GLIBC_TUNABLES")));
    printf("app user preload marker %s\n", dlsym(RTLD_DEFAULT, "user_preload_marker") ? "found" : "missing");
    fflush(stdout);
    int rc = system("echo child LD_PRELOAD=${LD_PRELOAD-(unset)}; "
                    "echo child MANA_CALL_TABLE=${MANA_CALL_TABLE-(unset)}; "
                    "echo child LD_LIBRARY_PATH=${LD_LIBRARY_PATH-(unset)}");
    printf("system() returned %d\n", rc);
    MPI_Finalize();
    return rc != 0;
}
