/*
 * threads_openmp.c - a hybrid MPI + OpenMP program at MPI_THREAD_FUNNELED:
 * parallel loops with reduction clauses compute per-rank partial sums, and
 * MPI is called only by the master thread, both between parallel regions and
 * inside one (in an `omp master` block while the other threads wait at a
 * barrier).  The thread count is fixed with omp_set_num_threads so that the
 * work split, and hence the output, does not depend on the machine.  Under
 * checkpoint/restart the OpenMP runtime's thread pool persists between
 * regions and idles in its own spin/futex waits while the master is inside
 * MPI.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror -fopenmp threads_openmp.c -o threads_openmp
 */
#include <mpi.h>
#include <omp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "threads_openmp"
#include "example_check.h"
#define NTHREADS 4
#define ROUNDS 6
#define M (1 << 20) /* terms per rank and round */

/* Unsigned so that overflow wraps predictably. */
static inline uint64_t term(uint64_t i, int rank, int round)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ull + (uint64_t)rank * 1000003u + (uint64_t)round;
    return (x >> 17) ^ (i * i);
}

int main(int argc, char **argv)
{
    int provided = -1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    check(provided >= MPI_THREAD_FUNNELED, "provided thread level %d < FUNNELED", provided);

    /* Without this the team size would follow the core count or
     * OMP_NUM_THREADS, and dynamic adjustment could shrink it. */
    omp_set_dynamic(0);
    omp_set_num_threads(NTHREADS);
    check(omp_get_max_threads() == NTHREADS, "omp_get_max_threads() = %d", omp_get_max_threads());

    uint64_t totals[ROUNDS], maxes[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t local = 0, lmax = 0;
        int team = 0, master_in_mpi_ok = 0;
        uint64_t in_region_global = 0;
        /* Copies of the handles, which default(none) must name: in some
         * MPIs (Open MPI) they are addresses of global objects. */
        MPI_Comm world = MPI_COMM_WORLD;
        MPI_Datatype u64 = MPI_UINT64_T;
        MPI_Op sum = MPI_SUM;

        #pragma omp parallel default(none) shared(local, lmax, team, master_in_mpi_ok, \
                                                  in_region_global, rank, round, world, u64, sum)
        {
            #pragma omp single
            team = omp_get_num_threads();

            #pragma omp for schedule(static) reduction(+ : local) reduction(max : lmax)
            for (uint64_t i = 0; i < M; i++) {
                uint64_t x = term(i, rank, round);
                local += x;
                if ((x & 0xffffff) > lmax)
                    lmax = x & 0xffffff;
            }
            /* The implicit barrier of the loop has published the reduced
             * values; only the master enters MPI, the rest wait below. */
            #pragma omp master
            {
                int is_main = 0;
                MPI_Is_thread_main(&is_main);
                MPI_Allreduce(&local, &in_region_global, 1, u64, sum, world);
                master_in_mpi_ok = is_main;
            }
            #pragma omp barrier
        }
        check(team == NTHREADS, "round %d: team of %d threads", round, team);
        check(master_in_mpi_ok, "round %d: MPI_Is_thread_main false in omp master", round);

        uint64_t global = 0, gmax = 0;
        MPI_Allreduce(&local, &global, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
        MPI_Allreduce(&lmax, &gmax, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);

        /* Serial reference over all ranks' terms. */
        uint64_t want = 0, wmax = 0;
        for (int r = 0; r < size; r++)
            for (uint64_t i = 0; i < M; i++) {
                uint64_t x = term(i, r, round);
                want += x;
                if ((x & 0xffffff) > wmax)
                    wmax = x & 0xffffff;
            }
        check(global == want, "round %d: sum %llu want %llu", round,
              (unsigned long long)global, (unsigned long long)want);
        check(in_region_global == want, "round %d: in-region sum %llu want %llu", round,
              (unsigned long long)in_region_global, (unsigned long long)want);
        check(gmax == wmax, "round %d: max %llu want %llu", round,
              (unsigned long long)gmax, (unsigned long long)wmax);
        totals[round] = global;
        maxes[round] = gmax;
    }

    if (rank == 0) {
        printf("%s: %d ranks x %d threads, %d rounds\n", NAME, size, NTHREADS, ROUNDS);
        for (int round = 0; round < ROUNDS; round++)
            printf("round %d: sum %016llx max %06llx\n", round, (unsigned long long)totals[round],
                   (unsigned long long)maxes[round]);
    }

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}
