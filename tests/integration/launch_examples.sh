#!/usr/bin/env bash
# Every example, built with plain mpicc.mpich, prints under
# `mpirun.mpich -np 4 mana-launch -- ./prog` exactly what it prints natively.
source "$(dirname "$0")/../lib.sh"
# Examples may write files where they run (files_io does): not in the tree.
cd "$WORK" || exit 1

found=0
for prog in "$BUILD"/examples/*; do
  [ -x "$prog" ] || continue
  found=1
  name=$(basename "$prog")
  check "example $name: same output as native with 4 ranks" same_output "$name" 4 -- "$prog"
done
[ "$found" -eq 1 ] || not_ok "no examples built in $BUILD/examples"
