#!/usr/bin/env bash
# Replay of the record log, for real: the program makes objects of every
# kind, MPI_Pcontrol(99) with MANA_DEBUG=replay makes them all again on
# the live lower half and moves every id to the new object, and the
# program then uses them. Its output must equal the native run's, which
# shows the records' order, arguments and dependencies were right.
source "$(dirname "$0")/../lib.sh"
prog=$BUILD/tests/progs/replay_objects
export MANA_DEBUG=replay
for np in 1 4; do
  check "objects made again by replay work as the originals, $np ranks" same_output "replay_$np" "$np" "$prog"
done
run_mana 2 "$prog" >"$WORK/out" 2>"$WORK/err"
check "the replay ran (records replayed named on stderr)" \
  grep -qE 'MANA: MANA_DEBUG=replay: replayed [1-9][0-9]* records' "$WORK/err"

# The same for objects whose rebuilding goes through MPICH's Fortran
# binding: keyvals with Fortran callbacks and their language proxies (one
# freed while its attribute stays), a Fortran user op, MPI_UNWEIGHTED.
fprog=$BUILD/tests/progs/replay_fortran
if [ -x "$fprog" ]; then
  check "Fortran objects made again by replay work as the originals, 4 ranks" same_output replay_fortran 4 "$fprog"
else
  skip "Fortran replay: $fprog not built (no gfortran with mpif90.mpich)"
fi
