#!/usr/bin/env bash
# The wrapper generator: known output for a small API list (so a change to
# the templates is seen), and file:line errors for bad input.
source "$(dirname "$0")/../lib.sh"
gen=$TOP/mpi-wrappers/gen_wrappers.py
fixtures=$TOP/tests/integration/fixtures

mkdir -p "$WORK/out"
if python3 "$gen" "$fixtures/gen_api_small.txt" "$WORK/out" 2>"$WORK/err"; then
  for f in upper_mpi_exports.c lower_mpi_table_fill.c; do
    check "generated $f matches the reference" cmp -s "$WORK/out/$f" "$fixtures/gen_expected_$f"
  done
  check "variadic upper-only function has no table entry" bash -c "! grep -q Pcontrol '$WORK/out/mana_mpi_table.h'"
  check "unsupported function is generated as such" grep -q 'mana_unsupported("MPI_Win_fence")' "$WORK/out/upper_mpi_unsupported.c"
else
  not_ok "generator failed on the small API list"; sed 's/^/#   /' "$WORK/err"
fi

bad() { # NAME LINE PATTERN
  printf '%s\n' "$2" >"$WORK/bad.txt"
  expect_status "generator rejects $1" 1 "bad.txt:1: $3" python3 "$gen" "$WORK/bad.txt" "$WORK/out"
}
bad "an unknown kind" "magic ; int MPI_Send(int a)" "unknown kind 'magic'"
bad "a line without a kind" "int MPI_Send(int a)" "expected '<how> ; <prototype>'"
bad "a non-prototype" "pass ; MPI_Send" "not a prototype"
bad "a crossing variadic function" "pass ; int MPI_Pcontrol(const int level, ...)" "variadic MPI_Pcontrol must be upper-only"
bad "a parameter without a name" "pass ; int MPI_Barrier(MPI_Comm)" "cannot find the parameter name"
printf 'pass ; int MPI_Barrier(MPI_Comm comm)\npass ; int MPI_Barrier(MPI_Comm comm)\n' >"$WORK/dup.txt"
expect_status "generator rejects a duplicate" 1 "dup.txt:2: MPI_Barrier is listed twice" python3 "$gen" "$WORK/dup.txt" "$WORK/out"
