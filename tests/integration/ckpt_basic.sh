#!/usr/bin/env bash
# Checkpoint and restart of a real 2-rank job (progs/ckpt_compute: steps
# of deterministic compute between MPI_Allreduce calls, a line per step on
# stdout and in a file per rank, a 4 MiB heap pattern checked at the end),
# compared with a native run byte for byte:
#   (a) mana-ckpt --checkpoint while it runs; the job goes on;
#   (b) mana-ckpt --checkpoint --exit, then mana-restart;
#   (c) a completed checkpoint, kill -9 of every rank and mpirun, restart;
#   (d) a chain: launch, checkpoint-and-exit, restart, checkpoint-and-exit,
#       restart (three runs, two generations);
#   (e) SIGUSR1 to mpirun (hydra passes it to the ranks): checkpoint and
#       exit, then restart.
# Checkpoints are requested while every rank is in compute (nearly all of
# the program's time): ranks inside MPI calls are another test's subject.
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../ckpt_lib.sh"
NP=2
STEPS=16
require_ckpt_tools

# --- the reference -----------------------------------------------------
mkdir -p "$WORK/native.files"
if ! run_native $NP "$PROG" $STEPS "$WORK/native.files/out" >"$WORK/native.out" 2>"$WORK/native.err"; then
  not_ok "native run of ckpt_compute"; sed 's/^/#   /' "$WORK/native.err" | tail -5
  exit 0
fi
NATIVE=$WORK/native.out
check "native run prints every step and an intact heap" \
  grep -qx "memory pattern: intact (0 words differ)" "$NATIVE"
FINAL=$(grep '^final checksum' "$NATIVE")

# --- (a) checkpoint, the job goes on -------------------------------------
A=$WORK/ckpt-a
launch a "$A"
if wait_step a 3 && checkpoint "$A"; then
  ok "(a) mana-ckpt --checkpoint while the job computes"
else
  not_ok "(a) mana-ckpt --checkpoint while the job computes"
fi
finish_job
check "(a) the job finishes after the checkpoint" job_ok a
check "(a) stdout equals the native run's" same_file "$NATIVE" "$WORK/a.out"
check "(a) the ranks' files equal the native run's" same_rank_files "$WORK/a.files"
check "(a) generation 1: MANIFEST, latest, images verified by mana-inspect" gen_ok "$A" 1

# --- (b) checkpoint and exit, restart ----------------------------------------
B=$WORK/ckpt-b
launch b "$B"
if wait_step b 4 && checkpoint "$B" --exit; then
  ok "(b) mana-ckpt --checkpoint --exit"
else
  not_ok "(b) mana-ckpt --checkpoint --exit"
fi
finish_job
check "(b) the job exits 85 (checkpointed) after checkpoint-and-exit" job_checkpointed b
check "(b) the job stopped before its end" test "$(grep -c '^final checksum' "$WORK/b.out")" -eq 0
check "(b) generation 1 complete" gen_ok "$B" 1
restart_job b2 "$B"
finish_job
check "(b) mana-restart exits 0" job_ok b2
cat "$WORK/b.out" "$WORK/b2.out" >"$WORK/b.all"
check "(b) stdout before + after the restart equals the native run's" same_file "$NATIVE" "$WORK/b.all"
check "(b) the ranks' files equal the native run's" same_rank_files "$WORK/b.files"

# --- (c) checkpoint, kill -9 everything, restart -----------------------------
C=$WORK/ckpt-c
launch c "$C"
if wait_step c 3 && checkpoint "$C"; then
  ok "(c) mana-ckpt --checkpoint"
else
  not_ok "(c) mana-ckpt --checkpoint"
