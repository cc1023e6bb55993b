#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, N failed"
# (and ", N skipped"). Unit tests are Check programs, plain and under
# AddressSanitizer/UBSan; integration tests are scripts in
# tests/integration/ that print "ok -", "not ok -" and "skip -" lines.
# With --faults, only the fault-injection harness (tests/faults/), its
# whole matrix; otherwise everything, with a sample of that matrix.
set -u
FAULTS=sample
if [ "${1:-}" = --faults ]; then
  FAULTS=all
fi
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
passed=0 failed=0 skipped=0

scripts=("$TOP"/tests/integration/*.sh "$TOP"/tests/faults/fault_*.sh)
[ "$FAULTS" = all ] && scripts=("$TOP"/tests/faults/fault_*.sh)

for variant in unit unit-san; do
  [ "$FAULTS" = all ] && break
  for t in "$BUILD"/tests/$variant/check_*; do
    [ -x "$t" ] || continue
    name="$variant/$(basename "$t")"
    out=$("$t" 2>&1)
    rc=$?
    # Check's summary: "NN%: Checks: N, Failures: F, Errors: E"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -1)
    if [ -z "$line" ]; then
      echo "not ok - $name (no Check summary, exit $rc)"; printf '%s\n' "$out" | tail -5 | sed 's/^/#   /'
      failed=$((failed + 1)); continue
    fi
    n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1+\2/' <<<"$line")
    f=$((f))
    passed=$((passed + n - f)); failed=$((failed + f))
    if [ "$f" -eq 0 ] && [ "$rc" -eq 0 ]; then
      echo "ok - $name ($n checks)"
    else
      echo "not ok - $name ($line, exit $rc)"; printf '%s\n' "$out" | grep -v '^Running' | head -20 | sed 's/^/#   /'
      [ "$f" -eq 0 ] && failed=$((failed + 1))
    fi
  done
done

for script in "${scripts[@]}"; do
  echo "# $(basename "$script")"
  out=$(BUILD=$BUILD FAULTS=$FAULTS bash "$script" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  p=$(grep -c '^ok - ' <<<"$out")
  f=$(grep -c '^not ok - ' <<<"$out")
  s=$(grep -c '^skip - ' <<<"$out")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $(basename "$script") exited $rc"; f=1
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
