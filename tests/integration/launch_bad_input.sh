#!/usr/bin/env bash
# Bad input gets a clear error naming the cause and a non-zero exit, never
# a crash; a program outside mpirun runs as a one-rank singleton.
source "$(dirname "$0")/../lib.sh"


expect_status "missing application" 127 "application './no-such-program' not found" \
  "$MANA_LAUNCH" ./no-such-program
expect_status "application not on PATH" 127 "not found in \\\$PATH" \
  "$MANA_LAUNCH" no-such-program-anywhere
printf '#!/bin/sh\necho hi\n' >"$WORK/script.sh"; chmod +x "$WORK/script.sh"
expect_status "script instead of a program" 126 "not an ELF file" "$MANA_LAUNCH" "$WORK/script.sh"
printf 'not a program' >"$WORK/data"; chmod +x "$WORK/data"
expect_status "data file" 126 "not an ELF file" "$MANA_LAUNCH" "$WORK/data"
printf 'int main(void){return 0;}\n' >"$WORK/static.c"
if gcc -static -o "$WORK/static" "$WORK/static.c" 2>/dev/null; then
  expect_status "statically linked program" 126 "is statically linked" "$MANA_LAUNCH" "$WORK/static"
else
  skip "statically linked program: gcc -static does not work here"
fi
if command -v mpicc.openmpi >/dev/null; then
  mpicc.openmpi -o "$WORK/ompi_hello" "$TOP/examples/hello.c" 2>/dev/null
  # Accepted since issue 11 (the Open MPI face); Open MPI's Fortran
  # binding library is refused, naming it.
  ompi_runs() { timeout "$JOB_TIMEOUT" mpirun.openmpi --allow-run-as-root --oversubscribe -np 1 "$MANA_LAUNCH" \
    "$WORK/ompi_hello" 2>&1 | grep -q "hello: OK"; }
  check "program built against Open MPI runs (the Open MPI face)" ompi_runs
  if command -v mpif90.openmpi >/dev/null && printf 'program p\nuse mpi\ninteger e\ncall MPI_Init(e)\ncall MPI_Finalize(e)\nend\n' \
      >"$WORK/f.f90" && mpif90.openmpi -o "$WORK/ompi_f" "$WORK/f.f90" 2>/dev/null; then
    expect_status "Fortran program built against Open MPI" 126 "Open MPI's Fortran or C\\+\\+ bindings" \
      "$MANA_LAUNCH" "$WORK/ompi_f"
  else
    skip "Fortran program built against Open MPI: mpif90.openmpi missing"
  fi
else
  skip "program built against Open MPI: mpicc.openmpi missing"
fi
# A MANA installed without the Open MPI lower half (built where Open
# MPI's development files were missing).
mkdir -p "$WORK/partial/bin" "$WORK/partial/libexec/mana"
cp "$MANA_LAUNCH" "$WORK/partial/bin/"
ln -s "$BUILD/libexec/mana/mana-lh-mpich" "$WORK/partial/libexec/mana/"
expect_status "missing MPI flavour" 3 "the openmpi lower half .* is not installed" \
  "$WORK/partial/bin/mana-launch" --mpi openmpi "$BUILD/examples/hello"
expect_status "flavour disagrees with the launcher" 3 "--mpi mpich, but this rank was started by openmpi" \
  env OMPI_COMM_WORLD_SIZE=1 "$MANA_LAUNCH" --mpi mpich "$BUILD/examples/hello"
# With the real launchers (issue 7, acceptance 4): the message names both.
expect_status "--mpi mpich under mpirun.openmpi" 3 "--mpi mpich, but this rank was started by openmpi's launcher" \
  timeout 60 mpirun.openmpi --allow-run-as-root --oversubscribe --quiet -np 2 "$MANA_LAUNCH" --mpi mpich \
  "$BUILD/examples/hello"
expect_status "--mpi openmpi under mpirun.mpich" 3 "--mpi openmpi, but this rank was started by mpich's launcher" \
  timeout 60 "$MPIRUN_MPICH" -np 2 "$MANA_LAUNCH" --mpi openmpi "$BUILD/examples/hello"
