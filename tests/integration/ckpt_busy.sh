#!/usr/bin/env bash
# A rank busy computing (no MPI call) while the others wait for it
# (issue 6, acceptance 3): when they wait in point-to-point calls (a) or
# in a collective it has not entered (b), a checkpoint stops it where it
# is and completes within 2 s plus the image write time, long before it
# would reach MPI, also when the collective's MPI_IN_PLACE input is more
# than MANA keeps (they wait at its arrival barrier), and when they wait
# for their own nonblocking collectives, which a restart posts again; (c)
# when those have an MPI_IN_PLACE input MANA does not keep (over 64 KiB),
# which a restart cannot post again, it waits for rank 1, and mana-ckpt --status shows, during the
# checkpoint, that rank and why it is waited for; (d) a job checkpointed
# with nonblocking collectives left pending goes on to the right result.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
require_ckpt_tools
BUSY=$BUILD/tests/progs/ckpt_busy
NP=3

# timed_checkpoint DIR: mana-ckpt --checkpoint; its exit status in rc,
# how long it took in ms.
timed_checkpoint() {
  local t0
  t0=$(date +%s%N)
  checkpoint "$1"
  rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
}

# (a) The others in MPI_Recv: the checkpoint does not wait for rank 1.
dir=$WORK/p2p.ckpt
start_job p2p "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$dir" "$BUSY" p2p 40
if wait_output p2p computing; then
  sleep 1
  timed_checkpoint "$dir"
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

# (b) The others in MPI_Allreduce, which rank 1 has not entered: the
# checkpoint takes them inside it (they post it again after a restart)
# and does not wait either; with MPI_IN_PLACE on a small buffer too (its
# input is kept, and put back before it is posted again), and on 256 KiB
# (more than is kept: they wait at the barrier MANA puts before it, and
# post that again); and in the MPI_Wait(all) of their own nonblocking
# collectives (an MPI_Iallreduce; one of each kind, some of which MPI may
# have completed on their side), which the checkpoint leaves pending and
# a restart posts again; and in a collective with MPI_IN_PLACE on 256 KiB
# at one rank only, which no barrier can precede (MPI_Reduce at the root,
# MPI_Scan, MPI_Gatherv at the root: MANA keeps that rank's input); and in
# the barrier MANA puts before MPI_Comm_split, which has no nonblocking
# form (they post the barrier again, and then make the call); and in
# MPI_Allreduce after a rooted collective rank 1 has not entered and the
# others have seen complete (MPI_Bcast, MPI_Reduce, MPI_Gatherv,
# MPI_Scatter(v), and an MPI_Scan in place that rank 1 ends: they kept its
# input, and a restart posts it for rank 1's sake); and at the arrival
# barrier MANA puts before an MPI_Bcast, MPI_Scatter or MPI_Gather of
# 128 KiB per rank, of which it keeps no ghost; and in the MPI_Wait
# of a started persistent MPI_Allreduce_init (a restart starts it again);
# and in the barrier MANA puts before MPI_Comm_create_group and
# MPI_Intercomm_create (a restart starts it again). The
# ranks are held after it, killed with kill -9, and the restart finishes
# the job with the right result (rank 1 stops computing then: its stop
# file exists).
for mode in coll inplace biginplace nbcs rootreduce rootscan rootgatherv split ghostbcast ghostreduce ghostgatherv \
  ghostscatter ghostscatterv ghostscan ghostbigbcast ghostbigscatter ghostbiggather persistent \
  creategroup intercomm; do
  dir=$WORK/$mode.ckpt
  MANA_TEST_CKPT_EXIT=hold start_job $mode "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$dir" "$BUSY" $mode 30 \
    "$WORK/$mode.stop"
  if wait_output $mode computing; then
    sleep 1
    timed_checkpoint "$dir"
    check "$mode: checkpoint with two ranks waiting in a collective and rank 1 computing succeeds in ${ms} ms" \
      test "$rc" -eq 0 -a "$ms" -lt 6000
    kill_lower_halves
    finish_job
    touch "$WORK/$mode.stop"
    timeout "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$RESTART" "$dir" >"$WORK/$mode.restart.out" 2>"$WORK/$mode.restart.err"
    rc=$?
    check "$mode: the restart posts the collective again and ends with the right result (exit $rc)" \
      grep -qx 'result 6' "$WORK/$mode.restart.out"
    [ "$rc" -eq 0 ] || sed 's/^/#   /' "$WORK/$mode.restart.err" | tail -5
  else
    not_ok "$mode: rank 1 started computing under mana-launch"
    finish_job
  fi
