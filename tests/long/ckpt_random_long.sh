#!/usr/bin/env bash
# The long random-checkpoint run of issue 6 (make check-long): ROUNDS
# rounds (4 by default) over every example and every stress program, each
# checkpointed twice at a random collective, once going on and once killed
# with kill -9 and restarted (tests/ckpt_random.sh), with 2, 3 or 4 ranks
# in turn: 4 rounds of 30 programs make 240 checkpoints, half of them
# restarted. Every result must equal the native run's with the same
# number of ranks. make check runs a sample of the same harness
# (tests/integration/ckpt_examples.sh and ckpt_stress.sh).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
source "$(dirname "$0")/../ckpt_random.sh"

ROUNDS=${ROUNDS:-4}
AT_RANGE=${AT_RANGE:-12}
programs="examples/jacobi examples/hello examples/ring examples/collectives examples/comm_topo examples/comm_create
  examples/topologies examples/intercomm examples/datatypes_op examples/datatypes_all examples/groups
  examples/attributes examples/errhandlers examples/info_misc examples/threads_pthreads examples/threads_openmp
  examples/threads_resident examples/signals_in_mpi examples/files_io examples/fortran77 examples/fortran90
  examples/fortran2008 examples/cxx_capi examples/cxx_stl tests/stress/stress_drain
  tests/stress/stress_nbc tests/stress/stress_persistent tests/stress/stress_match tests/stress/stress_sizes
  tests/stress/stress_comms"
RANDOM=${SEED:-$$}
echo "# seed ${SEED:-$$}, $ROUNDS rounds"
started=$(date +%s)
for round in $(seq 0 $((ROUNDS - 1))); do
  i=0
  for p in $programs; do
    np=$((2 + (round + i) % 3))
    i=$((i + 1))
    name=$(basename "$p")
    args=()
    [ "$name" = jacobi ] && args=(100)
    ckpt_random_program "$BUILD/$p" "$name.r$round" "$np" "${args[@]}"
  done
done
secs=$(($(date +%s) - started))
want=$((ROUNDS * $(wc -w <<<"$programs") * 2))
check "$want checkpoints taken ($CHECKPOINTS in $secs s; $DRAINED_MESSAGES messages drained, $TAKEN_BACK receives taken back, $COMPLETED requests completed)" \
  test "$CHECKPOINTS" -ge "$want"
