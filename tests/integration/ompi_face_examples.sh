#!/usr/bin/env bash
# Programs built with plain mpicc.openmpi (issue 11, acceptance 1): every
# C example of build/examples-ompi/ gives the native Open MPI run's output
# under mpirun.openmpi ... mana-launch and under mpirun.mpich mana-launch
# (the Open MPI face over each lower half); --verbose names the face.
source "$(dirname "$0")/../lib.sh"
export NATIVE_MPI=openmpi
EX=$BUILD/examples-ompi
if ! ls "$EX"/* >/dev/null 2>&1; then
  skip "Open MPI face examples: mpicc.openmpi not installed (build/examples-ompi is empty)"
  exit 0
fi
for bin in "$EX"/*; do
  name=$(basename "$bin")
  mkdir -p "$WORK/$name.native.cwd"
  (cd "$WORK/$name.native.cwd" && run_native 4 "$bin") >"$WORK/$name.native" 2>"$WORK/$name.native.err"
  native_rc=$?
  for mpi in openmpi mpich; do
    read -ra run <<<"$(mpirun_of "$mpi")"
    mkdir -p "$WORK/$name.$mpi.cwd"
    (cd "$WORK/$name.$mpi.cwd" && timeout "$JOB_TIMEOUT" "${run[@]}" -np 4 "$MANA_LAUNCH" "$bin") \
      >"$WORK/$name.$mpi" 2>"$WORK/$name.$mpi.err"
    rc=$?
    if { [ $rc -eq 0 ] || [ $native_rc -ne 0 ]; } && [ -s "$WORK/$name.native" ] && cmp -s "$WORK/$name.native" "$WORK/$name.$mpi"; then
      ok "$name built with mpicc.openmpi, under mpirun.$mpi mana-launch: output equals the native Open MPI run's"
    else
      not_ok "$name built with mpicc.openmpi, under mpirun.$mpi mana-launch (exit $rc): output differs from native"
      diff "$WORK/$name.native" "$WORK/$name.$mpi" | head -6 | sed 's/^/#   /'
      tail -5 "$WORK/$name.$mpi.err" | sed 's/^/#   /'
    fi
  done
done
out=$(timeout "$JOB_TIMEOUT" mpirun.openmpi --allow-run-as-root --oversubscribe -np 1 "$MANA_LAUNCH" --verbose "$EX/hello" 2>&1)
check "--verbose names the Open MPI face" grep -q "built for the Open MPI (libmpi.so.40) ABI" <<<"$out"
