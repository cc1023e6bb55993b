#!/usr/bin/env bash
# Restarting under another MPI (issue 7, acceptance 2), programs built
# once with mpicc.mpich:
#  - a chain MPICH -> Open MPI -> MPICH -> Open MPI -> MPICH: progs/
#    ckpt_compute on 2 ranks, checkpointed and stopped under each MPI and
#    restarted under the other; each image records the MPI it was taken
#    under, each restart says what it swapped, and all the runs together
#    print what one native run prints, with the same files;
#  - a sample of the examples, checkpointed at a random moment under one
#    MPI, killed with kill -9 and restarted under the other, both ways
#    (tests/ckpt_random.sh; `make check-long` does every example and
#    stress program: tests/long/openmpi_swap_long.sh).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
source "$(dirname "$0")/../ckpt_random.sh"
NP=2
LINKS=4
STEPS=$((2 * LINKS + 4))
require_ckpt_tools

mkdir -p "$WORK/native.files"
if ! run_native $NP "$PROG" $STEPS "$WORK/native.files/out" >"$WORK/native.out" 2>"$WORK/native.err"; then
  not_ok "native run of ckpt_compute"; sed 's/^/#   /' "$WORK/native.err" | tail -5
  exit 0
fi

# Link I runs under FLAVOURS[I % 2].
FLAVOURS=(mpich openmpi)
use_mpi() { # FLAVOUR: the launcher of the next launch or restart
  read -ra LAUNCH_MPIRUN <<<"$(mpirun_of "$1")"
  RESTART_MPIRUN=("${LAUNCH_MPIRUN[@]}")
}

D=$WORK/chain
use_mpi mpich
launch r0 "$D"
all=$WORK/all.out
: >"$all"
broken=""
for link in $(seq 1 $LINKS); do
  name=r$((link - 1))
  was=${FLAVOURS[$(((link - 1) % 2))]} now=${FLAVOURS[$((link % 2))]}
  step=$(($(wc -l <"$all") + 2))
  if ! wait_step "$name" "$step" || ! checkpoint "$D" --exit; then
    broken="link $link: no checkpoint of run $((link - 1)) under $was"; break
  fi
  finish_job
  job_ok "$name" || { broken="link $link: run $((link - 1)) under $was did not exit 0 after its checkpoint"; break; }
  gen_ok "$D" "$link" || { broken="link $link: generation $link is not complete and verified"; break; }
  image=$D/$(cat "$D/latest")/rank-00000.mana
  if ! "$INSPECT" "$image" 2>/dev/null | grep -q "^mpi  *$was\$"; then
    broken="link $link: $image does not say it was taken under $was"; break
  fi
  cat "$WORK/$name.out" >>"$all"
  use_mpi "$now"
  restart_job "r$link" "$D"
  wait_step "r$link" "$((step + 1))" >/dev/null
  if ! grep -q "saved under $was; restarting it under $now" "$WORK/r$link.err"; then
    broken="link $link: the restart under $now did not say it swapped from $was"
    sed 's/^/#   /' "$WORK/r$link.err" | tail -5
    break
  fi
done
if [ -z "$broken" ]; then
  ok "$LINKS restarts in a row, each under the other MPI than its checkpoint's"
  finish_job
  check "the last restart finishes the job" job_ok "r$LINKS"
  cat "$WORK/r$LINKS.out" >>"$all"
  check "stdout of the $((LINKS + 1)) runs together equals the native run's" same_file "$WORK/native.out" "$all"
  check "the ranks' files equal the native run's" same_rank_files "$WORK/r0.files"
else
  not_ok "$broken"
fi

# The examples: checkpoint under one MPI, kill -9, restart under the other.
RANDOM=$$
swap_sample() { # FROM TO EXAMPLES...
  read -ra LAUNCH_MPIRUN <<<"$(mpirun_of "$1")"
  read -ra RESTART_MPIRUN <<<"$(mpirun_of "$2")"
  local from=$1 to=$2 ex
  shift 2
  for ex in "$@"; do
    [ -x "$BUILD/examples/$ex" ] || { skip "$ex: not built"; continue; }
    ckpt_random_program "$BUILD/examples/$ex" "$ex.$from-$to" 4 | sed "s/^\(ok\|not ok\) - /&$from to $to: /"
  done
}
swap_sample mpich openmpi datatypes_op fortran90 fortran2008 cxx_capi
swap_sample openmpi mpich collectives intercomm cxx_stl fortran77
