# Helpers for the checkpoint tests that drive a real job step by step
# (sourced after lib.sh): progs/ckpt_compute, which prints "step N of M"
# lines. The caller sets NP and STEPS.

PROG=$BUILD/tests/progs/ckpt_compute
RESTART=$BUILD/bin/mana-restart
CKPT=$BUILD/bin/mana-ckpt
INSPECT=$BUILD/bin/mana-inspect

# Ends the test (as one failure) unless the program and tools are built.
require_ckpt_tools() {
  local b
  for b in "$PROG" "$RESTART" "$CKPT" "$INSPECT" "$MANA_LAUNCH"; do
    if [ ! -x "$b" ]; then
      not_ok "checkpoint tools and test program built: $b is missing (make all test-programs)"
      exit 0
    fi
  done
}

# Every background job started here (the timeout process in front of
# mpirun), to end them by pid whatever happens.
STARTED=()
cleanup() {
  local p
  for p in "${STARTED[@]}"; do kill_tree "$p"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

descendants() { # PID: every process below PID, children first listed
  local c
  for c in $(pgrep -P "$1"); do
    echo "$c"
    descendants "$c"
  done
}

kill_tree() { # PID: kill -9 PID's descendants, then PID
  local pids
  pids=$(descendants "$1")
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  kill -9 "$1" 2>/dev/null
}

# start_job NAME COMMAND...: runs COMMAND (an mpirun line) in the
# background under a timeout, stdout in $WORK/NAME.out, stderr in
# $WORK/NAME.err; its pid (the timeout's) in JOB.
start_job() {
  local name=$1
  shift
  timeout -k 5 "$JOB_TIMEOUT" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  JOB=$!
  STARTED+=("$JOB")
}

# finish_job NAME: waits for the background job; its exit status in JST.
finish_job() {
  { wait "$JOB"; } 2>/dev/null
  JST=$?
}

# wait_step NAME STEP: until $WORK/NAME.out shows STEP (30 s); fails at
# once when the job has ended before that.
wait_step() {
  local i
  for i in $(seq 300); do
    grep -q "^step $2 of " "$WORK/$1.out" 2>/dev/null && return 0
    kill -0 "$JOB" 2>/dev/null || break
    sleep 0.1
  done
  echo "# $1 did not reach step $2:"
  sed 's/^/#   /' "$WORK/$1.out" "$WORK/$1.err" | tail -10
  return 1
}

# kill_lower_halves: kill -9 of the job's ranks (not of mpirun, which
# forwards what they printed).
kill_lower_halves() {
  local p
  for p in $(descendants "$JOB"); do
    [ "$(ps -o comm= -p "$p")" = mana-lh-mpich ] && kill -9 "$p" 2>/dev/null
  done
}

# wait_output NAME TEXT [SECONDS]: until $WORK/NAME.out has TEXT (30 s
# unless SECONDS); fails at once when the job has ended before that.
wait_output() {
  local _
  for _ in $(seq $((${3:-30} * 10))); do
    grep -q "$2" "$WORK/$1.out" 2>/dev/null && return 0
    kill -0 "$JOB" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

launch() { # NAME CKPT_DIR [LAUNCH OPTIONS]: the program under mana-launch
  local name=$1 dir=$2
  shift 2
  mkdir -p "$WORK/$name.files"
  start_job "$name" "${LAUNCH_MPIRUN[@]}" -np $NP "$MANA_LAUNCH" --ckpt-dir "$dir" "$@" "$PROG" $STEPS "$WORK/$name.files/out"
}

# restart_job NAME CKPT_DIR: mana-restart in the background; the
# restored program goes on writing into the files of the run it
# was checkpointed from (it knows them by path).
restart_job() {
  start_job "$1" "${RESTART_MPIRUN[@]}" -np $NP "$RESTART" "$2"
}

checkpoint() { # CKPT_DIR [--exit]: mana-ckpt, output in $WORK/ckpt.out
  timeout 60 "$CKPT" --ckpt-dir "$1" --checkpoint "${@:2}" >"$WORK/ckpt.out" 2>&1
  local rc=$?
  [ "$rc" -eq 0 ] || { echo "# mana-ckpt --checkpoint $2 exited $rc:"; sed 's/^/#   /' "$WORK/ckpt.out" | tail -5; }
  return "$rc"
}

same_file() { # WANT GOT
  cmp -s "$1" "$2" && return 0
  echo "# $2 differs from $1:"
  diff "$1" "$2" | head -8 | sed 's/^/#   /'
  return 1
}

same_rank_files() { # DIR: each rank's file equals the native run's
  local r
  for r in $(seq 0 $((NP - 1))); do
    same_file "$WORK/native.files/out.$r" "$1/out.$r" || return 1
  done
}

job_ok() { # NAME: the job ended with status 0
  [ "$JST" -eq 0 ] && return 0
  echo "# $1 exited $JST:"
  sed 's/^/#   /' "$WORK/$1.err" | tail -10
  return 1
}

# ends_natively OUT NATIVE FINAL MIN_STEP: OUT, the stdout of a restarted
# run, is the end of the native run's stdout NATIVE, from a step at or
# after MIN_STEP (a restart from an older generation prints again the
# steps after it), and holds the native final checksum line FINAL.
ends_natively() {
  local first n
  first=$(head -1 "$1")
  [[ $first =~ ^step\ ([0-9]+)\ of ]] || { echo "# the restart's first line is '$first', not a step"; return 1; }
  [ "${BASH_REMATCH[1]}" -ge "$4" ] || { echo "# the restart began at step ${BASH_REMATCH[1]}, before step $4"; return 1; }
  n=$(wc -l <"$1")
  if ! tail -n "$n" "$2" | cmp -s - "$1"; then
    echo "# the restart's stdout is not the end of the native run's:"
    diff <(tail -n "$n" "$2") "$1" | head -6 | sed 's/^/#   /'
    return 1
  fi
  grep -qxF "$3" "$1" || { echo "# no native final checksum"; return 1; }
}

# The exit status of a job that was checkpointed and told to stop
# (include/mana/exit_status.h): the same from every rank and launcher.
CHECKPOINTED=85

job_checkpointed() { # NAME: the job ended with the checkpointed status
  [ "$JST" -eq "$CHECKPOINTED" ] && return 0
  echo "# $1 exited $JST, not $CHECKPOINTED (checkpointed and stopped):"
  sed 's/^/#   /' "$WORK/$1.err" | tail -10
  return 1
}

gen_ok() { # CKPT_DIR GEN: MANIFEST, latest and every image, each verified
  local g m r
  g=$(printf 'gen-%06d' "$2")
  m=$1/$g/MANIFEST
  [ -f "$m" ] || { echo "# $m is missing"; return 1; }
  grep -qx "nranks $NP" "$m" || { echo "# $m does not say nranks $NP"; return 1; }
  [ "$(cat "$1/latest" 2>/dev/null)" = "$g" ] || { echo "# $1/latest is '$(cat "$1/latest" 2>/dev/null)', not $g"; return 1; }
  for r in $(seq 0 $((NP - 1))); do
    local img
    img=$1/$g/$(printf 'rank-%05d.mana' "$r")
    [ -f "$img" ] || { echo "# $img is missing"; return 1; }
    if ! "$INSPECT" --verify "$img" >"$WORK/inspect.out" 2>&1; then
      echo "# mana-inspect --verify $img failed:"; sed 's/^/#   /' "$WORK/inspect.out" | tail -5; return 1
    fi
    grep -qx "checksums OK" "$WORK/inspect.out" || { echo "# mana-inspect did not say checksums OK"; return 1; }
    grep -qE "rank +$r of $NP" "$WORK/inspect.out" || { echo "# $img is not rank $r of $NP"; return 1; }
  done
}

