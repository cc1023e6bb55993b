#!/usr/bin/env bash
# Every stress program (tests/stress/, issue 6) passes its own checks
# natively with 4 ranks, and prints exactly the same under
# `mpirun.mpich -np 4 mana-launch -- ./prog` (no checkpoint).
source "$(dirname "$0")/../lib.sh"

# Programs left out of the run under mana-launch, each with the MANA bug
# that makes it fail there (they are still run natively). None at present.
declare -A MANA_SKIP=(
)

# passes_natively NAME: the native output (left in $WORK/NAME.native by
# same_output, or by a native run of its own) ends in "NAME: OK".
passes_natively() {
  local name=$1 out=$WORK/$1.native
  [ -s "$out" ] && [ "$(tail -1 "$out")" = "$name: OK" ] && return 0
  echo "# native run of $name did not end in \"$name: OK\":"
  sed 's/^/#   /' "$out" 2>/dev/null | tail -3
  sed 's/^/#   /' "$out.err" 2>/dev/null | tail -5
  return 1
}

found=0
for prog in "$BUILD"/tests/stress/stress_*; do
  [ -x "$prog" ] || continue
  found=1
  name=$(basename "$prog")
  rm -f "$WORK/$name.native"
  if [ -n "${MANA_SKIP[$name]:-}" ]; then
    echo "# stress $name: not run under mana-launch: ${MANA_SKIP[$name]}"
    run_native 4 -- "$prog" >"$WORK/$name.native" 2>"$WORK/$name.native.err"
  else
    check "stress $name: same output as native under mana-launch with 4 ranks" \
      same_output "$name" 4 -- "$prog"
  fi
  check "stress $name: passes its own checks natively with 4 ranks" passes_natively "$name"
done
[ "$found" -eq 1 ] || not_ok "no stress programs built in $BUILD/tests/stress"
