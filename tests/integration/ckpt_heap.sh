#!/usr/bin/env bash
# The application's heap grows after a restart (progs/heap_grow: small
# blocks, so glibc's main arena grows). The restarted process has its
# break elsewhere; the upper glibc's cached break must be the new one, or
# its sbrk hands out memory at the old address (a crash, or the lower
# half's heap taken). Checkpointed, killed with kill -9, restarted twice
# from the same generation, each run checks its break at every step and
# every byte it allocated.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
require_ckpt_tools
HEAP=$BUILD/tests/progs/heap_grow
NP=2
dir=$WORK/heap.ckpt

start_job heap "${LAUNCH_MPIRUN[@]}" -np $NP "$MANA_LAUNCH" --ckpt-dir "$dir" "$HEAP" 250
check "the job starts" wait_output heap ready
sleep 1
check "checkpoint while the heap grows" checkpoint "$dir"
kill_lower_halves
finish_job
for run in 1 2; do
  restart_job restarted$run "$dir"
  finish_job
  check "restart $run ends (exit $JST)" job_ok restarted$run
  check "restart $run: the break glibc keeps is the kernel's at every step, every byte as written" \
    grep -qx 'result ok' "$WORK/restarted$run.out"
  if grep -q '^result wrong' "$WORK/restarted$run.out"; then sed 's/^/#   /' "$WORK/restarted$run.out"; fi
done
