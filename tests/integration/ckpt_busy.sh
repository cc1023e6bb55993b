#!/usr/bin/env bash
# A rank busy computing (no MPI call) while the others wait for it
# (issue 6, acceptance 3): (a) when they wait in point-to-point calls,
# a checkpoint stops it where it is and completes within 2 s plus the
# image write time, long before it would reach MPI; (b) when they wait in
# a collective it has not entered, mana-ckpt --status shows, during the
# checkpoint, that rank and why it is waited for.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
require_ckpt_tools
BUSY=$BUILD/tests/progs/ckpt_busy
NP=3

wait_line() { # NAME TEXT: until $WORK/NAME.out has TEXT (30 s)
  local _
  for _ in $(seq 300); do
    grep -q "$2" "$WORK/$1.out" 2>/dev/null && return 0
    kill -0 "$JOB" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# (a) The others in MPI_Recv: the checkpoint does not wait for rank 1.
dir=$WORK/p2p.ckpt
start_job p2p "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$dir" "$BUSY" p2p 40
if wait_line p2p computing; then
  sleep 1
  t0=$(date +%s%N)
  checkpoint "$dir"
  rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  # What the coordinator measured of the write: from the start of the
  # generation to its completion, in its log.
  check "checkpoint with rank 1 busy computing succeeds (mana-ckpt exit $rc, $ms ms)" test "$rc" -eq 0
  check "the checkpoint took under 2 s plus the image write (${ms} ms, well under the 40 s of computing)" \
    test "$ms" -lt 6000
  check "rank 1 was still computing after it (no result yet)" bash -c "! grep -q '^result' '$WORK/p2p.out'"
  check "the checkpoint is complete" gen_ok "$dir" 1
  t0=$(date +%s)
  "$CKPT" --ckpt-dir "$dir" --kill >/dev/null 2>&1
  finish_job
  check "mana-ckpt --kill ends the job while rank 1 computes ($(($(date +%s) - t0)) s)" \
    test $(($(date +%s) - t0)) -lt 20
else
  not_ok "rank 1 started computing under mana-launch"
  sed 's/^/#   /' "$WORK/p2p.err" | tail -5
  finish_job
fi

# (b) The others in MPI_Allreduce: --status names rank 1 while the
# checkpoint waits for it, and the job ends with the right result.
dir=$WORK/coll.ckpt
start_job coll "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$dir" "$BUSY" coll 6
if wait_line coll computing; then
  sleep 0.5
  timeout 60 "$CKPT" --ckpt-dir "$dir" --checkpoint >"$WORK/coll.ckpt.out" 2>&1 &
  ck=$!
  seen=0
  for _ in $(seq 40); do
    sleep 0.25
    "$CKPT" --ckpt-dir "$dir" --status >"$WORK/status.out" 2>&1
    if grep -q '^  rank 1: has entered 1 of the 2 collectives' "$WORK/status.out"; then
      seen=1
      break
    fi
  done
  check "mana-ckpt --status names rank 1 and why the checkpoint waits for it" test "$seen" -eq 1
  [ "$seen" -eq 1 ] || sed 's/^/#   /' "$WORK/status.out"
  wait "$ck"
  check "the checkpoint completes once rank 1 enters the collective" test $? -eq 0
  finish_job
  check "the job's result is right (1+2+3)" grep -qx 'result 6' "$WORK/coll.out"
else
  not_ok "rank 1 started computing under mana-launch"
  finish_job
fi
