#!/usr/bin/env bash
# Jobs under a real Slurm (issue 8, acceptance 1), on a private cluster
# this test starts (tests/slurm/slurm_cluster.sh):
#   - every example under `srun -n 4 --mpi=pmi2 mana-launch -- ./prog`
#     (MPICH's lower half) and `srun -n 4 --mpi=pmix` (Open MPI's) prints
#     what it prints natively under mpirun.mpich;
#   - mpirun.mpich inside an allocation (salloc) runs under MANA too;
#   - `srun --mpi=none`, where each task would be its own one-rank job,
#     is refused with the fix (exit 3), and so is --mpi=pmix with
#     --mpi mpich (the launcher and the flavour disagree).
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ckpt_lib.sh"
source "$TOP/tests/slurm_lib.sh"
cd "$WORK" || exit 1
slurm_start

HELLO=$BUILD/examples/hello
run_srun() { # NAME PLUGIN PROG: the program under srun -n 4 --mpi=PLUGIN
  timeout "$JOB_TIMEOUT" srun -n 4 --mpi="$2" "$MANA_LAUNCH" -- "$3" >"$WORK/$1.out" 2>"$WORK/$1.err"
}

found=0
for prog in "$BUILD"/examples/*; do
  [ -x "$prog" ] || continue
  found=1
  name=$(basename "$prog")
  if ! run_native 4 "$prog" >"$WORK/$name.native" 2>"$WORK/$name.native.err"; then
    not_ok "example $name: the native run works"; sed 's/^/#   /' "$WORK/$name.native.err" | tail -5
    continue
  fi
  for plugin in pmi2 pmix; do
    flavour=$([ $plugin = pmi2 ] && echo MPICH || echo "Open MPI")
    if run_srun "$name.$plugin" $plugin "$prog" && cmp -s "$WORK/$name.native" "$WORK/$name.$plugin.out"; then
      ok "example $name: srun --mpi=$plugin ($flavour lower half) prints the native output"
    else
      not_ok "example $name: srun --mpi=$plugin ($flavour lower half) prints the native output"
      diff "$WORK/$name.native" "$WORK/$name.$plugin.out" | head -6 | sed 's/^/#   /'
      sed 's/^/#   /' "$WORK/$name.$plugin.err" | tail -6
    fi
  done
done
[ "$found" -eq 1 ] || not_ok "no examples built in $BUILD/examples"

# mpirun.mpich inside an allocation: hydra starts its proxies with srun.
timeout "$JOB_TIMEOUT" salloc -n 4 "$MPIRUN_MPICH" -np 4 "$MANA_LAUNCH" "$HELLO" >"$WORK/salloc.out" 2>"$WORK/salloc.err"
check "mpirun.mpich inside salloc -n 4: hello prints the native output" same_file "$WORK/hello.native" "$WORK/salloc.out"

# Batch scripts see the same: sbatch running srun --mpi=pmi2.
cat >"$WORK/hello.sbatch" <<EOF
#!/bin/bash
srun --mpi=pmi2 "$MANA_LAUNCH" "$HELLO"
EOF
if sbatch_job batch -n 4 -o "$WORK/batch.out" -e "$WORK/batch.err" "$WORK/hello.sbatch" &&
  wait_job_state "$JOBID" COMPLETED 60; then
  check "sbatch with srun --mpi=pmi2: hello prints the native output" same_file "$WORK/hello.native" "$WORK/batch.out"
else
  not_ok "sbatch with srun --mpi=pmi2: the job completes"
fi

expect_status "srun --mpi=none: refused, naming --mpi=pmi2 and --mpi=pmix (exit 3)" 3 \
  "Slurm started this step with 4 tasks, but no PMI reached this rank.*srun --mpi=pmi2.*srun --mpi=pmix" \
  timeout "$JOB_TIMEOUT" srun -n 4 --mpi=none "$MANA_LAUNCH" "$HELLO"
check "srun --mpi=none: no rank ran the program as a singleton" bash -c "! grep -q 'hello from' '$WORK/expect.out'"
expect_status "srun --mpi=pmix with --mpi mpich: refused, naming srun --mpi=pmi2 (exit 3)" 3 \
  "--mpi mpich, but this rank was started by openmpi's launcher.*srun --mpi=pmi2" \
  timeout "$JOB_TIMEOUT" srun -n 2 --mpi=pmix "$MANA_LAUNCH" --mpi mpich "$HELLO"
