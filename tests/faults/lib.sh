# Helpers of the fault-injection harness (sourced by tests/faults/fault_*.sh
# after tests/lib.sh and tests/ckpt_lib.sh). docs/reliability.md has the
# matrix. Every case breaks something at one point of a checkpoint or a
# restart by real means (kill -9, a full or unwritable file system), then
# checks the one invariant: the last good checkpoint is intact, `latest`
# names a complete generation, and mana-restart from the directory runs
# the program to the native run's end.
#
# The programs come from build/faults/ (`make faults-tree`): the lower
# half and coordinator there obey MANA_TEST_FAULT (include/mana/
# test_faults.h), which stops or kills them at an exact phase.
#
# FAULTS=all runs every case; FAULTS=sample (what `make check` does) only
# those marked sample.

FT=$BUILD/faults
MANA_LAUNCH=$FT/bin/mana-launch
RESTART=$FT/bin/mana-restart
CKPT=$FT/bin/mana-ckpt
INSPECT=$FT/bin/mana-inspect
NP=2
STEPS=${FAULT_STEPS:-12}
ROUNDS=${FAULT_ROUNDS:-3} # million mixing rounds per step: about 0.1 s on an idle core here
FAULTS=${FAULTS:-all}
# Where the timings go, one line per case (make check-faults collects them).
FAULT_TIMES=${FAULT_TIMES:-/dev/null}

require_fault_tree() {
  local b
  for b in "$MANA_LAUNCH" "$RESTART" "$CKPT" "$INSPECT" "$FT/bin/mana-coordinator" \
    "$FT/libexec/mana/mana-lh-mpich" "$PROG"; do
    if [ ! -x "$b" ]; then
      not_ok "fault tree built: $b is missing (make all test-programs faults-tree)"
      exit 0
    fi
  done
}

