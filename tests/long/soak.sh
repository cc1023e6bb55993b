#!/usr/bin/env bash
# The soak test of issue 9 (make check-long): 4 ranks of tests/stress/soak
# holding SOAK_MIB MiB each (1024 by default) under mana-launch with a
# checkpoint every SOAK_INTERVAL s (15) and --keep 2, exchanging messages
# without a pause, for SOAK_SECONDS (600); then kill -9 of the whole job
# and mana-restart from the last generation, which must end exactly as a
# native run of the same step count does. Reports the checkpoints
# written, their bytes, mean and max time (from coordinator.log), and the
# restart. Small: SOAK_MIB=64 SOAK_SECONDS=60.
#
# The program's work is counted in steps, not seconds. The step count is
# chosen here so that the run under MANA is still going after
# SOAK_SECONDS: a short native run measures the steps per second, and the
# count is what the native rate does in SOAK_SECONDS (checkpoints only
# slow MANA's run down). SOAK_STEPS sets it instead. The job is killed at
# SOAK_SECONDS, or earlier once it has done 90% of its steps.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_MIB=${SOAK_MIB:-1024}
SOAK_INTERVAL=${SOAK_INTERVAL:-15}
SOAK_KEEP=${SOAK_KEEP:-2}
NP=4
SOAK=$BUILD/tests/stress/soak
# A hung job is still a failure, but a native run of SOAK_SECONDS on a
# loaded machine must not be cut short.
JOB_TIMEOUT=$((4 * SOAK_SECONDS + 600))
D=$WORK/soak-ckpt

for b in "$SOAK" "$RESTART" "$INSPECT" "$MANA_LAUNCH"; do
  [ -x "$b" ] || { not_ok "soak: $b is built (make all test-programs)"; exit 0; }
done
echo "# soak: $NP ranks x $SOAK_MIB MiB, checkpoint every $SOAK_INTERVAL s (--keep $SOAK_KEEP), $SOAK_SECONDS s, in $D"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- the step count
if [ -n "${SOAK_STEPS:-}" ]; then
  steps=$SOAK_STEPS
else
  # Measured under mana-launch without checkpoints: a native run is no
  # guide (4 busy-polling ranks on 2 cores run at a rate of their own).
  cal=1000
  t0=$(now)
  if ! run_mana $NP --ckpt-dir "$WORK/cal-ckpt" "$SOAK" "$SOAK_MIB" $cal $cal >"$WORK/cal.out" 2>"$WORK/cal.err"; then
    not_ok "soak: a run of $cal steps under mana-launch works"; sed 's/^/#   /' "$WORK/cal.err" | tail -5; exit 0
  fi
  t1=$(now)
  # 1.2 times what that rate does in SOAK_SECONDS: the checkpoints slow
  # the run down, so at SOAK_SECONDS it has some steps left to restart.
  steps=$(awk -v a="$t0" -v b="$t1" -v n=$cal -v s="$SOAK_SECONDS" \
    'BEGIN { v = int(1.2 * n / (b - a) * s / 100) * 100; print v < n ? n : v }')
  echo "# rate under mana-launch: $cal steps in $(secs "$t0" "$t1") s, so $steps steps for $SOAK_SECONDS s"
fi
progress=$(( steps / 200 > 0 ? steps / 200 : 1 ))

# --- the reference: the closed forms, and a native run of the same steps
"$SOAK" --expect $NP "$SOAK_MIB" "$steps" >"$WORK/expect.out"
t0=$(now)
run_native $NP -- "$SOAK" "$SOAK_MIB" "$steps" $progress >"$WORK/native.out" 2>"$WORK/native.err"
nrc=$?
t1=$(now)
native_s=$(secs "$t0" "$t1")
native_ok() {
  [ $nrc -eq 0 ] || { echo "# the native run exited $nrc:"; sed 's/^/#   /' "$WORK/native.err" | tail -5; return 1; }
  same_file "$WORK/expect.out" "$WORK/native.out"
}
check "soak: a native run of $steps steps ends as the closed forms say ($native_s s)" native_ok

# --- under MANA, checkpointed every SOAK_INTERVAL s, killed at SOAK_SECONDS
mkdir -p "$D"
t0=$(now)
start_job mana "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$D" --interval "$SOAK_INTERVAL" --keep "$SOAK_KEEP" \
  "$SOAK" "$SOAK_MIB" "$steps" $progress
