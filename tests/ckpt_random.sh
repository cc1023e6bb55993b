# The random-checkpoint harness (sourced after lib.sh and ckpt_lib.sh):
# one program, checkpointed at a random moment while it runs, (a) going on
# after the checkpoint and (b) held stopped after it (MANA_TEST_CKPT_EXIT=
# hold), killed with kill -9 and finished by mana-restart; both must print
# what the native run prints and leave the same files. The moment comes
# from MANA_TEST_CKPT_AT_COLL=N: rank 0 asks the coordinator for a
# checkpoint as it enters its N-th collective, a random one among the
# first AT_RANGE; the other ranks are wherever they are then (inside that
# collective, in point-to-point calls with messages in flight, computing).
# A job with fewer collectives is tried again at an earlier one. Each run
# has its own current directory. Every rank runs with MANA_DEBUG=drain,
# and the figures of each drain are summed in DRAINED_MESSAGES,
# TAKEN_BACK, COMPLETED and LEFT_PENDING (nonblocking collectives left
# pending for a restart to post again), so a caller can tell the drain was exercised.

AT_RANGE=${AT_RANGE:-10}
DRAINED_MESSAGES=0 TAKEN_BACK=0 COMPLETED=0 LEFT_PENDING=0 CHECKPOINTS=0

# ckpt_random_run BIN NAME NP EXIT AT ARGS...: one checkpointed run, EXIT 0
# (go on) or 1 (kill -9 and restart). Leaves $WORK/NAME.out; returns 0 when
# a generation was written and the output and files equal the native
# run's ($WORK/NAME.native, $WORK/NAME.native.cwd), 2 when the job ended
# before any checkpoint (try again), 1 otherwise.
ckpt_random_run() {
  local bin=$1 name=$2 np=$3 exit_after=$4 at=$5
  shift 5
  local dir=$WORK/$name.$exit_after.ckpt cwd=$WORK/$name.$exit_after.cwd run=$name.$exit_after mode=0
  [ "$exit_after" = 1 ] && mode=hold
  rm -rf "$dir" "$cwd"
  mkdir -p "$cwd"
  cd "$cwd" || return 1
  MANA_DEBUG=drain MANA_TEST_CKPT_AT_COLL=$at MANA_TEST_CKPT_EXIT=$mode \
    start_job "$run" "${LAUNCH_MPIRUN[@]}" -np "$np" "$MANA_LAUNCH" --ckpt-dir "$dir" "$bin" "$@"
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
      case "$(ps -o comm= -p "$p")" in mana-lh-*) kill -9 "$p" 2>/dev/null ;; esac
    done
  fi
  finish_job
  [ -f "$dir/latest" ] || return 2
  drain_figures "$WORK/$run.err"
  if [ "$exit_after" = 1 ]; then
    # mpirun's report of the killed ranks ends the killed run's stdout.
    awk '{ line[NR] = $0 } END { n = NR; for (i = 1; i < NR; i++) if (line[i] == "" && line[i + 1] ~ /^=====/) { n = i - 1; break }
           for (i = 1; i <= n; i++) print line[i] }' "$WORK/$run.out" >"$WORK/$run.killed" && mv "$WORK/$run.killed" "$WORK/$run.out"
    (cd "$cwd" && MANA_DEBUG=drain timeout "$JOB_TIMEOUT" "${RESTART_MPIRUN[@]}" -np "$np" "$BUILD/bin/mana-restart" "$dir") \
      >>"$WORK/$run.out" 2>>"$WORK/$run.err" || return 1
  else
    [ "$JST" -eq 0 ] || return 1
  fi
  cmp -s "$WORK/$run.out" "$WORK/$name.native" && diff -r "$WORK/$name.native.cwd" "$cwd" >/dev/null
}

# drain_figures ERRFILE: adds what the ranks' drains reported.
drain_figures() {
  local m t c l
  read -r m t c l < <(awk '/MANA_DEBUG=drain: rank [0-9]+: drained;/ {
      for (i = 1; i <= NF; i++) { if ($(i+1) == "messages") m += $i; if ($(i+1) == "receives") t += $i;
                                 if ($(i+1) == "requests") c += $i; if ($(i+1) == "collectives") l += $i } }
      END { print m + 0, t + 0, c + 0, l + 0 }' "$1")
  DRAINED_MESSAGES=$((DRAINED_MESSAGES + m)) TAKEN_BACK=$((TAKEN_BACK + t)) COMPLETED=$((COMPLETED + c))
  LEFT_PENDING=$((LEFT_PENDING + l))
}

# ckpt_random_program BIN NAME NP ARGS...: the native run, then (a) and (b)
# above, each reported as one ok/not ok line.
ckpt_random_program() {
  local bin=$1 name=$2 np=$3
  shift 3
  mkdir -p "$WORK/$name.native.cwd"
  (cd "$WORK/$name.native.cwd" && run_native "$np" "$bin" "$@") >"$WORK/$name.native" 2>"$WORK/$name.native.err"
  local native_rc=$?
  if [ "$native_rc" -ne 0 ]; then
    not_ok "$name: native run with $np ranks failed (exit $native_rc)"
    tail -5 "$WORK/$name.native" "$WORK/$name.native.err" | sed 's/^/#   /'
    return
  fi
  local exit_after what at result tries
  for exit_after in 0 1; do
    what=$([ "$exit_after" = 1 ] && echo "checkpoint, kill -9 and restart" || echo "checkpoint and go on")
    at=$((RANDOM % AT_RANGE)) result=2 tries=0
    while [ $result = 2 ] && [ $tries -lt 3 ]; do
      ckpt_random_run "$bin" "$name" "$np" "$exit_after" "$at" "$@"
      result=$?
      tries=$((tries + 1))
      [ $result = 2 ] && at=$((at / 4))
    done
    [ $result = 2 ] || CHECKPOINTS=$((CHECKPOINTS + 1))
    case $result in
      0) ok "$name ($np ranks): $what at rank 0's collective $at, output equals native" ;;
      2) not_ok "$name ($np ranks): $what: the job ended before any checkpoint in $tries tries" ;;
      *) not_ok "$name ($np ranks): $what at rank 0's collective $at: output differs from native or a run failed"
         diff "$WORK/$name.native" "$WORK/$name.$exit_after.out" | head -6 | sed 's/^/#   /'
         grep -v 'MANA_DEBUG=drain' "$WORK/$name.$exit_after.err" | tail -8 | sed 's/^/#   /' ;;
    esac
  done
}

# ckpt_random_between FROM TO DIR LABEL EXAMPLES...: ckpt_random_program
# with 4 ranks for each program EXAMPLE of DIR, launched under FROM's
# mpirun and restarted under TO's (mpich or openmpi); each line starts
# with LABEL and says which way.
ckpt_random_between() {
  read -ra LAUNCH_MPIRUN <<<"$(mpirun_of "$1")"
  read -ra RESTART_MPIRUN <<<"$(mpirun_of "$2")"
  local from=$1 to=$2 dir=$3 label=$4 ex
  shift 4
  for ex in "$@"; do
    [ -x "$dir/$ex" ] || { skip "$label$ex: not built in $dir"; continue; }
    ckpt_random_program "$dir/$ex" "$ex.$from-$to" 4 | sed "s/^\(ok\|not ok\) - /&$label$from to $to: /"
  done
}
