#!/usr/bin/env bash
# The two halves are apart: the application's link map holds no real MPI
# or UCX library, the lower half never moves brk, and the region dump
# classifies every mapping, with the application's own ranges upper and
# MPI's lower. Also: a real MPI library forced into the application is
# refused loudly instead of running unsplit.
source "$(dirname "$0")/../lib.sh"
prog=$BUILD/tests/progs/halves_apart

for np in 1 2; do
  if MANA_DEBUG=regions run_mana "$np" "$prog" >"$WORK/out.$np" 2>"$WORK/err.$np"; then
    check "halves apart, region dump with $np rank(s)" \
      python3 "$TOP/tests/integration/check_regions.py" "$WORK/out.$np" "$WORK/err.$np" "$np"
  else
    not_ok "halves apart with $np rank(s): the job failed"; tail -5 "$WORK/err.$np" | sed 's/^/#   /'
  fi
done

real=$(ls /usr/lib/x86_64-linux-gnu/libmpich.so.12 2>/dev/null)
if [ -n "$real" ]; then
  LD_PRELOAD=$real run_mana 1 "$prog" >"$WORK/preload.out" 2>"$WORK/preload.err"
  rc=$?
  check "real MPICH preloaded into the application is refused (exit $rc)" \
    bash -c "[ $rc -ne 0 ] && grep -q 'the real MPI library .*libmpich.so.12 was loaded into the application' '$WORK/preload.err'"
else
  skip "real MPICH preloaded: libmpich.so.12 not found"
fi