last_step() { sed -n 's/^step \([0-9]*\) of .*/\1/p' "$1" | tail -1; }
ended=0
while :; do
  sleep 1
  kill -0 "$JOB" 2>/dev/null || { ended=1; break; }
  [ "$(secs "$t0" "$(now)" | cut -d. -f1)" -ge "$SOAK_SECONDS" ] && break
  s=$(last_step "$WORK/mana.err")
  [ -n "$s" ] && [ "$s" -ge $((steps * 9 / 10)) ] && break
done
at_kill=$(last_step "$WORK/mana.err")
# What the coordinator had logged before the kill: a generation being
# written at the kill fails because of it, which is no fault of MANA's.
cp "$D/coordinator.log" "$WORK/before-kill.log" 2>/dev/null
kill_tree "$JOB"
finish_job
t1=$(now)
ran_s=$(secs "$t0" "$t1")
if [ $ended -eq 1 ]; then
  not_ok "soak: the job under MANA was still running when killed (it ended by itself, status $JST, after $ran_s s)"
  sed 's/^/#   /' "$WORK/mana.err" | tail -10
else
  ok "soak: the job under MANA ran $ran_s s (to step ${at_kill:-0} of $steps), then every process of it got kill -9"
fi
# The coordinator rank 0 started leaves once its ranks are gone; give it
# a moment so that its log is complete.
sleep 2

# --- the figures, from coordinator.log
log=$D/coordinator.log
before=$WORK/before-kill.log
written=$(grep -c 'generation [0-9]* complete:' "$log" 2>/dev/null)
failed=$(grep -c 'generation [0-9]* failed:' "$before" 2>/dev/null)
skipped=$(grep -c 'periodic checkpoint skipped' "$log" 2>/dev/null)
figures=$(sed -nE 's/.*generation [0-9]+ complete: [0-9]+ ranks, ([0-9]+) bytes, .*; took ([0-9.]+) s$/\1 \2/p' "$log" |
  awk '{ n++; b += $1; t += $2; if ($2 > m) m = $2 }
       END { if (n) printf "%.3f GB written (%.3f GB each), checkpoint time mean %.2f s, max %.2f s", b / 1e9, b / n / 1e9, t / n, m }')
echo "# coordinator.log: $written generations complete, $failed failed before the kill," \
  "$skipped periodic checkpoints skipped (the previous one still being written)"
sed -n 's/.*generation \([0-9]*\): checkpoint started.*/\1/p' "$before" | tail -1 >"$WORK/last-started"
if ! grep -q "generation $(cat "$WORK/last-started") \(complete\|failed\)" "$before"; then
  echo "# generation $(cat "$WORK/last-started") was being written at the kill: $(grep "generation $(cat "$WORK/last-started") failed" "$log" | sed 's/.*failed: //; s/;.*//')"
fi
grep -E 'generation [0-9]+ (complete|failed)|skipped' "$log" | sed 's/^/#   /' | tail -60
check "soak: $written checkpoints written in $ran_s s, none failed: $figures" \
  test "${written:-0}" -ge 1 -a "${failed:-1}" -eq 0
latest=$(cat "$D/latest" 2>/dev/null)
[[ $latest =~ ^gen-[0-9]+$ ]] || { not_ok "soak: $D/latest names a generation (it holds '$latest')"; exit 0; }
gen=$((10#${latest#gen-}))
check "soak: the last generation ($latest) is complete and every image verifies" gen_ok "$D" "$gen"
echo "# on disk: $(du -sh "$D" | cut -f1) in $(ls -d "$D"/gen-* | wc -l) generation directories (--keep $SOAK_KEEP)"

# --- restart from the last generation, to the end
t0=$(now)
restart_job restart "$D"
finish_job
t1=$(now)
restart_s=$(secs "$t0" "$t1")
resumed=$(sed -n 's/^step \([0-9]*\) of .*/\1/p' "$WORK/restart.err" | head -1)
restart_ok() { job_ok restart && same_file "$WORK/native.out" "$WORK/restart.out"; }
check "soak: mana-restart from $latest (resumed before step ${resumed:-?}) ran to the end in $restart_s s and ends as the native run" \
  restart_ok
echo "# result: $(cat "$WORK/restart.out")"
