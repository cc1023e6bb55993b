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
ckpt_random_between "${FACE_FROM1:-openmpi}" "${FACE_TO1:-mpich}" "$BUILD/examples-ompi" "built with mpicc.openmpi, " \
  ${FACE_EXAMPLES1:-ring datatypes_op}
ckpt_random_between "${FACE_FROM2:-mpich}" "${FACE_TO2:-openmpi}" "$BUILD/examples-ompi" "built with mpicc.openmpi, " \
  ${FACE_EXAMPLES2:-collectives attributes}
# The images record the face, which a restart keeps.
img=$(ls "$WORK"/*.1.ckpt/gen-*/rank-00000.mana 2>/dev/null | head -1)
check "an image of a program built with mpicc.openmpi records the Open MPI face" \
  bash -c "'$INSPECT' '$img' | grep -q '^face  *openmpi (libmpi.so.40)'"
