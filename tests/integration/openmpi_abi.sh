#!/usr/bin/env bash
# The Open MPI lower half's translation (issue 7):
#  - mpi-wrappers/openmpi.txt is true to Open MPI 4.1's libmpi.so.40: every
#    function it calls `absent` is missing there and every `as` name is
#    exported (a function missing but not listed fails the build);
#  - a call Open MPI lacks stops the job at the call, naming it, and works
#    under MPICH's lower half.
# (The examples, run under Open MPI by openmpi_launch.sh, check the rest:
# info_misc, for one, that MPI_Get_version gives the 4.0 of the interface
# it was built for.)
source "$(dirname "$0")/../lib.sh"
libmpi=$(ls /usr/lib/x86_64-linux-gnu/libmpi.so.40 2>/dev/null)
if [ -z "$libmpi" ]; then
  not_ok "Open MPI's libmpi.so.40 is missing: run scripts/install-deps.sh"
  exit 0
fi
nm -D --defined-only "$libmpi" | awk '{print $3}' | sort -u >"$WORK/exported"
bad=""
for f in $(awk '$1 == "absent" { for (i = 2; i <= NF; i++) print $i }' "$TOP/mpi-wrappers/openmpi.txt"); do
  grep -qx "$f" "$WORK/exported" && bad="$bad $f"
done
check "every function openmpi.txt calls absent is missing from libmpi.so.40${bad:+ (not:$bad)}" test -z "$bad"
bad=""
for f in $(awk '$1 == "as" { print $3 }' "$TOP/mpi-wrappers/openmpi.txt"); do
  grep -qx "$f" "$WORK/exported" || bad="$bad $f"
done
check "every Open MPI name openmpi.txt maps to is exported by libmpi.so.40${bad:+ (not:$bad)}" test -z "$bad"

OMPIRUN=(mpirun.openmpi --allow-run-as-root --oversubscribe --quiet)
prog=$BUILD/tests/progs/calls_mpi4
expect_status "an MPI-4.0 call Open MPI lacks stops the job, naming it" 1 \
  "MANA: MPI_Isendrecv is not available with the Open MPI lower half" \
  timeout "$JOB_TIMEOUT" "${OMPIRUN[@]}" -np 2 "$MANA_LAUNCH" "$prog"
check "the same call works under MPICH's lower half" \
  bash -c "timeout $JOB_TIMEOUT $MPIRUN_MPICH -np 2 '$MANA_LAUNCH' '$prog' | grep -qx 'rank 1 got 0'"
