#!/usr/bin/env bash
# mana-coordinator and mana-ckpt with real processes: a coordinator in the
# background (--daemon, ephemeral port, temporary CKPT_DIR) and fake ranks
# (coord-fake-rank, which writes an image of a given size on CHECKPOINT
# and reports its size and XXH64). Checks the generation layout (MANIFEST,
# latest, sizes), pruning, the token, a rank failing and a rank killed
# during a checkpoint (no manifest, latest unchanged, exit 1), --status,
# --interval, checkpoint-and-exit, --kill, --exit-when-idle, a rank's
# REQUEST (SIGUSR1), bad clients, and the usage of both commands.
source "$(dirname "$0")/../lib.sh"

COORD=$BUILD/bin/mana-coordinator
CKPT=$BUILD/bin/mana-ckpt
FAKE=$BUILD/tests/bin/coord-fake-rank
for b in "$COORD" "$CKPT" "$FAKE"; do
  if [ ! -x "$b" ]; then
    not_ok "coordinator tools built: $b is missing (make all)"
    exit 0
  fi
done

# Every process started here, to end them (by pid) whatever happens.
STARTED=()
cleanup() {
  local p
  for p in "${STARTED[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_coord NAME OPTS...: a daemon coordinator on CKPT_DIR=$WORK/NAME;
# sets ADDR, TOKEN, CPID.
start_coord() {
  local dir=$WORK/$1
  shift
  local out
  out=$("$COORD" --daemon --ckpt-dir "$dir" "$@" 2>"$WORK/start.err") || {
    echo "# mana-coordinator --daemon failed:"; sed 's/^/#   /' "$WORK/start.err"; return 1; }
  read -r ADDR TOKEN <<<"$out"
  CPID=
  local i
  for i in $(seq 50); do
    CPID=$(sed -nE 's/.*listening on .* \(pid ([0-9]+)\).*/\1/p' "$dir/coordinator.log" 2>/dev/null | tail -1)
    [ -n "$CPID" ] && break
    sleep 0.1
  done
  [ -n "$CPID" ] && STARTED+=("$CPID")
  DAEMON_OUT=$out
}

# start_rank DIRNAME RANK NRANKS OPTS...: a fake rank in the background;
# its pid in RPID, its output in $WORK/DIRNAME.rank-RANK.out.
start_rank() {
  local name=$1 r=$2 n=$3
  shift 3
  "$FAKE" --ckpt-dir "$WORK/$name" --rank "$r" --nranks "$n" "$@" >"$WORK/$name.rank-$r.out" 2>&1 &
  RPID=$!
  STARTED+=("$RPID")
}

# wait_connected DIRNAME N: until --status shows N of N ranks (5 s).
wait_connected() {
  local i
  for i in $(seq 50); do
    "$CKPT" --ckpt-dir "$WORK/$1" --status 2>/dev/null | grep -q "^ranks: $2 of $2 connected" && return 0
    sleep 0.1
  done
  echo "# the $2 ranks of $1 did not all connect:"; "$CKPT" --ckpt-dir "$WORK/$1" --status 2>&1 | sed 's/^/#   /'
  return 1
}

# manifest_ok DIR GEN NRANKS: MANIFEST of GEN is complete, and each rank's
# line names a file that exists with the size it gives.
manifest_ok() {
  local g m
  g=$(printf 'gen-%06d' "$2")
  m=$1/$g/MANIFEST
  [ -f "$m" ] || { echo "# $m is missing"; return 1; }
  head -1 "$m" | grep -qx 'MANA-MANIFEST 1' || { echo "# $m: bad first line"; return 1; }
  grep -qx "generation $2" "$m" || { echo "# $m: no 'generation $2'"; return 1; }
  grep -qx "nranks $3" "$m" || { echo "# $m: no 'nranks $3'"; return 1; }
  grep -qE '^created [0-9]+ [0-9]{4}-[0-9]{2}-[0-9]{2}T' "$m" || { echo "# $m: no creation time"; return 1; }
  tail -1 "$m" | grep -qx end || { echo "# $m: does not end with 'end'"; return 1; }
  [ "$(grep -c '^rank ' "$m")" -eq "$3" ] || { echo "# $m: not $3 rank lines"; return 1; }
  local r file bytes sum total=0
  while read -r _ r file bytes sum; do
    [ "$file" = "$(printf 'rank-%05d.mana' "$r")" ] || { echo "# $m: rank $r names $file"; return 1; }
    [ "$(stat -c %s "$1/$g/$file")" = "$bytes" ] || { echo "# $m: $file is not $bytes bytes"; return 1; }
    [[ $sum =~ ^[0-9a-f]{16}$ ]] || { echo "# $m: bad checksum '$sum'"; return 1; }
    total=$((total + bytes))
  done < <(grep '^rank ' "$m")
  grep -qx "total_bytes $total" "$m" || { echo "# $m: total_bytes is not $total"; return 1; }
}

latest_is() { [ "$(cat "$1/latest" 2>/dev/null)" = "$2" ] || { echo "# latest is '$(cat "$1/latest" 2>/dev/null)', not $2"; return 1; }; }

# wait_exit PID: waits up to 5 s for a child; its status in WSTATUS.
wait_exit() {
  local i
  for i in $(seq 50); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$1" 2>/dev/null; then WSTATUS=timeout; return 1; fi
  wait "$1"
  WSTATUS=$?
}

gone() { # PID: not running within 3 s (not our child: poll)
  local i
  for i in $(seq 30); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

# --- usage ------------------------------------------------------------
expect_status "mana-coordinator --help" 0 "Usage: mana-coordinator" "$COORD" --help
expect_status "mana-ckpt --help" 0 "Usage: mana-ckpt" "$CKPT" --help
expect_status "mana-coordinator --version" 0 "^mana-coordinator 0\\.1\\.0$" "$COORD" --version
expect_status "mana-ckpt without an action: usage, exit 2" 2 "say what to do" "$CKPT"
expect_status "mana-ckpt --exit without --checkpoint: exit 2" 2 "--exit goes with --checkpoint" "$CKPT" --exit
expect_status "mana-ckpt --coord without a token: exit 2" 2 "needs the job's token" \
  env -u MANA_COORD_TOKEN "$CKPT" --coord 127.0.0.1:1 --status
expect_status "mana-coordinator bad option value: exit 2" 2 "bad value 'x' for --port" "$COORD" --port x
expect_status "mana-ckpt without a coordinator file: exit 3" 3 \
  "cannot read the coordinator's address from .*nojob/\\.coordinator .*No such file" \
  "$CKPT" --ckpt-dir "$WORK/nojob" --status
expect_status "mana-ckpt, nothing listening: exit 3" 3 \
  "cannot reach the coordinator at 127\\.0\\.0\\.1:1 \\(connection refused\\); is the job running\\?" \
  "$CKPT" --coord 127.0.0.1:1 --token 0123456789abcdef0123456789abcdef --status

# --- job A: 4 ranks, --keep 2, --exit-when-idle ------------------------
A=$WORK/a
if ! start_coord a --keep 2 --exit-when-idle; then
  not_ok "start the coordinator of job A"; exit 0
fi
check "--daemon prints HOST:PORT TOKEN" grep -qE '^127\.0\.0\.1:[0-9]+ [0-9a-f]{32}$' <<<"$DAEMON_OUT"
check "address file holds what --daemon printed" test "$(cat "$A/.coordinator")" = "$DAEMON_OUT"
check "address file is mode 0600" test "$(stat -c %a "$A/.coordinator")" = 600
check "checkpoint directory is mode 0700" test "$(stat -c %a "$A")" = 700
check "the coordinator runs in the background" kill -0 "$CPID"
APID=$CPID AADDR=$ADDR ATOKEN=$TOKEN
expect_status "a second coordinator on the same directory is refused" 1 "another coordinator is running for .*$A" \
  "$COORD" --ckpt-dir "$A"

declare -a ARANK
for r in 0 1 2 3; do
  start_rank a $r 4 --size $((1000 * (r + 1)))
  ARANK[r]=$RPID
done
wait_connected a 4 || not_ok "4 ranks of job A connect"

expect_status "--status before any checkpoint" 0 "latest complete generation: none" "$CKPT" --ckpt-dir "$A" --status
expect_status "--checkpoint writes generation 1" 0 \
  "checkpoint generation 1 written to $A/gen-000001: 4 ranks, 10000 bytes" "$CKPT" --ckpt-dir "$A" --checkpoint
check "generation 1: MANIFEST matches the images" manifest_ok "$A" 1 4
check "generation 1: latest names it" latest_is "$A" gen-000001
check "no temporary file left" test -z "$(find "$A" -name '*.tmp*')"
expect_status "--status shows the ranks" 0 "ranks: 4 of 4 connected" "$CKPT" --ckpt-dir "$A" --status
expect_status "--status shows the latest generation" 0 "latest complete generation: 1 \\($A/gen-000001\\)" \
  "$CKPT" --ckpt-dir "$A" --status
expect_status "--status shows --keep" 0 "keep: 2 newest" "$CKPT" --ckpt-dir "$A" --status
expect_status "--coord and --token reach it too" 0 "checkpoint generation 2 written to $A/gen-000002" \
  "$CKPT" --coord "$AADDR" --token "$ATOKEN" --checkpoint
check "generation 2: MANIFEST and latest" eval 'manifest_ok "$A" 2 4 && latest_is "$A" gen-000002'
expect_status "MANA_COORD and MANA_COORD_TOKEN reach it" 0 "checkpoint generation 3 written" \
  env MANA_COORD="$AADDR" MANA_COORD_TOKEN="$ATOKEN" MANA_CKPT_DIR="$WORK/nojob" "$CKPT" --checkpoint
check "--keep 2: generation 1 pruned, 2 and 3 kept" \
  test ! -e "$A/gen-000001" -a -f "$A/gen-000002/MANIFEST" -a -f "$A/gen-000003/MANIFEST"
check "pruning is logged" grep -q "pruned gen-000001 (--keep 2)" "$A/coordinator.log"
check "a complete generation is logged with the time it took" \
  grep -qE "generation 1 complete: .* bytes, MANIFEST written, latest is gen-000001; took [0-9]+\\.[0-9]{3} s$" "$A/coordinator.log"

expect_status "wrong token: exit 3" 3 "refused this client: wrong token" \
  "$CKPT" --coord "$AADDR" --token ffffffffffffffffffffffffffffffff --status
check "wrong token is logged" grep -q "rejected 127.0.0.1:[0-9]*: wrong token" "$A/coordinator.log"

# Bad clients: no HELLO, a line over the limit. Each is closed and logged;
# the job goes on.
port=${AADDR##*:}
(exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'STATUS\n' >&3 && cat <&3 >/dev/null) 2>/dev/null
check "a client without HELLO is closed and logged" grep -q "its first message is STATUS, not HELLO" "$A/coordinator.log"
(exec 3<>"/dev/tcp/127.0.0.1/$port" && head -c 10000 /dev/zero | tr '\0' a >&3 && cat <&3 >/dev/null) 2>/dev/null
check "an over-long line is refused and logged" grep -q "line longer than" "$A/coordinator.log"
expect_status "the job still answers after bad clients" 0 "ranks: 4 of 4 connected" "$CKPT" --ckpt-dir "$A" --status

# Checkpoint and exit: the ranks exit 0 only once the MANIFEST exists
# (the fake rank checks it when told EXIT, and exits 5 if it is missing).
expect_status "--checkpoint --exit" 0 "checkpoint generation 4 written to $A/gen-000004" \
  "$CKPT" --ckpt-dir "$A" --checkpoint --exit
check "--checkpoint --exit says the ranks exit" grep -q "^the ranks were told to exit$" "$WORK/expect.out"
bad=0
for r in 0 1 2 3; do
  wait_exit "${ARANK[r]}"
  if [ "$WSTATUS" != 0 ]; then echo "# rank $r: exit $WSTATUS"; sed 's/^/#   /' "$WORK/a.rank-$r.out"; bad=1; fi
  grep -q "exit after generation 4 (MANIFEST present)" "$WORK/a.rank-$r.out" || bad=1
done
check "--exit: every rank exits 0 after the MANIFEST exists" test $bad = 0
check "--exit: generation 4 is latest" latest_is "$A" gen-000004
check "--exit-when-idle: the coordinator exits when the ranks have left" gone "$APID"
check "--exit-when-idle: the address file is removed" test ! -e "$A/.coordinator"

# --- job B: a rank failing, a rank killed, busy, --kill ------------------
B=$WORK/b
if ! start_coord b --nranks 4; then
  not_ok "start the coordinator of job B"; exit 0
fi
BPID=$CPID
declare -a BRANK
start_rank b 0 4 --size 5000; BRANK[0]=$RPID
start_rank b 1 4 --size 5000 --delay-ms 1500; BRANK[1]=$RPID
start_rank b 2 4 --size 5000 --fail-gen 2; BRANK[2]=$RPID
start_rank b 3 4 --size 5000; BRANK[3]=$RPID
wait_connected b 4 || not_ok "4 ranks of job B connect"
expect_status "job B: generation 1" 0 "checkpoint generation 1 written" "$CKPT" --ckpt-dir "$B" --checkpoint
expect_status "a rank reports failure: exit 1 naming the rank and cause" 1 \
  "generation 2 failed: rank 2 \\(pid [0-9]+ on .*\\) could not write its image: simulated failure" \
  "$CKPT" --ckpt-dir "$B" --checkpoint
cp "$WORK/expect.out" "$WORK/fail.out"
check "failure message names the latest generation" grep -q "latest complete generation is still gen-000001" "$WORK/fail.out"
check "failure message names the .failed directory" grep -q "what was written is in $B/gen-000002.failed" "$WORK/fail.out"
check "failed generation: no MANIFEST" test ! -e "$B/gen-000002/MANIFEST" -a ! -e "$B/gen-000002.failed/MANIFEST"
check "failed generation: renamed gen-000002.failed" test -d "$B/gen-000002.failed"
check "failed generation: latest unchanged" latest_is "$B" gen-000001
check "failed generation: the ranks resume with ok=0" grep -q "resumed after generation 2 ok=0" "$WORK/b.rank-0.out"

# A rank killed while it writes (rank 1 takes 1.5 s).
"$CKPT" --ckpt-dir "$B" --checkpoint >"$WORK/kill9.out" 2>&1 &
ck=$!
sleep 0.5
expect_status "a second checkpoint while one runs: busy, exit 1" 1 "is busy: generation 3 is being written" \
  "$CKPT" --ckpt-dir "$B" --checkpoint
kill -9 "${BRANK[1]}"
{ wait "${BRANK[1]}"; } 2>/dev/null
wait "$ck"
rc=$?
check "rank killed during the checkpoint: mana-ckpt exits 1" test $rc = 1
check "rank killed: the message names the rank" grep -q "generation 3 failed: rank 1 .* disconnected during the checkpoint" \
  "$WORK/kill9.out"
check "rank killed: no MANIFEST" test ! -e "$B/gen-000003/MANIFEST" -a ! -e "$B/gen-000003.failed/MANIFEST"
check "rank killed: latest unchanged" latest_is "$B" gen-000001
expect_status "a checkpoint with a rank missing is refused" 1 "only 3 of 4 ranks are connected" \
  "$CKPT" --ckpt-dir "$B" --checkpoint
expect_status "--kill tells the ranks to exit" 0 "told 3 ranks to exit now" "$CKPT" --ckpt-dir "$B" --kill
bad=0
for r in 0 2 3; do
  wait_exit "${BRANK[r]}"
  [ "$WSTATUS" = 4 ] && grep -q "rank $r: killed" "$WORK/b.rank-$r.out" || { echo "# rank $r: exit $WSTATUS"; bad=1; }
done
check "--kill: every rank got KILL" test $bad = 0
kill -TERM "$BPID"
check "SIGTERM stops the coordinator" gone "$BPID"
check "SIGTERM: the address file is removed" test ! -e "$B/.coordinator"
check "the log names the failed generations" grep -q "generation 2 failed: rank 2" "$B/coordinator.log"

# --- job C: --interval, and a rank's REQUEST (SIGUSR1) ------------------
C=$WORK/c
if ! start_coord c --interval 1 --exit-when-idle; then
  not_ok "start the coordinator of job C"; exit 0
fi
CPID_C=$CPID
start_rank c 0 2 --size 100; C0=$RPID
start_rank c 1 2 --size 100; C1=$RPID
wait_connected c 2 || not_ok "2 ranks of job C connect"
sleep 3
n=$(find "$C" -name MANIFEST | wc -l)
check "--interval 1 writes generations ($n in 3 s)" test "$n" -ge 2
expect_status "--status shows the interval" 0 "interval: 1 s" "$CKPT" --ckpt-dir "$C" --status
expect_status "--interval 0 turns it off" 0 "periodic checkpoints turned off" "$CKPT" --ckpt-dir "$C" --interval 0
sleep 0.3
n1=$(find "$C" -name MANIFEST | wc -l)
sleep 1.5
n2=$(find "$C" -name MANIFEST | wc -l)
check "--interval 0: no more generations" test "$n1" = "$n2"
kill -USR1 "$C0"
wait_exit "$C0"; s0=$WSTATUS
wait_exit "$C1"; s1=$WSTATUS
check "SIGUSR1 on a rank: checkpoint, then every rank exits 0" test "$s0/$s1" = 0/0
check "SIGUSR1: the last generation is complete and latest" \
  eval 'manifest_ok "$C" $((n2 + 1)) 2 && latest_is "$C" $(printf gen-%06d $((n2 + 1)))'
check "job C's coordinator exits when idle" gone "$CPID_C"

# --- job D: a rank that reports a size its file does not have -----------
D=$WORK/d
if ! start_coord d; then
  not_ok "start the coordinator of job D"; exit 0
fi
DPID=$CPID
start_rank d 0 1 --size 100 --lie-size; D0=$RPID
wait_connected d 1 || not_ok "the rank of job D connects"
expect_status "a size that does not match the file fails the generation" 1 \
  "generation 1 failed: rank 0 reported 101 bytes, but $D/gen-000001/rank-00000.mana has 100" \
  "$CKPT" --ckpt-dir "$D" --checkpoint
check "size mismatch: no MANIFEST, no latest" test ! -e "$D/gen-000001.failed/MANIFEST" -a ! -e "$D/latest"
expect_status "--kill with one rank" 0 "told 1 ranks to exit now" "$CKPT" --ckpt-dir "$D" --kill
wait_exit "$D0"
check "job D's rank got KILL" test "$WSTATUS" = 4
kill -TERM "$DPID"
check "job D's coordinator stops on SIGTERM" gone "$DPID"
