#!/usr/bin/env bash
# User code that MPI calls back (a reduction op) runs in the upper half's
# TLS and may itself call MPI, as natively.
source "$(dirname "$0")/../lib.sh"
for np in 2 4; do
  check "user op calling MPI inside Allreduce, $np ranks" same_output "op_calls_mpi_$np" "$np" \
    "$BUILD/tests/progs/op_calls_mpi"
done
for np in 2 4; do
  check "attribute and error handler callbacks, $np ranks" same_output "attr_errh_$np" "$np" \
    "$BUILD/tests/progs/attr_errhandler_callbacks"
done
