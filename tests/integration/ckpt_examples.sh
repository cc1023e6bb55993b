#!/usr/bin/env bash
# Every example, 4 ranks, checkpointed at a random moment
# while it runs (issue 5, acceptance 1): (a) the job goes on and prints
# what the native run prints; (b) the ranks stay stopped after the
# checkpoint (MANA_TEST_CKPT_EXIT=hold) and are killed with kill -9, and
# mana-restart finishes the job: both runs together print what the
# native run prints. The moment comes from MANA_TEST_CKPT_AT_COLL=N: rank 0 asks
# the coordinator for a checkpoint as it enters its N-th collective, a
# random one among the first ten; the other ranks are wherever they are
# then (inside that collective, in point-to-point calls, computing). A job
# with fewer collectives is tried again at an earlier one. Each run has
# its own current directory, where files_io keeps its files; they must
# end equal to the native run's.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"

examples=${CKPT_EXAMPLES:-"jacobi hello ring collectives comm_topo comm_create topologies intercomm datatypes_op
  datatypes_all groups attributes errhandlers info_misc threads_pthreads threads_openmp threads_resident signals_in_mpi files_io"}
np=4
RANDOM=$$

# One checkpointed run of EXAMPLE: continue (EXIT 0) or exit+restart (EXIT 1).
# Prints nothing; leaves $WORK/$name.out and returns 0 when a generation was
# written and the output equals the native run's, 2 when the job ended before
# any checkpoint (try again), 1 otherwise.
ckpt_run() {
  local ex=$1 exit_after=$2 at=$3 name=$1.$2
  local dir=$WORK/$name.ckpt cwd=$WORK/$name.cwd args=() mode=0
  [ "$ex" = jacobi ] && args=(100)
  [ "$exit_after" = 1 ] && mode=hold
  rm -rf "$dir" "$cwd"
  mkdir -p "$cwd"
  cd "$cwd" || return 1
  MANA_TEST_CKPT_AT_COLL=$at MANA_TEST_CKPT_EXIT=$mode \
    start_job "$name" "$MPIRUN_MPICH" -np $np "$MANA_LAUNCH" --ckpt-dir "$dir" "$BUILD/examples/$ex" "${args[@]}"
  cd "$TOP" || return 1
  if [ "$exit_after" = 1 ]; then
    # Held stopped after the checkpoint: kill -9 every rank (not mpirun,
    # which forwards what the ranks printed before) once it is durable.
    local _ p
    for _ in $(seq 1200); do
      [ -e "$dir/latest" ] && break
      kill -0 "$JOB" 2>/dev/null || break
      sleep 0.05
    done
    for p in $(descendants "$JOB"); do
      [ "$(ps -o comm= -p "$p")" = mana-lh-mpich ] && kill -9 "$p" 2>/dev/null
    done
  fi
  finish_job
  [ -f "$dir/latest" ] || return 2
  if [ "$exit_after" = 1 ]; then
    # mpirun's report of the killed ranks ends the killed run's stdout.
    awk '{ line[NR] = $0 } END { n = NR; for (i = 1; i < NR; i++) if (line[i] == "" && line[i + 1] ~ /^=====/) { n = i - 1; break }
           for (i = 1; i <= n; i++) print line[i] }' "$WORK/$name.out" >"$WORK/$name.killed" && mv "$WORK/$name.killed" "$WORK/$name.out"
    (cd "$cwd" && timeout "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $np "$BUILD/bin/mana-restart" "$dir") \
      >>"$WORK/$name.out" 2>>"$WORK/$name.err" || return 1
  else
    [ "$JST" -eq 0 ] || return 1
  fi
  cmp -s "$WORK/$name.out" "$WORK/$ex.native" && diff -r "$WORK/$ex.native.cwd" "$cwd" >/dev/null
}

for ex in $examples; do
  args=()
  [ "$ex" = jacobi ] && args=(100)
  mkdir -p "$WORK/$ex.native.cwd"
  if ! (cd "$WORK/$ex.native.cwd" && run_native $np "$BUILD/examples/$ex" "${args[@]}") >"$WORK/$ex.native" 2>/dev/null; then
    not_ok "$ex: native run failed"
    continue
  fi
  for exit_after in 0 1; do
    what=$([ $exit_after = 1 ] && echo "checkpoint, kill -9 and restart" || echo "checkpoint and go on")
    at=$((RANDOM % 10)) result=2 tries=0
    while [ $result = 2 ] && [ $tries -lt 3 ]; do
      ckpt_run "$ex" $exit_after $at
      result=$?
      tries=$((tries + 1))
      [ $result = 2 ] && at=$((at / 4))
    done
    case $result in
      0) ok "$ex: $what at rank 0's collective $at, output equals native" ;;
      2) not_ok "$ex: $what: the job ended before any checkpoint in $tries tries" ;;
      *) not_ok "$ex: $what at rank 0's collective $at: output differs from native or a run failed"
         diff "$WORK/$ex.native" "$WORK/$ex.$exit_after.out" | head -6 | sed 's/^/#   /'
         sed 's/^/#   /' "$WORK/$ex.$exit_after.err" | tail -8 ;;
    esac
  done
done