MOUNTS=()
IMMUTABLE=()
cleanup() {
  local p m
  for p in "${STARTED[@]}"; do kill_tree "$p"; done
  case_procs_kill "$WORK"
  for m in "${IMMUTABLE[@]}"; do chattr -i "$m" 2>/dev/null; done
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

wanted() { # TAG: whether a case tagged TAG (sample or full) runs now
  [ "$FAULTS" = all ] || [ "$1" = sample ]
}

# FAULT_ONLY=REGEX runs only the cases whose name matches (to debug one).
only() { [ -z "${FAULT_ONLY:-}" ] || [[ $1 =~ $FAULT_ONLY ]]; }

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Every process whose command line names DIR (the ranks name their output
# files, the coordinator its checkpoint directory): ends them.
case_procs() { pgrep -f -- "$1/" 2>/dev/null | grep -vx "$$"; }
case_procs_kill() {
  local p
  p=$(case_procs "$1")
  # shellcheck disable=SC2086
  [ -n "$p" ] && kill -9 $p 2>/dev/null
  return 0
}

# no_procs_left DIR: within 10 s no process of the case runs any more (a
# stopped rank, an orphaned coordinator); those left are then killed.
no_procs_left() {
  local i p
  for i in $(seq 100); do
    p=$(case_procs "$1")
    [ -z "$p" ] && return 0
    sleep 0.1
  done
  echo "# still running 10 s after the job ended:"
  # shellcheck disable=SC2086
  ps -o pid=,stat=,args= -p $(echo $p | tr ' ' ',') | cut -c1-160 | sed 's/^/#   /'
  case_procs_kill "$1"
  return 1
}

# The native run every case is compared with.
native_reference() {
  mkdir -p "$WORK/native.files"
  if ! run_native $NP "$PROG" $STEPS "$WORK/native.files/out" $ROUNDS >"$WORK/native.out" 2>"$WORK/native.err"; then
    not_ok "native run of ckpt_compute"; sed 's/^/#   /' "$WORK/native.err" | tail -5
    exit 0
  fi
  NATIVE=$WORK/native.out
  FINAL=$(grep '^final checksum' "$NATIVE")
}

# start_case NAME: the job under mana-launch (MANA_TEST_FAULT as the
# caller exported it), its directory $WORK/NAME, checkpoints in $D. With
# CASE_TMPFS=SIZE, $D is on a tmpfs of that size mounted for the case
# (MNT; unmounted by end_case).
start_case() {
  CASE=$1
  CD=$WORK/$1
  D=$CD/ck
  MNT=
  mkdir -p "$CD/files"
  if [ -n "${CASE_TMPFS:-}" ]; then
    MNT=$CD/mnt
    mkdir -p "$MNT"
    mount -t tmpfs -o "size=$CASE_TMPFS,mode=0700" tmpfs "$MNT" || return 1
    MOUNTS+=("$MNT")
    D=$MNT/ck
  fi
  start_job "$1" "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$D" "$PROG" $STEPS "$CD/files/out" $ROUNDS
}

# marks N: waits (30 s) for N "mana-test-fault: ... stopped" lines from the
# job and its coordinator; their pids in MARKED.
marks() {
  local i n
  for i in $(seq 300); do
    n=$(cat "$WORK/$CASE.err" "$D/coordinator.log" 2>/dev/null | grep -c '^mana-test-fault: .* stopped pid')
    [ "$n" -ge "$1" ] && break
    sleep 0.1
  done
  MARKED=$(cat "$WORK/$CASE.err" "$D/coordinator.log" 2>/dev/null | sed -n 's/^mana-test-fault: .* stopped pid \([0-9]*\) .*/\1/p')
  [ "$n" -ge "$1" ] && return 0
  echo "# $CASE: $n of $1 processes reached the fault point:"
  sed 's/^/#   /' "$WORK/$CASE.err" | tail -5
  return 1
}

coord_pid() { # the pid of the newest coordinator of $D
  sed -n 's/.*listening on .* (pid \([0-9]*\)), checkpoint directory.*/\1/p' "$D/coordinator.log" 2>/dev/null | tail -1
}
mpirun_pid() { pgrep -P "$JOB" | head -1; }

# What a case does once the marked processes are stopped.
hit_ranks() { # kill -9 every stopped rank
  # shellcheck disable=SC2086
  kill -9 $MARKED
}
hit_mpirun() { # kill -9 the launcher; the stopped ranks are left to it
  kill -9 "$(mpirun_pid)"
}
hit_coord() { # kill -9 the coordinator, then let the stopped ranks go on
  kill -9 "$(coord_pid)"
  # shellcheck disable=SC2086
  kill -CONT $MARKED
}
hit_none() { :; }
rank_pids() { pgrep -f -- "mana-lh-mpich.*$CD/files/out"; }
hit_ranks_cont() { # kill -9 every rank, then let the stopped coordinator go on
  # shellcheck disable=SC2046
  kill -9 $(rank_pids)
  sleep 0.5
  # shellcheck disable=SC2086
  kill -CONT $MARKED
}

# snapshot: checksums of generation 1, to compare after the fault.
snapshot() {
  (cd "$D" && sha256sum gen-000001/*) >"$CD/gen1.sum" 2>&1
}
gen1_unchanged() {
  (cd "$D" && sha256sum -c --quiet "$CD/gen1.sum") >"$CD/gen1.check" 2>&1 && return 0
  echo "# generation 1 changed:"; sed 's/^/#   /' "$CD/gen1.check" | head -5
  return 1
}

# gens_sound: every generation with a MANIFEST verifies, image by image
# (a complete generation is never a broken one), and latest names one.
gens_sound() {
  local m g r img
  for m in "$D"/gen-*/MANIFEST; do
    [ -e "$m" ] || continue
    g=$(dirname "$m")
    case $g in *.failed) echo "# $g is failed but has a MANIFEST"; return 1 ;; esac
    for r in $(seq 0 $((NP - 1))); do
      img=$g/$(printf 'rank-%05d.mana' "$r")
      if ! "$INSPECT" --verify "$img" >"$CD/inspect.out" 2>&1; then
        echo "# $img of a complete generation does not verify:"; sed 's/^/#   /' "$CD/inspect.out" | tail -3
        return 1
      fi
    done
  done
  local l
  l=$(cat "$D/latest" 2>/dev/null)
  [ -f "$D/$l/MANIFEST" ] || { echo "# latest names '$l', which has no MANIFEST"; return 1; }
}

latest_is() { # GEN
  local want
  want=$(printf 'gen-%06d' "$1")
  [ "$(cat "$D/latest" 2>/dev/null)" = "$want" ] && return 0
  echo "# latest is '$(cat "$D/latest" 2>/dev/null)', not $want"
  return 1
}

# restart_ok NAME [OPTIONS]: mana-restart of $D runs to the end: exit 0,
# its stdout the native run's from some step after the checkpointed
# step 2 on, with the native final checksum. Its time in RESTART_S.
restart_ok() {
  local name=$1 t0 first n
  shift
  t0=$(now)
  timeout -k 5 "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$RESTART" "$@" "$D" >"$CD/$name.out" 2>"$CD/$name.err"
  local rc=$?
  RESTART_S=$(secs "$t0" "$(now)")
  if [ "$rc" -ne 0 ]; then
    echo "# mana-restart $* $D exited $rc:"; sed 's/^/#   /' "$CD/$name.err" | tail -8
    return 1
  fi
  ends_natively "$CD/$name.out" "$NATIVE" "$FINAL" 3
}

job_went_on() { # the job survived the fault and printed the native output
  [ "$JST" -eq 0 ] || { echo "# the job exited $JST:"; sed 's/^/#   /' "$WORK/$CASE.err" | tail -6; return 1; }
  same_file "$NATIVE" "$WORK/$CASE.out"
}
job_died() { # the fault ended the job before its end (a kill takes the job down)
  [ "$JST" -ne 0 ] || { echo "# the job exited 0"; return 1; }
  ! grep -q '^final checksum' "$WORK/$CASE.out" || { echo "# the job ran to its end"; return 1; }
}

ckpt_failed() { # PATTERN: the second mana-ckpt exited non-zero and said PATTERN
  [ "$CKPT_RC" -ne 0 ] || { echo "# mana-ckpt exited 0:"; sed 's/^/#   /' "$CD/ckpt2.out"; return 1; }
  grep -qE -- "$1" "$CD/ckpt2.out" && return 0
  echo "# mana-ckpt (exit $CKPT_RC) did not say '$1':"; sed 's/^/#   /' "$CD/ckpt2.out" | tail -5
  return 1
}

# ckpt_fault NAME FAULT MARKS ACTION FATE CKPT_PATTERN [LATEST]
# A job checkpoints generation 1 at step 2, then generation 2 at step 4
# under MANA_TEST_FAULT=FAULT. Once MARKS processes have stopped at the
# fault point (0: the fault kills by itself), ACTION runs (hit_*). Then:
# the second mana-ckpt fails saying CKPT_PATTERN ("" when it must succeed),
# the job dies or goes on (FATE), latest names generation LATEST (1), the
# first generation is unchanged, every complete generation verifies, no
# process is left, and mana-restart finishes the program.
ckpt_fault() {
  local name=$1 fault=$2 nmarks=$3 action=$4 fate=$5 pattern=$6 want_latest=${7:-1}
  local t0 t_ckpt t_job
  only "$name" || return 0
  if ! MANA_TEST_FAULT=$fault start_case "$name"; then
    skip "$name: cannot mount a tmpfs for the checkpoint directory"; return
  fi
  if ! wait_step "$name" 2 || ! checkpoint "$D"; then
    not_ok "$name: generation 1 before the fault"; sed 's/^/#   job: /' "$WORK/$name.err" | tail -8
    kill_tree "$JOB"; end_case; return
  fi
  snapshot
  wait_step "$name" 4 || { not_ok "$name: the job reaches step 4"; kill_tree "$JOB"; return; }
  # CASE_BEFORE: what breaks before generation 2 is asked for.
  [ -n "${CASE_BEFORE:-}" ] && $CASE_BEFORE
  timeout 60 "$CKPT" --ckpt-dir "$D" --checkpoint >"$CD/ckpt2.out" 2>&1 &
  local ck=$!
  STARTED+=("$ck")
  if [ "$nmarks" -gt 0 ]; then
    if ! marks "$nmarks"; then
      not_ok "$name: $fault reached"; kill_tree "$JOB"; case_procs_kill "$CD"; return
    fi
  fi
  t0=$(now)
  $action
  { wait "$ck"; } 2>/dev/null
  CKPT_RC=$?
  t_ckpt=$(now)
  finish_job
  t_job=$(now)
  if [ -n "$pattern" ]; then
    check "$name: mana-ckpt fails, saying why" ckpt_failed "$pattern"
  else
    check "$name: mana-ckpt succeeds" test "$CKPT_RC" -eq 0
  fi
  check "$name: the job $fate" "job_$([ "$fate" = dies ] && echo died || echo went_on)"
  check "$name: no process of the job is left" no_procs_left "$CD"
  check "$name: latest names generation $want_latest" latest_is "$want_latest"
  check "$name: generation 1 is unchanged" gen1_unchanged
  check "$name: every complete generation verifies" gens_sound
  check "$name: mana-restart finishes the program as the native run does" restart_ok restart
  [ -n "${CASE_KEEP:-}" ] || end_case
  sed "s/^/# $name: mana-ckpt said: /" "$CD/ckpt2.out" | grep -v ' started in '
  grep -h 'MANA: ' "$WORK/$name.err" | sort -u | sed "s/^/# $name: the job said: /" | head -4
  local line="$name: mana-ckpt answered $(secs "$t0" "$t_ckpt") s after the fault, the job ended after $(secs "$t0" "$t_job") s, the restart took $RESTART_S s"
  echo "# timing: $line"
  echo "$line" >>"$FAULT_TIMES"
}

end_case() { # after the checks: unmount the case's tmpfs
  case_procs_kill "$CD"
  chattr -R -i "$CD" 2>/dev/null
  [ -n "$MNT" ] && umount "$MNT"
  MNT=
}

fill_fs() { # fills the file system of $D (a file beside it) until it is full
  dd if=/dev/zero of="$(dirname "$D")/filler" bs=64k status=none 2>/dev/null
  return 0
}
