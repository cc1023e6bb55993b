#!/usr/bin/env bash
# Faults during a restart (docs/reliability.md): kill -9 of one rank, of
# every rank, of mpirun or of the restarted job's coordinator while the
# ranks restore (after MPI_Init, before the memory comes back) or just
# before they return into the application; and a restart from a
# checkpoint directory on a read-only file system. A restart only reads
# the checkpoint: after any of these the directory is byte for byte what
# it was, and the next mana-restart finishes the program.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
source "$(dirname "$0")/lib.sh"
require_fault_tree
native_reference

# --- one checkpoint (generation 1, taken at step 2, the job stopped) -------
start_case base
if ! wait_step base 2 || ! checkpoint "$D" --exit; then
  not_ok "a checkpoint to restart from"; exit 0
fi
finish_job
BASE=$D
rm -f "$BASE/coordinator.log"

# restart_fault NAME FAULT MARKS ACTION FATE: mana-restart of a copy of
# the checkpoint under MANA_TEST_FAULT=FAULT; ACTION once MARKS ranks
# stopped there. FATE: dies (the restart fails) or "goes on" (finishes).
restart_fault() {
  local name=$1 fault=$2 nmarks=$3 action=$4 fate=$5 t0 t_job
  only "$name" || return 0
  CASE=$name CD=$WORK/$name D=$WORK/$name/ck MNT=
  mkdir -p "$CD"
  cp -a "$BASE" "$D"
  (cd "$D" && sha256sum latest gen-000001/*) >"$CD/before.sum"
  MANA_TEST_FAULT=$fault start_job "$name" "$MPIRUN_MPICH" -np $NP "$RESTART" "$D"
  if [ "$nmarks" -gt 0 ] && ! marks "$nmarks"; then
    not_ok "$name: $fault reached"; kill_tree "$JOB"; case_procs_kill "$CD"; return
  fi
  t0=$(now)
  $action
  finish_job
  t_job=$(now)
  if [ "$fate" = dies ]; then
    check "$name: the restart fails" job_died
  else
    check "$name: the restarted job goes on to the native end" restart_went_on
  fi
  check "$name: no process of the restart is left" no_procs_left "$CD"
  check "$name: the checkpoint is unchanged" bash -c "cd '$D' && sha256sum -c --quiet '$CD/before.sum'"
  check "$name: every complete generation verifies" gens_sound
  check "$name: the next mana-restart finishes the program" restart_ok again
  local line="$name: the restart ended $(secs "$t0" "$t_job") s after the fault; the next restart took $RESTART_S s"
  echo "# timing: $line"
  echo "$line" >>"$FAULT_TIMES"
  end_case
}

restart_went_on() { # the restarted program's stdout is the native run's end
  [ "$JST" -eq 0 ] || { echo "# the restart exited $JST:"; sed 's/^/#   /' "$WORK/$CASE.err" | tail -6; return 1; }
  local n
  n=$(wc -l <"$WORK/$CASE.out")
  tail -n "$n" "$NATIVE" | cmp -s - "$WORK/$CASE.out" && grep -qxF "$FINAL" "$WORK/$CASE.out"
}

wanted sample && restart_fault restore-kill-rank 'restore:kill@1#1' 0 hit_none dies
wanted full && restart_fault restore-kill-ranks 'restore:stop#1' 2 hit_ranks dies
wanted full && restart_fault restore-kill-mpirun 'restore:stop#1' 2 hit_mpirun dies
# The restarted job's coordinator is gone before the ranks reach it: the
# job runs on without checkpoints.
wanted full && restart_fault restore-kill-coord 'restore:stop#1' 2 hit_coord "goes on"
wanted full && restart_fault resume-kill-rank 'resume:kill@0#1' 0 hit_none dies

# --- a restart from a read-only file system ----------------------------------
# A restart only reads the checkpoint; the restarted job cannot take new
# checkpoints there (its coordinator cannot write its address file) and
# runs on without them, saying so.
readonly_restart() {
  only restart-readonly || return 0
  CASE=restart-readonly CD=$WORK/restart-readonly MNT=$WORK/restart-readonly/mnt
  mkdir -p "$MNT"
  if ! mount -t tmpfs -o size=32m,mode=0700 tmpfs "$MNT"; then
    skip "restart-readonly: cannot mount a tmpfs"; MNT=; return
  fi
  MOUNTS+=("$MNT")
  D=$MNT/ck
  cp -a "$BASE" "$D"
  (cd "$D" && sha256sum latest gen-000001/*) >"$CD/before.sum"
  if ! mount -o remount,ro "$MNT"; then
    not_ok "restart-readonly: remount the tmpfs read-only"; end_case; return
  fi
  check "restart-readonly: mana-restart finishes the program" restart_ok again
  check "restart-readonly: the restarted job says it cannot checkpoint" \
    grep -q "the job runs without checkpoints" "$CD/again.err"
  check "restart-readonly: the checkpoint is unchanged" bash -c "cd '$D' && sha256sum -c --quiet '$CD/before.sum'"
  echo "# timing: restart-readonly: the restart took $RESTART_S s" | tee -a "$FAULT_TIMES"
  end_case
}
if wanted full; then readonly_restart; fi
