#!/usr/bin/env bash
# The application's own files across a restart (issue 5, acceptance 3):
# examples/files_io keeps four files per rank open the whole run (a
# FILE*, an O_APPEND descriptor, one written with pwrite, one read). It is
# checkpointed while it runs and goes on writing; then every rank is
# killed with kill -9, and mana-restart resumes it from the checkpoint:
# each file is back at its descriptor, offset and flags, what the killed
# run appended after the checkpoint is rolled back, and at the end the
# output and every file equal a native run's. Then the refusals: a file
# that shrank since the checkpoint, or that is gone.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
NP=4
PROG=$BUILD/examples/files_io
require_ckpt_tools

mkdir -p "$WORK/native.cwd" "$WORK/run.cwd"
if ! (cd "$WORK/native.cwd" && run_native $NP "$PROG") >"$WORK/native.out" 2>"$WORK/native.err"; then
  not_ok "native run of files_io"; sed 's/^/#   /' "$WORK/native.err" | tail -5
  exit 0
fi

# The run: a checkpoint at rank 0's 6th collective (a few steps in), and
# the job goes on; it is killed once rank 0 has appended three more
# records, so there is something to roll back.
D=$WORK/ckpt
app=$WORK/run.cwd/files_io.rank-0.app
cd "$WORK/run.cwd" || exit 1
MANA_TEST_CKPT_AT_COLL=6 start_job run "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$D" "$PROG"
cd "$TOP" || exit 1
for _ in $(seq 600); do
  [ -e "$D/latest" ] && break
  kill -0 "$JOB" 2>/dev/null || break
  sleep 0.05
done
at_ckpt=$(stat -c %s "$app" 2>/dev/null || echo 0)
for _ in $(seq 600); do
  [ "$(stat -c %s "$app" 2>/dev/null || echo 0)" -ge $((at_ckpt + 3 * 48)) ] && break
  kill -0 "$JOB" 2>/dev/null || break
  sleep 0.01
done
killed_at=$(stat -c %s "$app" 2>/dev/null || echo 0)
running=0
kill -0 "$JOB" 2>/dev/null && running=1
kill_tree "$JOB"
finish_job
check "a checkpoint was written while the job ran" test -e "$D/latest"
check "the job was killed with kill -9 after writing more (rank 0's .app file: $at_ckpt bytes at the checkpoint, $killed_at when killed)" \
  test "$running" = 1 -a "$killed_at" -gt "$at_ckpt"

"$INSPECT" --threads "$D/gen-000001/rank-00000.mana" >"$WORK/inspect.out" 2>&1
check "mana-inspect --threads lists rank 0's four open files" \
  test "$(grep -cE "^  file      fd [0-9]+ $WORK/run.cwd/files_io.rank-0.(log|app|rec|in) " "$WORK/inspect.out")" -eq 4

(cd "$WORK/run.cwd" && timeout "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$RESTART" --verbose "$D") \
  >"$WORK/restart.out" 2>"$WORK/restart.err"
rc=$?
check "mana-restart finishes the job (exit $rc)" test "$rc" -eq 0
check "the restart rolled back what was appended after the checkpoint" \
  grep -q "files_io.rank-0.app rolled back" "$WORK/restart.err"
check "the restarted job's output equals the native run's" same_file "$WORK/native.out" "$WORK/restart.out"
check "every rank's files equal the native run's" diff -r "$WORK/native.cwd" "$WORK/run.cwd"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$WORK/restart.err" | tail -8

# Refusals: a restart from the same checkpoint must not go on with files
# it cannot put back as they were (the image names them by path).
refused() { # WHAT PATTERN: a restart fails, naming the cause
  local out
  out=$(cd "$WORK/run.cwd" && timeout "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$RESTART" "$D" 2>&1)
  local rc=$?
  check "$1: the restart fails (exit $rc)" test "$rc" -ne 0
  check "$1: the error says why" grep -q -- "$2" <<<"$out"
  grep -q -- "$2" <<<"$out" || sed 's/^/#   /' <<<"$out" | tail -5
}
truncate -s 10 "$WORK/run.cwd/files_io.rank-2.app"
refused "a file shorter than at the checkpoint" "files_io.rank-2.app"
rm -f "$WORK/run.cwd/files_io.rank-2.app"
refused "a file that is gone" "files_io.rank-2.app"
