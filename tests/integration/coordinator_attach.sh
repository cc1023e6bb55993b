#!/usr/bin/env bash
# The coordinator dies while the job runs (issue 9, acceptance 2): a
# 2-rank ckpt_compute job checkpoints once, then its coordinator is
# killed with kill -9. The job keeps computing and prints exactly one
# warning; mana-ckpt exits 3 saying no coordinator is reachable and naming
# `mana-coordinator --attach --ckpt-dir D`; that command starts a new
# coordinator with a new token, the ranks find it through D/.coordinator
# (not the MANA_COORD they were started with), generation 2 is written,
# the job is killed, and a restart from generation 2 ends as the native
# run does.
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../ckpt_lib.sh"
NP=2
STEPS=50
ROUNDS=1.5 # million rounds per step: a step of 0.1 to 0.5 s
COORD=$BUILD/bin/mana-coordinator
require_ckpt_tools

mkdir -p "$WORK/native.files"
if ! run_native $NP "$PROG" $STEPS "$WORK/native.files/out" $ROUNDS >"$WORK/native.out" 2>"$WORK/native.err"; then
  not_ok "native run of ckpt_compute"; sed 's/^/#   /' "$WORK/native.err" | tail -5
  exit 0
fi
NATIVE=$WORK/native.out

D=$WORK/ckpt-attach
mkdir -p "$WORK/a.files"
start_job a "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$D" "$PROG" $STEPS "$WORK/a.files/out" $ROUNDS
if ! wait_step a 2 || ! checkpoint "$D"; then
  not_ok "generation 1 before the coordinator dies"
  exit 0
fi
check "generation 1 complete" gen_ok "$D" 1
OLD_LINE=$(cat "$D/.coordinator")
OLD_PID=$("$CKPT" --ckpt-dir "$D" --status | sed -nE 's/^coordinator: .* \(pid ([0-9]+)\)$/\1/p')
if [ -z "$OLD_PID" ]; then
  not_ok "mana-ckpt --status names the coordinator's pid"
  exit 0
fi

# --- the coordinator dies ----------------------------------------------------
kill -9 "$OLD_PID"
last_step() { sed -nE 's/^step ([0-9]+) of .*/\1/p' "$WORK/a.out" | tail -1; }
k=$(last_step)
warned() {
  local i
  for i in $(seq 50); do
    grep -q "lost the job's coordinator" "$WORK/a.err" && return 0
    sleep 0.1
  done
  sed 's/^/#   /' "$WORK/a.err" | tail -5
  return 1
}
check "the job warns that its coordinator is lost" warned
check "the job keeps computing (step $((k + 2)) after the kill at step $k)" wait_step a $((k + 2))
check "the warning names the attach command" \
  grep -q "mana-coordinator --attach --ckpt-dir $D" "$WORK/a.err"
expect_status "mana-ckpt: no coordinator reachable, exit 3, names the attach command" 3 \
  "no coordinator is reachable: .*connection refused.*mana-coordinator --attach --ckpt-dir $D" \
  "$CKPT" --ckpt-dir "$D" --checkpoint

# --- a new coordinator is attached -------------------------------------------
ATTACHED=$(date +%s.%N)
expect_status "mana-coordinator --attach starts in the background" 0 \
  "^mana-coordinator: attached to $D: listening on 127\\.0\\.0\\.1:[0-9]+ \\(pid [0-9]+\\)" \
  "$COORD" --attach --ckpt-dir "$D"
NEW_PID=$(sed -nE 's/.*listening on .* \(pid ([0-9]+)\).*/\1/p' "$WORK/expect.out")
[ -n "$NEW_PID" ] && STARTED+=("$NEW_PID")
check "--attach keeps the token off its output" eval '! grep -qE "[0-9a-f]{32}" "$WORK/expect.out"'
NEW_LINE=$(cat "$D/.coordinator" 2>/dev/null)
check "--attach writes a new address and token to .coordinator, mode 0600" \
  eval '[ -n "$NEW_LINE" ] && [ "${NEW_LINE#* }" != "${OLD_LINE#* }" ] && [ "$(stat -c %a "$D/.coordinator")" = 600 ]'
connected() {
  local i
  for i in $(seq 100); do
    if "$CKPT" --ckpt-dir "$D" --status 2>/dev/null | grep -q "^ranks: $NP of $NP connected"; then
      echo "# every rank connected $(awk -v a="$ATTACHED" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the attach"
      return 0
    fi
    sleep 0.1
  done
  "$CKPT" --ckpt-dir "$D" --status 2>&1 | sed 's/^/#   /'
  return 1
}
check "every rank connects to the attached coordinator within 10 s" connected
check "the attached coordinator continues after generation 1" \
  grep -q "attached (--attach) .*the next generation is 2, latest is 1" "$D/coordinator.log"
if checkpoint "$D"; then ok "generation 2 through the attached coordinator"; else not_ok "generation 2 through the attached coordinator"; fi
check "generation 2 complete and latest" gen_ok "$D" 2
check "one warning for the job, not one per rank or per phase" \
  test "$(grep -c "lost the job's coordinator" "$WORK/a.err")" -eq 1

# --- kill the job, restart from generation 2 --------------------------------
pids=$(descendants "$JOB")
# shellcheck disable=SC2086
[ -n "$pids" ] && kill -9 $pids
finish_job
check "the job was killed before its end" test "$(grep -c '^final checksum' "$WORK/a.out")" -eq 0
check "the attached coordinator exits once the ranks are gone" \
  eval 'for i in $(seq 50); do kill -0 "$NEW_PID" 2>/dev/null || break; sleep 0.1; done; ! kill -0 "$NEW_PID" 2>/dev/null'
restart_job r "$D"
finish_job
check "mana-restart from generation 2 exits 0" job_ok r
suffix() {
  local n
  n=$(wc -l <"$WORK/r.out")
  [ "$n" -gt 0 ] && tail -n "$n" "$NATIVE" | cmp -s - "$WORK/r.out" && return 0
  echo "# the restart's stdout is not the end of the native run's:"
  diff <(tail -n "$n" "$NATIVE") "$WORK/r.out" | head -6 | sed 's/^/#   /'
  return 1
}
check "the restart's stdout is the native run's from generation 2's step on" suffix
check "the restart prints the native final checksum" grep -qxF "$(grep '^final checksum' "$NATIVE")" "$WORK/r.out"
