#!/usr/bin/env bash
# A job limited by --time finishes through a chain of allocations (issue
# 8, acceptance 3), on a private Slurm this test starts:
# examples/slurm/long_job.sbatch, submitted with --time=2 and
# --signal=B:USR1@60, runs a 4-rank job that needs several times that
# long. Before each limit Slurm sends SIGUSR1 to the batch shell, which
# passes it to srun and so to every task: they checkpoint and exit 85;
# the script requeues its job; the next allocation resumes from the
# newest generation (mana-launch --resume). It must take at least three
# allocations (Restarts >= 2), end COMPLETED, and its stdout (appended
# by every run) and the ranks' files must equal a native run's.
#
# Timing: with @60 and a 2-minute limit, Slurm 22.05 sends the signal
# 30-60 s into an allocation (it checks every 30 s and sends up to 30 s
# early), so an allocation computes at most ~60 s. STEPS (140 by
# default) at about a second a step (ROUNDS=3 million, 4 ranks, 2 cores;
# never under 0.85 s) is more than two allocations can do. 7-10 minutes
# in all on the 2-core test machine at light load, the native run
# included; far longer on a heavily loaded one (more allocations).
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ckpt_lib.sh"
source "$TOP/tests/slurm_lib.sh"
require_ckpt_tools
cd "$WORK" || exit 1
NP=4
STEPS=${SLURM_TIMELIMIT_STEPS:-140}
ROUNDS=3
# The native run must not be cut short on a loaded machine.
JOB_TIMEOUT=900
slurm_start
# The batch script calls mana-launch by name, as users' scripts do.
export PATH=$BUILD/bin:$PATH

t0=$(date +%s)
mkdir -p "$WORK/native.files"
if ! timeout "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$PROG" "$STEPS" "$WORK/native.files/out" $ROUNDS \
  >"$WORK/native.out" 2>"$WORK/native.err"; then
  not_ok "the native run works"; sed 's/^/#   /' "$WORK/native.err" | tail -5; exit 0
fi
echo "# the native run of $STEPS steps took $(($(date +%s) - t0)) s"

t0=$(date +%s)
mkdir -p "$WORK/job.files"
if ! CKPT_DIR=$WORK/ck sbatch_job job -n $NP --time=2 --signal=B:USR1@60 -o "$WORK/job.out" -e "$WORK/job.err" \
  "$TOP/examples/slurm/long_job.sbatch" "$PROG" "$STEPS" "$WORK/job.files/out" $ROUNDS; then
  not_ok "sbatch long_job.sbatch --time=2 --signal=B:USR1@60"; exit 0
fi
ok "sbatch long_job.sbatch --time=2 --signal=B:USR1@60"
# An allocation lasts about a minute (2 at most), and a requeued job
# waits cred_expire (10 s) to run again. On an idle machine the job needs
# 4 or 5 allocations; on a loaded one each allocation does less (starting
# and restoring take longer, the signal comes as early), so the wait is
# long: 2 cores at load 15 did about 5 steps an allocation.
if wait_job_state "$JOBID" "COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE" 2700; then
  ok "the job ended ($(($(date +%s) - t0)) s)"
else
  not_ok "the job ended"
  scancel "$JOBID" 2>/dev/null
fi
restarts=$(job_field "$JOBID" Restarts)
state=$(job_field "$JOBID" JobState)
runs=$(grep -c "^long_job: run [0-9]* of job $JOBID " "$WORK/job.err")
echo "# Restarts=$restarts JobState=$state ExitCode=$(job_field "$JOBID" ExitCode), $runs runs"
check "it took at least three allocations (Restarts=$restarts >= 2)" test "${restarts:-0}" -ge 2
check "it completed (JobState COMPLETED, ExitCode 0:0)" \
  test "$state/$(job_field "$JOBID" ExitCode)" = COMPLETED/0:0
check "every run but the last stopped with the checkpointed status ($CHECKPOINTED) and requeued itself" \
  test "$(grep -c "^long_job: checkpointed in $WORK/ck; requeueing job $JOBID$" "$WORK/job.err")" = "$restarts" \
  -a "$(grep -c "srun: error: .*Exited with exit code $CHECKPOINTED" "$WORK/job.err")" = "$restarts"
check "Slurm ran the script once per allocation ($runs = Restarts + 1)" test "$runs" = "$((${restarts:-0} + 1))"
check "the first run started afresh, saying so" grep -q "^mana-launch: --resume: no checkpoint in $WORK/ck yet" "$WORK/job.err"
# Run k+1 resumes generation k: one checkpoint per allocation.
resumed=1
for ((g = 1; g <= ${restarts:-0}; g++)); do
  if ! grep -q "^mana-restart: restarting from generation $g ($WORK/ck/gen-$(printf %06d $g))$" "$WORK/job.err"; then
    echo "# no run resumed generation $g"; resumed=0
  fi
done
check "each later run resumed the generation the run before it wrote (1 to $restarts)" test "$resumed" = 1 -a "${restarts:-0}" -ge 1
# (scontrol requeue may end the script's own batch step before it exits:
# "CANCELLED ... DUE TO JOB REQUEUE" is no failure.)
check "no run failed or was killed at its time limit" \
  bash -c "! grep -E 'Exited with exit code|DUE TO TIME LIMIT|Killed|MANA: rank .* failed' '$WORK/job.err' |
    grep -v 'Exited with exit code $CHECKPOINTED\$'"
check "stdout of all the runs (--open-mode=append) equals the native run's" same_file "$WORK/native.out" "$WORK/job.out"
check "the ranks' files equal the native run's" same_rank_files "$WORK/job.files"
grep -E "^(long_job|mana-restart|mana-launch):" "$WORK/job.err" | sed 's/^/#   /'