fi
# Every rank, the proxy and mpirun; the timeout in front of them then ends.
pids=$(descendants "$JOB")
# shellcheck disable=SC2086
[ -n "$pids" ] && kill -9 $pids
finish_job
check "(c) the job was killed before its end" test "$(grep -c '^final checksum' "$WORK/c.out")" -eq 0
check "(c) generation 1 complete" gen_ok "$C" 1
restart_job c2 "$C"
finish_job
check "(c) mana-restart exits 0" job_ok c2
# The restart goes on after the checkpointed step K: its stdout is the
# native run's from step K+1 on, and the killed run printed a prefix of
# the native output reaching at least step K.
c_suffix() {
  local first k n
  first=$(head -1 "$WORK/c2.out")
  [[ $first =~ ^step\ ([0-9]+)\ of ]] || { echo "# the restart's first line is '$first', not a step"; return 1; }
  k=$((BASH_REMATCH[1] - 1))
  C_K=$k
  n=$(wc -l <"$WORK/c2.out")
  [ "$k" -ge 3 ] || { echo "# the restart began at step $((k + 1)), before the checkpoint was asked for"; return 1; }
  tail -n "$n" "$NATIVE" | cmp -s - "$WORK/c2.out" || {
    echo "# the restart's stdout is not the end of the native run's:"; diff <(tail -n "$n" "$NATIVE") "$WORK/c2.out" | head -6 | sed 's/^/#   /'; return 1; }
  head -n "$(wc -l <"$WORK/c.out")" "$NATIVE" | cmp -s - "$WORK/c.out" || { echo "# the killed run's stdout is not a prefix of the native run's"; return 1; }
  [ "$(wc -l <"$WORK/c.out")" -ge "$k" ] || { echo "# the killed run printed fewer than the $k checkpointed steps"; return 1; }
}
check "(c) the restart's stdout is the native run's from the checkpointed step on" c_suffix
check "(c) the restart prints the native final checksum" grep -qxF "$FINAL" "$WORK/c2.out"
# Each rank's file: the killed run appended steps 1..M (M >= K), the
# restart appends steps K+1..STEPS: so the file is the native file's
# first M lines, then its lines K+1..STEPS.
c_files() {
  local r f n m
  [ -n "${C_K:-}" ] || { echo "# no checkpointed step known"; return 1; }
  for r in $(seq 0 $((NP - 1))); do
    f=$WORK/c.files/out.$r
    n=$(wc -l <"$f")
    m=$((n - (STEPS - C_K)))
    [ "$m" -ge "$C_K" ] || { echo "# $f has $n lines: too few for steps 1..$C_K and $((C_K + 1))..$STEPS"; return 1; }
    cat <(head -n "$m" "$WORK/native.files/out.$r") <(tail -n "$((STEPS - C_K))" "$WORK/native.files/out.$r") >"$WORK/c.want.$r"
    same_file "$WORK/c.want.$r" "$f" || return 1
  done
}
check "(c) the ranks' files end like the native run's from the checkpointed step on" c_files

# --- (d) a chain: launch, checkpoint-and-exit, restart, again -----------------
D=$WORK/ckpt-d
launch d "$D"
if wait_step d 3 && checkpoint "$D" --exit; then ok "(d) link 1: checkpoint and exit"; else not_ok "(d) link 1: checkpoint and exit"; fi
finish_job
check "(d) link 1 exits 85 (checkpointed)" job_checkpointed d
restart_job d2 "$D"
# The restarted run's first step, then two more, then the second checkpoint.
d2_first=$(( $(wc -l <"$WORK/d.out") + 1 ))
if wait_step d2 $((d2_first + 2)) && checkpoint "$D" --exit; then
  ok "(d) link 2: the restarted job checkpoints and exits"
else
  not_ok "(d) link 2: the restarted job checkpoints and exits"
fi
finish_job
check "(d) link 2 (a restarted job) exits 85 (checkpointed)" job_checkpointed d2
check "(d) link 2 stopped before the end" test "$(grep -c '^final checksum' "$WORK/d2.out")" -eq 0
check "(d) generation 2 complete, latest names it" gen_ok "$D" 2
restart_job d3 "$D"
finish_job
check "(d) link 3 (restart of a restart) exits 0" job_ok d3
cat "$WORK/d.out" "$WORK/d2.out" "$WORK/d3.out" >"$WORK/d.all"
check "(d) stdout of the three runs equals the native run's" same_file "$NATIVE" "$WORK/d.all"
check "(d) the ranks' files equal the native run's" same_rank_files "$WORK/d.files"

# --- (e) SIGUSR1 to mpirun: checkpoint and exit ------------------------------
E=$WORK/ckpt-e
launch e "$E"
if wait_step e 3; then
  MPIRUN_PID=$(pgrep -P "$JOB" | head -1)
  if [ -n "$MPIRUN_PID" ] && kill -USR1 "$MPIRUN_PID"; then
    ok "(e) SIGUSR1 sent to mpirun"
  else
    not_ok "(e) SIGUSR1 sent to mpirun (no mpirun under pid $JOB)"
  fi
else
  not_ok "(e) the job runs"
fi
finish_job
# Hydra's proxy reports 0 for a rank it reaps after forwarding a signal
# (its forced cleanup), whatever the rank exited with: 85, or 0 from
# that (docs/limitations.md); the checks below tell that the job was
# checkpointed and stopped.
check "(e) the job exits 85 (checkpointed), or 0 as Hydra reports ranks after a forwarded signal (exit $JST)" \
  test "$JST" -eq "$CHECKPOINTED" -o "$JST" -eq 0
check "(e) the job stopped before its end" test "$(grep -c '^final checksum' "$WORK/e.out")" -eq 0
check "(e) the signal made generation 1" gen_ok "$E" 1
restart_job e2 "$E"
finish_job
check "(e) mana-restart exits 0" job_ok e2
cat "$WORK/e.out" "$WORK/e2.out" >"$WORK/e.all"
check "(e) stdout before + after the restart equals the native run's" same_file "$NATIVE" "$WORK/e.all"
check "(e) the ranks' files equal the native run's" same_rank_files "$WORK/e.files"
