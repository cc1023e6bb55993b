/*
 * errhandlers.c - error handlers: with MPI_ERRORS_RETURN set on
 * MPI_COMM_WORLD (and MPI_COMM_SELF), an erroneous MPI_Send to rank = size
 * and MPI_Comm_rank on MPI_COMM_NULL return error codes, classified with
 * MPI_Error_class and described with MPI_Error_string (only the class is
 * printed: the strings differ between MPI libraries).  A user handler from
 * MPI_Comm_create_errhandler counts its calls, both for a real error and
 * for MPI_Comm_call_errhandler; MPI_Comm_get_errhandler and
 * MPI_Errhandler_free are exercised too.  Error handlers are per
 * communicator state that a checkpoint/restart system must restore.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror errhandlers.c -o errhandlers
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "errhandlers"
#include "example_check.h"

static int n_handler, last_class = -1;
static MPI_Comm last_comm = MPI_COMM_NULL;

static void handler(MPI_Comm *comm, int *code, ...)
{
    n_handler++;
    last_comm = *comm;
    MPI_Error_class(*code, &last_class);
}

static const char *class_name(int c)
{
    if (c == MPI_ERR_RANK)
        return "MPI_ERR_RANK";
    if (c == MPI_ERR_COMM)
        return "MPI_ERR_COMM";
    if (c == MPI_ERR_OTHER)
        return "MPI_ERR_OTHER";
    if (c == MPI_ERR_ARG)
        return "MPI_ERR_ARG";
    if (c == MPI_SUCCESS)
        return "MPI_SUCCESS";
    return "other";
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);

    /* Send to a rank that does not exist. */
    int x = rank;
    int err = MPI_Send(&x, 1, MPI_INT, size, 0, MPI_COMM_WORLD);
    int cls1 = -1;
    MPI_Error_class(err, &cls1);
    check(err != MPI_SUCCESS && cls1 == MPI_ERR_RANK, "send to rank size: class %d", cls1);
    char str[MPI_MAX_ERROR_STRING];
    int len = -1;
    MPI_Error_string(err, str, &len);
    check(len > 0 && len < MPI_MAX_ERROR_STRING && (int)strlen(str) == len, "error string length %d", len);

    /* Rank of the null communicator. */
    int r = -1;
    err = MPI_Comm_rank(MPI_COMM_NULL, &r);
    int cls2 = -1;
    MPI_Error_class(err, &cls2);
    check(err != MPI_SUCCESS && cls2 == MPI_ERR_COMM, "comm_rank(COMM_NULL): class %d", cls2);

    /* The world still works after the errors. */
    int s = 0;
    err = MPI_Allreduce(&x, &s, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    check(err == MPI_SUCCESS && s == size * (size - 1) / 2, "allreduce after errors %d", s);

    /* The handler currently on the world is MPI_ERRORS_RETURN. */
    MPI_Errhandler cur;
    MPI_Comm_get_errhandler(MPI_COMM_WORLD, &cur);
    check(cur == MPI_ERRORS_RETURN, "world errhandler is not MPI_ERRORS_RETURN");
    MPI_Errhandler_free(&cur);

    /* A user handler on a duplicate. */
    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    MPI_Errhandler eh;
    MPI_Comm_create_errhandler(handler, &eh);
    MPI_Comm_set_errhandler(dup, eh);
    err = MPI_Send(&x, 1, MPI_INT, size + 3, 0, dup);
    int cls3 = -1;
    MPI_Error_class(err, &cls3);
    check(err != MPI_SUCCESS && cls3 == MPI_ERR_RANK, "send on dup: class %d", cls3);
    check(n_handler == 1 && last_class == MPI_ERR_RANK && last_comm == dup,
          "user handler after send: calls %d class %d", n_handler, last_class);

    err = MPI_Comm_call_errhandler(dup, MPI_ERR_OTHER);
    check(err == MPI_SUCCESS, "call_errhandler returned %d", err);
    check(n_handler == 2 && last_class == MPI_ERR_OTHER, "user handler after call: calls %d class %d",
          n_handler, last_class);

    MPI_Errhandler got;
    MPI_Comm_get_errhandler(dup, &got);
    check(got != MPI_ERRHANDLER_NULL, "get_errhandler on dup returned null");
    MPI_Errhandler_free(&got);
    check(got == MPI_ERRHANDLER_NULL, "errhandler_free did not null the handle");

    /* A dup of dup inherits the user handler. */
    MPI_Comm dup2;
    MPI_Comm_dup(dup, &dup2);
    MPI_Comm_call_errhandler(dup2, MPI_ERR_ARG);
    check(n_handler == 3 && last_class == MPI_ERR_ARG && last_comm == dup2,
          "inherited handler: calls %d class %d", n_handler, last_class);

    /* Freeing our reference keeps the handler alive on the communicators. */
    MPI_Errhandler_free(&eh);
    check(eh == MPI_ERRHANDLER_NULL, "errhandler_free did not null eh");
    MPI_Comm_call_errhandler(dup, MPI_ERR_OTHER);
    check(n_handler == 4, "handler after errhandler_free: calls %d", n_handler);

    s = 0;
    MPI_Allreduce(&x, &s, 1, MPI_INT, MPI_SUM, dup2);
    check(s == size * (size - 1) / 2, "allreduce on dup2 %d", s);

    MPI_Comm_free(&dup2);
    MPI_Comm_free(&dup);

    int calls = 0;
    MPI_Reduce(&n_handler, &calls, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("errhandlers on %d ranks: send -> %s, comm_rank(NULL) -> %s, user handler calls %d\n",
               size, class_name(cls1), class_name(cls2), calls);

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}
