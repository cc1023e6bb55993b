#!/usr/bin/env bash
# The application's SIGALRM and SIGUSR2 handlers fire as natively, also
# when a signal lands while the thread is inside MPI (with the lower half's
# thread pointer live): each handler counts in a __thread variable and sets
# errno, and the counts must equal the signals delivered. Without libmana's
# %fs switch in the handler wrapper, about 9 in 10 increments are lost here.
source "$(dirname "$0")/../lib.sh"
prog=$BUILD/examples/signals_in_mpi

for run in 1 2 3; do
  run_mana 2 "$prog" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  if [ "$rc" -eq 0 ] && grep -qx "signals_in_mpi: OK" "$WORK/out"; then
    ok "signal handlers during MPI calls, run $run ($(grep -o 'SIGALRM [0-9]*' "$WORK/err" | head -1) handled on rank 0/1)"
  else
    not_ok "signal handlers during MPI calls, run $run (exit $rc)"
    sed 's/^/#   /' "$WORK/out" "$WORK/err" | tail -6
  fi
done
