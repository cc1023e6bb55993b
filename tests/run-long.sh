#!/usr/bin/env bash
# make check-long: the fuzzers for FUZZ_SECONDS each, then every script in
# tests/long/ (the random checkpoints, the soak); ends with one line
# "N passed, N failed" like run-tests.sh.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
passed=0 failed=0
for script in "$TOP"/tests/integration/fuzz_parsers.sh "$TOP"/tests/long/*.sh; do
  echo "# $(basename "$script")"
  out=$(set -o pipefail; BUILD=$BUILD bash "$script" 2>&1 | tee /dev/stderr)
  rc=$?
  p=$(grep -c '^ok - ' <<<"$out")
  f=$(grep -c '^not ok - ' <<<"$out")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $(basename "$script") exited $rc"; f=1
  fi
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
