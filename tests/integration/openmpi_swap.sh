#!/usr/bin/env bash
# Restarting under another MPI (issue 7, acceptance 2), programs built
# once with mpicc.mpich:
#  - a chain MPICH -> Open MPI -> MPICH -> Open MPI -> MPICH: progs/
#    ckpt_compute on 2 ranks, checkpointed and stopped under each MPI and
#    restarted under the other (ckpt_chain.sh with CHAIN_MPIS): each image
#    records the MPI it was taken under, each restart says what it
#    swapped, and all the runs together print what one native run prints,
#    with the same files;
#  - a sample of the examples, checkpointed at a random moment under one
#    MPI, killed with kill -9 and restarted under the other, both ways
#    (tests/ckpt_random.sh; `make check-long` does every example and
#    stress program: tests/long/openmpi_swap_long.sh).
dir=$(dirname "$0")
CHAIN_MPIS="mpich openmpi" LINKS=4 bash "$dir/ckpt_chain.sh"

source "$dir/../lib.sh"
source "$dir/../ckpt_lib.sh"
source "$dir/../ckpt_random.sh"

# The examples: checkpoint under one MPI, kill -9, restart under the other.
RANDOM=$$
ckpt_random_between mpich openmpi "$BUILD/examples" "" datatypes_op fortran90 cxx_capi
ckpt_random_between openmpi mpich "$BUILD/examples" "" collectives cxx_stl fortran77
