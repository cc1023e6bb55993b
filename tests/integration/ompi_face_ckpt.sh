#!/usr/bin/env bash
# Checkpoint/restart of programs built with mpicc.openmpi (issue 11,
# acceptance 2), with the random-checkpoint harness (tests/ckpt_random.sh)
# comparing with the native Open MPI run: a sample of the examples,
# checkpointed at a random moment, going on, and killed with kill -9 and
# restarted, under the same MPI and under the other one, both ways.
# `make check-long` does every example (tests/long/ompi_face_long.sh).
dir=$(dirname "$0")
source "$dir/../lib.sh"
source "$dir/../ckpt_lib.sh"
source "$dir/../ckpt_random.sh"
export NATIVE_MPI=openmpi
RANDOM=$$
face_sample() { # FROM TO EXAMPLES...
  read -ra LAUNCH_MPIRUN <<<"$(mpirun_of "$1")"
  read -ra RESTART_MPIRUN <<<"$(mpirun_of "$2")"
  local from=$1 to=$2 ex
  shift 2
  for ex in "$@"; do
    [ -x "$BUILD/examples-ompi/$ex" ] || { skip "$ex: not built with mpicc.openmpi"; continue; }
    ckpt_random_program "$BUILD/examples-ompi/$ex" "ompi-$ex.$from-$to" 4 |
      sed "s/^\(ok\|not ok\) - /&built with mpicc.openmpi, $from to $to: /"
  done
}
face_sample "${FACE_FROM1:-openmpi}" "${FACE_TO1:-mpich}" ${FACE_EXAMPLES1:-ring datatypes_op}
face_sample "${FACE_FROM2:-mpich}" "${FACE_TO2:-openmpi}" ${FACE_EXAMPLES2:-collectives attributes}
