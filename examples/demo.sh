#!/usr/bin/env bash
# `make demo`: run an example MPI job with 4 ranks natively and under
# mana-launch, and show that the results are the same. Checkpointing is
# not implemented yet; when it is, the demo will checkpoint, kill and
# restart the job in the middle.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
prog=$BUILD/examples/jacobi
[ -x "$prog" ] || prog=$BUILD/examples/ring
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== native run: mpirun.mpich -np 4 $(basename "$prog")"
start=$(date +%s%N)
mpirun.mpich -np 4 "$prog" | tee "$work/native"
t_native=$(( $(date +%s%N) - start ))

echo
echo "== under MANA: mpirun.mpich -np 4 mana-launch -- $(basename "$prog")"
start=$(date +%s%N)
mpirun.mpich -np 4 "$BUILD/bin/mana-launch" -- "$prog" | tee "$work/mana"
t_mana=$(( $(date +%s%N) - start ))

echo
awk -v n="$t_native" -v m="$t_mana" 'BEGIN { printf "native %.2f s, under MANA %.2f s\n", n / 1e9, m / 1e9 }' 
if cmp -s "$work/native" "$work/mana"; then
  echo "RESULT: the run under MANA printed exactly what the native run printed."
else
  echo "RESULT: MISMATCH between the native run and the run under MANA:" >&2
  diff "$work/native" "$work/mana" >&2 || true
  exit 1
fi
echo "(Checkpoint, kill and restart are not implemented yet: see docs/user-guide.md.)"
