#!/usr/bin/env bash
# MANA's environment stays MANA's: the application gets the user's
# LD_PRELOAD and GLIBC_TUNABLES, and a program it starts runs natively
# without libmana or the call table's address.
source "$(dirname "$0")/../lib.sh"

printf 'int user_preload_marker = 1;\n' >"$WORK/marker.c"
gcc -shared -fPIC -o "$WORK/libmarker.so" "$WORK/marker.c"
LD_PRELOAD=$WORK/libmarker.so GLIBC_TUNABLES=glibc.malloc.check=0 \
  run_mana 1 "$BUILD/tests/progs/child_env" >"$WORK/out" 2>"$WORK/err"
rc=$?
check "application with a user preload runs (exit $rc)" test "$rc" -eq 0
check "application sees the user's LD_PRELOAD only" grep -qx "app LD_PRELOAD=$WORK/libmarker.so" "$WORK/out"
check "user's preload is loaded into the application" grep -qx "app user preload marker found" "$WORK/out"
check "application does not see the call table address" grep -qx "app MANA_CALL_TABLE=(unset)" "$WORK/out"
check "user's GLIBC_TUNABLES kept, rseq turned off" \
  grep -qx "app GLIBC_TUNABLES=glibc.malloc.check=0:glibc.pthread.rseq=0" "$WORK/out"
check "child process gets no call table address" grep -qx "child MANA_CALL_TABLE=(unset)" "$WORK/out"
check "child process does not preload libmana" grep -qx "child LD_PRELOAD=$WORK/libmarker.so" "$WORK/out"
check "child process does not search the stub directory" grep -qx "child LD_LIBRARY_PATH=(unset)" "$WORK/out"
