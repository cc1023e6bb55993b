#!/usr/bin/env bash
# A chain of restarts (issue 5, acceptance 2): progs/ckpt_compute on 2
# ranks is checkpointed and stopped, restarted from that checkpoint,
# checkpointed and stopped again, ten times in a row, each restart from
# the previous restart's checkpoint; the eleventh run finishes the job.
# Every generation must be complete and verified, and the output of all
# the runs together, and each rank's file, must equal a native run's.
# CHAIN_MPIS="mpich openmpi" (openmpi_swap.sh) runs link I under the I-th
# MPI of the list, round and round: then each image must record the MPI
# it was taken under, and each restart under another MPI must say so.
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../ckpt_lib.sh"
NP=2
LINKS=${LINKS:-10}
STEPS=$((2 * LINKS + 4))
read -ra CHAIN <<<"${CHAIN_MPIS:-$LAUNCH_MPI}"
mpi_of_link() { echo "${CHAIN[$(($1 % ${#CHAIN[@]}))]}"; }
use_mpi() { # FLAVOUR: the launcher of the next launch or restart
  read -ra LAUNCH_MPIRUN <<<"$(mpirun_of "$1")"
  RESTART_MPIRUN=("${LAUNCH_MPIRUN[@]}")
}
# swapped_ok LINK: run LINK's checkpoint records its MPI, and the restart
# after it says what it swapped (only when the two MPIs differ).
swapped_ok() {
  local was now image
  was=$(mpi_of_link $(($1 - 1))) now=$(mpi_of_link "$1")
  image=$D/$(cat "$D/latest")/rank-00000.mana
  "$INSPECT" "$image" 2>/dev/null | grep -q "^mpi  *$was\$" ||
    { echo "# $image does not say it was taken under $was"; return 1; }
  [ "$was" = "$now" ] && return 0
  wait_step "r$1" "$(($(wc -l <"$all") + 1))" >/dev/null
  grep -q "saved under $was; restarting it under $now" "$WORK/r$1.err" && return 0
  echo "# the restart under $now did not say it swapped from $was:"; sed 's/^/#   /' "$WORK/r$1.err" | tail -5
  return 1
}
require_ckpt_tools

mkdir -p "$WORK/native.files"
if ! run_native $NP "$PROG" $STEPS "$WORK/native.files/out" >"$WORK/native.out" 2>"$WORK/native.err"; then
  not_ok "native run of ckpt_compute"; sed 's/^/#   /' "$WORK/native.err" | tail -5
  exit 0
fi

D=$WORK/chain
use_mpi "$(mpi_of_link 0)"
launch r0 "$D"
all=$WORK/all.out
: >"$all"
broken=""
for link in $(seq 1 $LINKS); do
  name=r$((link - 1))
  # Two steps into this run (counting the lines all earlier runs printed).
  step=$(( $(wc -l <"$all") + 2 ))
  if ! wait_step "$name" "$step" || ! checkpoint "$D" --exit; then
    broken="link $link: no checkpoint of run $((link - 1))"; break
  fi
  finish_job
  job_checkpointed "$name" || { broken="link $link: run $((link - 1)) did not exit $CHECKPOINTED after its checkpoint"; break; }
  gen_ok "$D" "$link" || { broken="link $link: generation $link is not complete and verified"; break; }
  grep -q '^final checksum' "$WORK/$name.out" && { broken="link $link: run $((link - 1)) ran to its end"; break; }
  cat "$WORK/$name.out" >>"$all"
  use_mpi "$(mpi_of_link "$link")"
  restart_job "r$link" "$D"
  swapped_ok "$link" || { broken="link $link: the MPI was not recorded or the swap not reported"; break; }
done
if [ -z "$broken" ]; then
  ok "$LINKS checkpoints in a row, each of a restarted run from the one before (under ${CHAIN[*]}, in turn)"
  finish_job
  check "the last restart finishes the job" job_ok "r$LINKS"
  cat "$WORK/r$LINKS.out" >>"$all"
  check "stdout of the $((LINKS + 1)) runs together equals the native run's" same_file "$WORK/native.out" "$all"
  check "the ranks' files equal the native run's" same_rank_files "$WORK/r0.files"
else
  not_ok "$broken"
fi
