#!/usr/bin/env bash
# Bad clients against a real job's coordinator (issue 9, acceptance 3):
# a wrong token, no token, garbage bytes, a 1 GiB length prefix followed
# by a line without end, 1,000 idle connections and a client that sends
# one byte a second (coordinator_abuse.py). Each is refused, closed and
# logged in coordinator.log; while the idle and slow connections are held
# the job still checkpoints, and again afterwards; the coordinator's
# resident memory grows by less than 16 MiB. The job runs with a limit of
# 128 open files, so 1,000 idle connections are more than the
# coordinator may hold: it must drop the oldest idle ones rather than
# stop accepting (mana-ckpt then waited behind them for minutes).
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../ckpt_lib.sh"
NP=2
STEPS=100000 # never reached: the job is killed at the end, and must outlast the abuse on any machine
ROUNDS=1.5
NOFILE=128
RSS_BOUND_KB=$((16 * 1024))
require_ckpt_tools
if ! command -v python3 >/dev/null; then
  skip "bad clients: python3 is not installed"
  exit 0
fi

D=$WORK/ckpt-abuse
mkdir -p "$WORK/a.files"
# shellcheck disable=SC2016
start_job a bash -c 'ulimit -n '$NOFILE' && exec "$@"' limited \
  "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$D" "$PROG" $STEPS "$WORK/a.files/out" $ROUNDS
if ! wait_step a 1 || ! checkpoint "$D"; then
  not_ok "generation 1 of the job before the bad clients"
  exit 0
fi
CPID=$("$CKPT" --ckpt-dir "$D" --status | sed -nE 's/^coordinator: .* \(pid ([0-9]+)\)$/\1/p')
ADDR=$(cut -d' ' -f1 "$D/.coordinator")
check "the coordinator runs with a limit of $NOFILE open files" \
  grep -qE "^Max open files +$NOFILE +$NOFILE " "/proc/$CPID/limits"
rss() { sed -nE 's/^VmRSS:\s+([0-9]+) kB/\1/p' "/proc/$CPID/status"; }
RSS0=$(rss)

mkdir -p "$WORK/state"
python3 "$(dirname "$0")/coordinator_abuse.py" "${ADDR%:*}" "${ADDR##*:}" "$WORK/state" >"$WORK/py.out" 2>&1 &
PY=$!
STARTED+=("$PY")
for i in $(seq 600); do
  [ -e "$WORK/state/holding" ] && break
  kill -0 "$PY" 2>/dev/null || break
  sleep 0.1
done
HELD_AT=$(date +%s.%N)
RSS1=$(rss)
expect_status "a checkpoint while 1,000 idle connections and a slow client are held" 0 \
  "checkpoint generation 2 written" "$CKPT" --ckpt-dir "$D" --checkpoint --timeout 20
CKPT_S=$(awk -v a="$HELD_AT" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
check "generation 2 complete" gen_ok "$D" 2
# Past the 10 s HELLO deadline of every held connection.
sleep "$(awk -v a="$HELD_AT" -v b="$(date +%s.%N)" 'BEGIN { d = 11.5 - (b - a); printf "%.2f\n", (d > 0 ? d : 0) }')"
RSS2=$(rss)
touch "$WORK/state/release"
wait "$PY"
grep -E '^(ok|not ok|skip) - ' "$WORK/py.out"
grep -vE '^(ok|not ok|skip) - ' "$WORK/py.out" | sed 's/^/# /' | head -10
# shellcheck disable=SC1090
source <(sed -E 's/^([a-z_]+) (.*)$/\1=\2/' "$WORK/state/result" 2>/dev/null)
check "every idle connection was closed by the coordinator (${idle_closed:-?} of 1000)" test "${idle_closed:-0}" -eq 1000
check "the slow client was closed at its HELLO deadline (after ${slow_closed_at:-?} s, ${slow_sent:-?} bytes)" \
  awk -v t="${slow_closed_at:-never}" 'BEGIN { exit !(t != "never" && t >= 9 && t <= 13) }'
expect_status "a checkpoint after the bad clients" 0 "checkpoint generation 3 written" \
  "$CKPT" --ckpt-dir "$D" --checkpoint --timeout 20
RSS3=$(rss)
MAXRSS=$(printf '%s\n' "$RSS0" "$RSS1" "$RSS2" "$RSS3" | sort -n | tail -1)
echo "# coordinator VmRSS: ${RSS0} kB before, ${RSS1} kB with the connections open, ${RSS2} kB after 11 s, ${RSS3} kB at the end; checkpoint during the abuse answered ${CKPT_S} s after the connections were open"
check "the coordinator's memory grows by less than $((RSS_BOUND_KB / 1024)) MiB ($(((MAXRSS - RSS0))) kB)" \
  test $((MAXRSS - RSS0)) -lt $RSS_BOUND_KB

L=$D/coordinator.log
check "log: wrong token" grep -q "rejected 127.0.0.1:[0-9]*: wrong token" "$L"
check "log: no token" grep -q "rejected 127.0.0.1:[0-9]*: no token in its HELLO" "$L"
check "log: garbage bytes" grep -q "rejected 127.0.0.1:[0-9]*: protocol error" "$L"
check "log: the line without end" grep -q "rejected 127.0.0.1:[0-9]*: line longer than 4096 bytes" "$L"
check "log: idle connections dropped for room at the open-files limit" \
  grep -q "it is the oldest without a HELLO; raise ulimit -n" "$L"
check "log: connections without HELLO within 10 s" grep -q "no HELLO within 10 s" "$L"
check "log: a flood is summed up, not logged line by line" grep -qE "rejected [0-9]+ more connections in" "$L"
n=$(wc -l <"$L")
check "the log stays short ($n lines for over 1,000 rejections)" test "$n" -lt 400
check "the job still runs" kill -0 "$JOB"
"$CKPT" --ckpt-dir "$D" --kill >/dev/null 2>&1
finish_job
