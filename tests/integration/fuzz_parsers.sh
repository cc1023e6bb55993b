#!/usr/bin/env bash
# Every parser of untrusted bytes under libFuzzer (tests/fuzz,
# docs/fuzzing.md): each fuzzer first runs every case of its corpus
# (the seeds and the regression cases), then fuzzes for FUZZ_SECONDS
# (4 here; `make check-long` gives minutes) on a copy of the corpus, so
# the repository's corpus never grows from a test run. Any crash, leak,
# sanitizer report, timeout or memory blow-up is a failure, and the
# input that caused it is kept (its path is printed).
source "$(dirname "$0")/../lib.sh"

FUZZ_SECONDS=${FUZZ_SECONDS:-4}
FUZZ_DIR=$BUILD/tests/fuzz
# Kept for a failure: mktemp's $WORK goes away at exit.
KEEP=${TMPDIR:-/tmp}/mana-fuzz-failures

if ! command -v clang >/dev/null 2>&1; then
  not_ok "fuzzers: clang is not installed (scripts/install-deps.sh installs it; then make fuzzers)"
  exit 0
fi

fuzz_one() { # NAME
  local name=$1 bin=$FUZZ_DIR/fuzz_$1 corpus=$TOP/tests/fuzz/corpus/$1
  if [ ! -x "$bin" ]; then
    not_ok "fuzz $name: $bin is missing (make fuzzers)"; return
  fi
  if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
    not_ok "fuzz $name: no seed corpus in $corpus"; return
  fi
  local dir=$WORK/fuzz-$name
  mkdir -p "$dir/corpus" "$dir/crashes"
  cp "$corpus"/* "$dir/corpus/"
  local log=$dir/log rc
  # Run in $dir: libFuzzer writes its artifacts (crash-*, leak-*,
  # timeout-*, oom-*) under -artifact_prefix, never into the tree.
  (cd "$dir" && timeout $((FUZZ_SECONDS + 120)) "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=25 \
     -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$dir/crashes/" \
     "$dir/corpus" >"$log" 2>&1)
  rc=$?
  local runs
  runs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1 runs in \2 s/p' "$log" | tail -1)
  if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$dir/crashes")" ] ||
     grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$log"; then
    mkdir -p "$KEEP"
    cp -r "$dir/crashes/." "$KEEP/" 2>/dev/null
    cp "$log" "$KEEP/$name.log"
    not_ok "fuzz $name: exit $rc; the failing input and log are in $KEEP (reproduce: $bin INPUT)"
    grep -E 'ERROR:|runtime error:|SUMMARY:|#[0-9]+ 0x.* in ' "$log" | head -12 | sed 's/^/#   /'
    return
  fi
  if [ -z "$runs" ]; then
    not_ok "fuzz $name: no final statistics from libFuzzer"; sed 's/^/#   /' "$log" | tail -5; return
  fi
  ok "fuzz $name: no crash, leak or sanitizer report ($runs)"
}

found=0
for src in "$TOP"/tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  fuzz_one "${name#fuzz_}"
  found=$((found + 1))
done
[ "$found" -gt 0 ] || not_ok "fuzzers: no harness in tests/fuzz"
