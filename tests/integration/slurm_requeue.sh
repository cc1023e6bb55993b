#!/usr/bin/env bash
# Preemption on demand under a real Slurm (issue 8, acceptances 2 and 5),
# on a private cluster this test starts:
#   (a) examples/slurm/long_job.sbatch runs a 4-rank job; `scancel
#       --signal=USR1 JOB` reaches its tasks, which checkpoint and exit
#       85; the script requeues the job; Slurm runs it again (same job
#       id, SLURM_RESTART_COUNT=1) and `mana-launch --resume` goes on
#       from the checkpoint to the native result;
#   (b) a checkpoint written by one batch job (stopped the same way, not
#       requeued) is resumed by a separate sbatch job: a new job id, the
#       tasks laid out cyclically and started by mpirun.mpich inside the
#       allocation instead of srun.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ckpt_lib.sh"
source "$TOP/tests/slurm_lib.sh"
require_ckpt_tools
cd "$WORK" || exit 1
NP=4
STEPS=12
ROUNDS=3 # million per step: about a second a step with 4 ranks on 2 cores
slurm_start
# The batch scripts call mana-launch by name, as users' scripts do.
export PATH=$BUILD/bin:$PATH

mkdir -p "$WORK/native.files"
if ! timeout "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$PROG" $STEPS "$WORK/native.files/out" $ROUNDS \
  >"$WORK/native.out" 2>"$WORK/native.err"; then
  not_ok "the native run works"; sed 's/^/#   /' "$WORK/native.err" | tail -5; exit 0
fi

# --- (a) scancel --signal=USR1, checkpoint, exit 85, requeue, resume ----------
mkdir -p "$WORK/a.files"
if ! CKPT_DIR=$WORK/ck-a sbatch_job a -n $NP --time=10 -o "$WORK/a.out" -e "$WORK/a.err" \
  "$TOP/examples/slurm/long_job.sbatch" "$PROG" $STEPS "$WORK/a.files/out" $ROUNDS; then
  not_ok "(a) sbatch long_job.sbatch"; exit 0
fi
if wait_file_step "$WORK/a.out" 3 60 && scancel --signal=USR1 "$JOBID"; then
  ok "(a) scancel --signal=USR1 on the running job"
else
  not_ok "(a) scancel --signal=USR1 on the running job"
fi
# The requeued job is eligible again after cred_expire (10 s here).
if wait_job_state "$JOBID" "COMPLETED|FAILED|CANCELLED|TIMEOUT" 150; then
  ok "(a) the job ended"
else
  not_ok "(a) the job ended"
fi
check "(a) Slurm ran it twice (Restarts=1) and it completed (exit 0)" \
  test "$(job_field "$JOBID" Restarts)/$(job_field "$JOBID" JobState)/$(job_field "$JOBID" ExitCode)" = 1/COMPLETED/0:0
check "(a) the first run stopped with the checkpointed status and requeued itself" \
  grep -q "srun: error: .*Exited with exit code $CHECKPOINTED" "$WORK/a.err"
check "(a) the script said it requeued" grep -q "^long_job: checkpointed in $WORK/ck-a; requeueing job $JOBID$" "$WORK/a.err"
check "(a) the second run resumed from generation 1" \
  grep -q "^mana-restart: restarting from generation 1 ($WORK/ck-a/gen-000001)$" "$WORK/a.err"
check "(a) the first run started afresh, saying so" grep -q "^mana-launch: --resume: no checkpoint in $WORK/ck-a yet" "$WORK/a.err"
check "(a) stdout of both runs (--open-mode=append) equals the native run's" same_file "$WORK/native.out" "$WORK/a.out"
check "(a) the ranks' files equal the native run's" same_rank_files "$WORK/a.files"

# --- (b) a checkpoint of one job resumed by another ----------------------------
cat >"$WORK/stop.sbatch" <<EOF
#!/bin/bash
srun --mpi=pmi2 mana-launch --resume --ckpt-dir "$WORK/ck-b" -- "$PROG" $STEPS "$WORK/b.files/out" $ROUNDS
EOF
cat >"$WORK/resume.sbatch" <<EOF
#!/bin/bash
$MPIRUN_MPICH -np $NP mana-launch --resume --ckpt-dir "$WORK/ck-b" -- "$PROG" $STEPS "$WORK/b.files/out" $ROUNDS
EOF
mkdir -p "$WORK/b.files"
first=
if sbatch_job b1 -n $NP -o "$WORK/b1.out" -e "$WORK/b1.err" "$WORK/stop.sbatch" && first=$JOBID &&
  wait_file_step "$WORK/b1.out" 4 60 && scancel --signal=USR1 "$JOBID" &&
  wait_job_state "$JOBID" "FAILED|COMPLETED" 60; then
  check "(b) job 1 stopped with the checkpointed status (ExitCode $CHECKPOINTED:0)" \
    test "$(job_field "$first" ExitCode)" = "$CHECKPOINTED:0"
else
  not_ok "(b) job 1 runs, takes the signal and stops"
fi
if sbatch_job b2 -n $NP --distribution=cyclic -o "$WORK/b2.out" -e "$WORK/b2.err" "$WORK/resume.sbatch" &&
  wait_job_state "$JOBID" "COMPLETED|FAILED" 90; then
  check "(b) job 2 is another job (job id $JOBID, not $first) and completed" \
    test "$JOBID" != "$first" -a "$(job_field "$JOBID" JobState)" = COMPLETED
else
  not_ok "(b) job 2 runs to its end"
fi
check "(b) job 2 resumed job 1's checkpoint" grep -q "^mana-restart: restarting from generation 1 " "$WORK/b2.err"
cat "$WORK/b1.out" "$WORK/b2.out" >"$WORK/b.all"
check "(b) stdout of the two jobs equals the native run's" same_file "$WORK/native.out" "$WORK/b.all"
check "(b) the ranks' files equal the native run's" same_rank_files "$WORK/b.files"
