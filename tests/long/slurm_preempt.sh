#!/usr/bin/env bash
# Partition preemption (issue 8, acceptance 4), on a private Slurm this
# test starts: a job of the high-priority partition takes the node; the
# low-priority job checkpoints within its grace time, requeues itself,
# resumes when the node is free and ends with the native result. Both
# signal paths of examples/slurm/preemptible.sbatch:
#   (a) SlurmctldParameters=preempt_send_user_signal (slurm_cluster.sh
#       --preempt): the job's --signal=B:USR1 reaches the batch shell at
#       the start of the grace time, which passes it to srun and the tasks;
#   (b) without it (--preempt-term): the tasks get SIGTERM at the start
#       of the grace time, and mana-launch --signal TERM
#       (CKPT_SIGNAL=TERM) takes it; the batch shell gets nothing;
#   (c) (b)'s job where preempt_send_user_signal is set: the batch shell
#       gets SIGUSR1 as in (a) and passes it on as SIGTERM (scancel
#       --signal=TERM).
# About 4-5 minutes (too long for make check: make check-long runs it).
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ckpt_lib.sh"
source "$TOP/tests/slurm_lib.sh"
require_ckpt_tools
cd "$WORK" || exit 1
NP=4
STEPS=16
ROUNDS=3
GRACE=30
export MANA_SLURM_GRACE=$GRACE
PATHS=${SLURM_PREEMPT_PATHS:-a b c}
# The batch script calls mana-launch by name, as users' scripts do.
export PATH=$BUILD/bin:$PATH

mkdir -p "$WORK/native.files"
if ! timeout "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$PROG" $STEPS "$WORK/native.files/out" $ROUNDS \
  >"$WORK/native.out" 2>"$WORK/native.err"; then
  not_ok "the native run works"; sed 's/^/#   /' "$WORK/native.err" | tail -5; exit 0
fi

# epoch_of PATTERN FILE: the "(EPOCH)" on the first line matching PATTERN.
epoch_of() {
  grep -m1 -E "$1" "$2" | sed -n 's/.*(\([0-9]*\)).*/\1/p'
}

