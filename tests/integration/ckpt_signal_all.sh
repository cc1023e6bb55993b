#!/usr/bin/env bash
# The job's checkpoint signal sent to every process of the job, the
# coordinator rank 0 started included, as a batch system may: Slurm with
# proctrack/cgroup signals every process of a step for `scancel --signal`
# and for the SIGTERM of partition preemption (mana-launch --signal
# TERM). The ranks checkpoint and exit 85; the coordinator, which the
# checkpoint needs, ignores the signal and ends with rank 0. For the
# default USR1 and for TERM; then the job resumes to the native result.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ckpt_lib.sh"
require_ckpt_tools
cd "$WORK" || exit 1
NP=2
STEPS=8

mkdir -p "$WORK/native.files"
if ! run_native $NP "$PROG" $STEPS "$WORK/native.files/out" >"$WORK/native.out" 2>"$WORK/native.err"; then
  not_ok "the native run works"; sed 's/^/#   /' "$WORK/native.err" | tail -5; exit 0
fi

for sig in USR1 TERM; do
  d=$WORK/ck-$sig
  opts=()
  [ "$sig" = USR1 ] || opts=(--signal "$sig")
  launch "$sig" "$d" "${opts[@]}"
  if ! wait_step "$sig" 3; then
    not_ok "($sig) the job runs"; kill_tree "$JOB"; continue
  fi
  coord=$(sed -n 's/.* listening on .* (pid \([0-9]*\)).*/\1/p' "$d/coordinator.log" | tail -1)
  # The ranks: the processes below the launcher whose parent is MPICH's
  # proxy.
  ranks=()
  for p in $(descendants "$JOB"); do
    [ "$(ps -o comm= -p "$(ps -o ppid= -p "$p" | tr -d ' ')" 2>/dev/null)" = hydra_pmi_proxy ] && ranks+=("$p")
  done
  if [ -z "$coord" ] || [ "${#ranks[@]}" -ne $NP ]; then
    not_ok "($sig) found the coordinator (pid ${coord:-none}) and the $NP ranks (${ranks[*]})"
    kill_tree "$JOB"; continue
  fi
  kill -"$sig" "$coord" "${ranks[@]}"
  finish_job
  check "($sig) the job checkpointed and stopped (exit $CHECKPOINTED)" job_checkpointed "$sig"
  check "($sig) generation 1 is complete" gen_ok "$d" 1
  check "($sig) the coordinator did not stop on the signal" \
    bash -c "! grep -q 'stopping on signal' '$d/coordinator.log'"
  restart_job "$sig-restart" "$d"
  finish_job
  check "($sig) the restart ran to the end" job_ok "$sig-restart"
  cat "$WORK/$sig.out" "$WORK/$sig-restart.out" >"$WORK/$sig.all"
  check "($sig) stdout of the two runs equals the native run's" same_file "$WORK/native.out" "$WORK/$sig.all"
  check "($sig) the ranks' files equal the native run's" same_rank_files "$WORK/$sig.files"
done
