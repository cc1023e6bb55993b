#!/usr/bin/env bash
# `make install PREFIX=...` gives a tree that runs on its own: the launcher
# finds its lower half, libmana and the stubs relative to itself.
source "$(dirname "$0")/../lib.sh"

prefix=$WORK/prefix
if make -s -C "$TOP" install PREFIX="$prefix" BUILD="$BUILD" >"$WORK/install.log" 2>&1; then
  ok "make install PREFIX=$prefix"
else
  not_ok "make install failed"; tail -5 "$WORK/install.log" | sed 's/^/#   /'; exit 0
fi
for f in bin/mana-launch libexec/mana/mana-lh-mpich libexec/mana/mana-lh-openmpi lib/mana/libmana.so \
  lib/mana/libmana-ompi.so lib/mana/stub/libmpich.so.12 lib/mana/stub/libmpi.so.12 lib/mana/ompi/libmpi.so.40 \
  share/man/man1/mana-launch.1; do
  check "installed $f" test -e "$prefix/$f"
done
MANA_LAUNCH=$prefix/bin/mana-launch
check "installed launcher runs an example with 2 ranks" same_output installed_hello 2 "$BUILD/examples/hello"
out=$(MANA_DEBUG=regions "$MANA_LAUNCH" "$BUILD/examples/hello" 2>&1 >/dev/null | grep -c "lower .*$prefix/libexec/mana/mana-lh-mpich")
check "the installed lower half is the one that ran" test "$out" -gt 0
# Both lower halves and the Open MPI face from the installed tree.
MANA_TEST_LAUNCH_MPI=openmpi
read -ra LAUNCH_MPIRUN <<<"$(mpirun_of openmpi)"
check "installed launcher runs an example under mpirun.openmpi" same_output installed_hello_ompi 2 "$BUILD/examples/hello"
if [ -x "$BUILD/examples-ompi/hello" ]; then
  out=$(timeout "$JOB_TIMEOUT" mpirun.openmpi --allow-run-as-root --oversubscribe -np 2 "$MANA_LAUNCH" \
    "$BUILD/examples-ompi/hello" 2>&1)
  check "installed launcher runs a program built with mpicc.openmpi" grep -q "hello: OK" <<<"$out"
fi