# preempt_case TAG CLUSTER-OPTION CKPT_SIGNAL SHELL-SIGNALED(yes|no)
preempt_case() {
  local tag=$1 cluster=$2 sig=$3 shell=$4 t0 low high t_high t_sig m ck_at high_start high_end run2
  shift 4
  t0=$(date +%s)
  slurm_start "$cluster"
  mkdir -p "$WORK/$tag.files"
  if ! CKPT_DIR=$WORK/ck-$tag CKPT_SIGNAL=$sig sbatch_job "$tag" -p low -n $NP "$@" \
    -o "$WORK/$tag.out" -e "$WORK/$tag.err" \
    "$TOP/examples/slurm/preemptible.sbatch" "$PROG" $STEPS "$WORK/$tag.files/out" $ROUNDS; then
    not_ok "($tag) sbatch -p low preemptible.sbatch"; slurm_stop; return
  fi
  low=$JOBID
  if ! wait_file_step "$WORK/$tag.out" 3 90; then
    not_ok "($tag) the low job runs"; scancel "$low"; slurm_stop; return
  fi
  t_high=$(date +%s)
  if ! sbatch_job "$tag-high" -p high -n $NP -o "$WORK/$tag-high.out" \
    --wrap 'echo "high: start $(date +%s)"; sleep 5; echo "high: end $(date +%s)"'; then
    not_ok "($tag) sbatch -p high"; scancel "$low"; slurm_stop; return
  fi
  high=$JOBID
  # The grace time, a requeue (cred_expire, 10 s) and the rest of the run.
  if wait_job_state "$low" "COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|PREEMPTED" 180 &&
    wait_job_state "$high" "COMPLETED|FAILED|CANCELLED|TIMEOUT" 30; then
    ok "($tag) both jobs ended ($(($(date +%s) - t0)) s)"
  else
    not_ok "($tag) both jobs ended"
  fi
  echo "# ($tag) low job $low: Restarts=$(job_field "$low" Restarts) JobState=$(job_field "$low" JobState);" \
    "high job $high: JobState=$(job_field "$high" JobState)"
  sed 's/^/#   /' "$WORK/$tag.err"
  check "($tag) the high job completed" test "$(job_field "$high" JobState)" = COMPLETED
  check "($tag) the low job was requeued once (Restarts=1) and completed (exit 0)" \
    test "$(job_field "$low" Restarts)/$(job_field "$low" JobState)/$(job_field "$low" ExitCode)" = 1/COMPLETED/0:0
  check "($tag) its first run stopped with the checkpointed status and requeued itself" \
    grep -q "^preemptible: checkpointed in $WORK/ck-$tag at .*; requeueing job $low$" "$WORK/$tag.err"
  check "($tag) Slurm did not kill it at the end of the grace time" \
    bash -c "! grep -q 'DUE TO PREEMPTION' '$WORK/$tag.err'"
  check "($tag) its checkpoint generation 1 exists" test -s "$WORK/ck-$tag/gen-000001/MANIFEST"
  if [ "$shell" = yes ]; then
    # When the batch shell got the signal.
    t_sig=$(epoch_of "^preemptible: SIGUSR1 at " "$WORK/$tag.err")
    check "($tag) the batch shell got SIGUSR1 (the job's --signal) when the high job came" \
      test -n "$t_sig" -a "${t_sig:-0}" -ge "$t_high"
  else
    # The tasks got SIGTERM from slurmstepd, not through the shell; the
    # grace time began after the high job was submitted.
    t_sig=$t_high
    check "($tag) the checkpoint came from the tasks' SIGTERM, not from a signal to the batch shell" \
      bash -c "! grep -q '^preemptible: SIGUSR1' '$WORK/$tag.err'"
  fi
  m=$(stat -c %Y "$WORK/ck-$tag/gen-000001/MANIFEST" 2>/dev/null || echo 0)
  echo "# ($tag) high job submitted at $t_high, signal at ${t_sig:-?}, MANIFEST written at $m"
  check "($tag) the checkpoint was written within the grace time (${GRACE} s from the signal)" \
    test -n "$t_sig" -a "$m" -ge "${t_sig:-0}" -a "$m" -lt "$((${t_sig:-0} + GRACE))"
  ck_at=$(epoch_of "^preemptible: checkpointed in " "$WORK/$tag.err")
  high_start=$(sed -n 's/^high: start //p' "$WORK/$tag-high.out")
  high_end=$(sed -n 's/^high: end //p' "$WORK/$tag-high.out")
  run2=$(epoch_of "^preemptible: run 2 of job $low " "$WORK/$tag.err")
  echo "# ($tag) low job stopped at ${ck_at:-?}; high job ran ${high_start:-?} to ${high_end:-?}; low job ran again at ${run2:-?}"
  check "($tag) the high job ran while the low job was requeued" \
    test -n "$ck_at" -a -n "$high_start" -a -n "$high_end" -a -n "$run2" -a \
    "${high_start:-0}" -ge "${ck_at:-0}" -a "${run2:-0}" -ge "${high_end:-0}"
  check "($tag) the second run resumed from generation 1" \
    grep -q "^mana-restart: restarting from generation 1 ($WORK/ck-$tag/gen-000001)$" "$WORK/$tag.err"
  check "($tag) stdout of both runs (--open-mode=append) equals the native run's" \
    same_file "$WORK/native.out" "$WORK/$tag.out"
  check "($tag) the ranks' files equal the native run's" same_rank_files "$WORK/$tag.files"
  slurm_stop
}

for p in $PATHS; do
  case $p in
    a) preempt_case a --preempt USR1 yes ;;
    b) preempt_case b --preempt-term TERM no ;;
    c) preempt_case c --preempt TERM yes ;;
    *) not_ok "SLURM_PREEMPT_PATHS: unknown path '$p' (a, b or c)" ;;
  esac
done