done

# (e) Twice before rank 1 gets there: the collectives a restart posted
# again (the application's nonblocking ones, and the ghosts of those the
# others had seen complete) are pending again at the second checkpoint,
# and the second restart posts each of them once more, once.
for mode in nbcs ghostreduce; do
  dir=$WORK/twice.$mode.ckpt
  MANA_TEST_CKPT_EXIT=hold start_job twice.$mode "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$dir" "$BUSY" \
    $mode 60 "$WORK/twice.$mode.stop"
  if wait_output twice.$mode computing && sleep 1 && checkpoint "$dir"; then
    kill_lower_halves
    finish_job
    MANA_TEST_CKPT_EXIT=hold start_job twice.$mode.r1 "$MPIRUN_MPICH" -np $NP "$RESTART" "$dir"
    sleep 2
    timed_checkpoint "$dir"
    check "twice $mode: a second checkpoint of the restarted job, rank 1 still computing, succeeds in ${ms} ms" \
      test "$rc" -eq 0 -a "$ms" -lt 6000 -a "$(cat "$dir/latest")" = gen-000002
    kill_lower_halves
    finish_job
    touch "$WORK/twice.$mode.stop"
    timeout "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$RESTART" "$dir" >"$WORK/twice.$mode.out2" 2>"$WORK/twice.$mode.err2"
    rc=$?
    check "twice $mode: the second restart ends with the right result (exit $rc)" \
      grep -qx 'result 6' "$WORK/twice.$mode.out2"
    [ "$rc" -eq 0 ] || sed 's/^/#   /' "$WORK/twice.$mode.err2" | tail -5
  else
    not_ok "twice $mode: the first checkpoint, with rank 1 computing"
    finish_job
  fi
done

# (c) The others in the MPI_Wait of an MPI_Iallreduce with MPI_IN_PLACE
# on 256 KiB (more than MANA keeps), which rank 1 has not posted: MPI may
# have written into its buffer, so a restart could not post it again; it
# must complete before a checkpoint, which waits for rank 1, and
# mana-ckpt --status says so.
dir=$WORK/big.ckpt
start_job big "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$dir" "$BUSY" nbcinplace 6
if wait_output big computing; then
  sleep 0.5
  timeout 60 "$CKPT" --ckpt-dir "$dir" --checkpoint >"$WORK/big.ckpt.out" 2>&1 &
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
  check "the job's result is right (1+2+3)" grep -qx 'result 6' "$WORK/big.out"
else
  not_ok "rank 1 started computing under mana-launch"
  finish_job
fi

# (d) The job goes on after a checkpoint that left the nonblocking
# collectives pending: MPI still has them, and rank 1 joins them later.
dir=$WORK/goon.ckpt
start_job goon "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$dir" "$BUSY" nbcs 6
if wait_output goon computing; then
  sleep 0.5
  timed_checkpoint "$dir"
  check "goon: the checkpoint leaves the nonblocking collectives pending and succeeds in ${ms} ms" \
    test "$rc" -eq 0 -a "$ms" -lt 6000
  check "goon: rank 1 was still computing after it" bash -c "! grep -q '^result' '$WORK/goon.out'"
  finish_job
  check "goon: the job goes on and every collective gives the right result" grep -qx 'result 6' "$WORK/goon.out"
else
  not_ok "goon: rank 1 started computing under mana-launch"
  finish_job
fi
