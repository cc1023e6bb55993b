#!/usr/bin/env bash
# `make demo`: the whole story on 4 ranks. Run an MPI job natively for the
# reference; run it again under mana-launch, checkpoint it while it runs,
# kill every process of it with SIGKILL, restart it from the checkpoint
# with mana-restart, and show that it prints exactly what the native run
# printed.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
prog=$BUILD/examples/jacobi
np=4
work=$(mktemp -d)
job_pgid=
cleanup() {
  [ -n "$job_pgid" ] && kill -9 -- "-$job_pgid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }
seconds_since() { awk -v s="$1" -v e="$(date +%s%N)" 'BEGIN { printf "%.1f", (e - s) / 1e9 }'; }

say "1. native run: mpirun.mpich -np $np $(basename "$prog")"
start=$(date +%s%N)
mpirun.mpich -np $np "$prog" | tee "$work/native"
echo "(native run: $(seconds_since "$start") s)"

say "2. the same job under MANA: mpirun.mpich -np $np mana-launch --ckpt-dir CKPT $(basename "$prog")"
ckpt=$work/ckpt
start=$(date +%s%N)
# A session of its own, so that step 4 can kill every process of the job.
setsid mpirun.mpich -np $np "$BUILD/bin/mana-launch" --ckpt-dir "$ckpt" "$prog" >"$work/first" 2>"$work/first.err" &
job_pgid=$!
disown
for _ in $(seq 300); do
  "$BUILD/bin/mana-ckpt" --ckpt-dir "$ckpt" --status 2>/dev/null | grep -q "ranks: $np of $np connected" && break
  sleep 0.1
done
sleep 1
echo "(running for $(seconds_since "$start") s)"

say "3. checkpoint it while it runs: mana-ckpt --ckpt-dir CKPT --checkpoint"
"$BUILD/bin/mana-ckpt" --ckpt-dir "$ckpt" --checkpoint

say "4. kill every process of the job: kill -9"
kill -9 -- "-$job_pgid"
while kill -0 "$job_pgid" 2>/dev/null; do sleep 0.1; done
job_pgid=
echo "killed; the interrupted run printed $(wc -l <"$work/first") lines"

say "5. restart it from the checkpoint: mpirun.mpich -np $np mana-restart CKPT"
start=$(date +%s%N)
mpirun.mpich -np $np "$BUILD/bin/mana-restart" "$ckpt" | tee "$work/restarted"
echo "(restarted run: $(seconds_since "$start") s)"

echo
if cmp -s "$work/native" "$work/restarted"; then
  echo "RESULT: the job checkpointed, killed and restarted under MANA printed exactly what the native run printed."
else
  echo "RESULT: MISMATCH between the native run and the restarted run:" >&2
  diff "$work/native" "$work/restarted" >&2 || true
  exit 1
fi