mkdir -p "$WORK/ck" && chmod 700 "$WORK/ck"
expect_status "mana-restart --mpi openmpi under mpirun.mpich" 5 \
  "mana-restart: --mpi openmpi, but this rank was started by mpich's launcher" \
  timeout 60 "$MPIRUN_MPICH" -np 2 "$BUILD/bin/mana-restart" --mpi openmpi "$WORK/ck"
expect_status "unknown flavour" 2 "unknown MPI flavour" "$MANA_LAUNCH" --mpi lam "$BUILD/examples/hello"
expect_status "no program" 2 "no program given" "$MANA_LAUNCH"
expect_status "unknown option" 2 "Usage: mana-launch" "$MANA_LAUNCH" --frobnicate ./x
expect_status "bad --interval" 2 "--interval abc: give a whole number of seconds" \
  "$MANA_LAUNCH" --interval abc "$BUILD/examples/hello"
expect_status "bad --keep" 2 "--keep -1: give how many generations" "$MANA_LAUNCH" --keep -1 "$BUILD/examples/hello"
expect_status "bad --signal" 2 "--signal KILL: not a signal MANA can take" \
  "$MANA_LAUNCH" --signal KILL "$BUILD/examples/hello"
expect_status "MPI call outside mana-launch names the fix" 1 "MPI_Init_thread called, but this program was not started by mana-launch" \
  env LD_PRELOAD="$BUILD/lib/mana/libmana.so" LD_LIBRARY_PATH="$BUILD/lib/mana/stub" "$BUILD/examples/hello"

"$MANA_LAUNCH" --help >"$WORK/help" 2>&1
check "--help prints usage and exits 0" grep -q "Usage: mana-launch" "$WORK/help"

# Singleton: no mpirun at all.
timeout "$JOB_TIMEOUT" "$MANA_LAUNCH" "$BUILD/examples/hello" >"$WORK/single" 2>"$WORK/single.err"
rc=$?
timeout "$JOB_TIMEOUT" "$BUILD/examples/hello" >"$WORK/single.native" 2>/dev/null
check "singleton outside mpirun runs as one rank (exit $rc)" \
  bash -c "[ $rc -eq 0 ] && cmp -s '$WORK/single' '$WORK/single.native' && grep -q 'hello from 1 ranks' '$WORK/single'"

# The program's exit status and arguments come through unchanged.
"$MANA_LAUNCH" /bin/sh -c 'exit 7' 2>"$WORK/err"
rc=$?
check "exit status of the program is kept (7 -> $rc)" test "$rc" -eq 7
out=$("$MANA_LAUNCH" -- /bin/echo "a b" c 2>&1)
check "arguments reach the program unchanged" test "$out" = "a b c"

# A non-PIE program is loaded at its link-time address.
if "$MPICC_MPICH" -no-pie -o "$WORK/hello_nopie" "$TOP/examples/hello.c" 2>/dev/null; then
  check "non-PIE program runs with 2 ranks" same_output hello_nopie 2 "$WORK/hello_nopie"
else
  not_ok "non-PIE program: mpicc.mpich -no-pie failed"
fi

# An MPI program's exit status after MPI_Finalize comes through too.
for np in 1 2; do
  run_mana "$np" "$BUILD/tests/progs/exit_status" 5 >/dev/null 2>&1
  rc=$?
  check "exit status of an MPI program with $np rank(s) is kept (5 -> $rc)" test "$rc" -eq 5
done

# Under srun without a PMI plugin the job would silently become N singletons.
expect_status "srun without PMI is refused, naming --mpi=pmi2" 3 "srun --mpi=pmi2" \
  env SLURM_PROCID=1 SLURM_STEP_NUM_TASKS=4 "$MANA_LAUNCH" "$BUILD/examples/hello"
expect_status "a one-task Slurm step runs as a singleton" 0 "hello: OK" \
  env SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=1 "$MANA_LAUNCH" "$BUILD/examples/hello"
