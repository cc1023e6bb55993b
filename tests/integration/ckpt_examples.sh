#!/usr/bin/env bash
# Every example, 4 ranks, checkpointed at a random moment while it runs
# (issue 5, acceptance 1), going on after the checkpoint and killed with
# kill -9 and restarted: see tests/ckpt_random.sh. files_io keeps its
# files in the run's current directory; they must end equal to the
# native run's.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
source "$(dirname "$0")/../ckpt_random.sh"

examples=${CKPT_EXAMPLES:-"jacobi hello ring collectives comm_topo comm_create topologies intercomm datatypes_op
  datatypes_all groups attributes errhandlers info_misc threads_pthreads threads_openmp threads_resident signals_in_mpi files_io"}
RANDOM=$$

for ex in $examples; do
  args=()
  [ "$ex" = jacobi ] && args=(100)
  ckpt_random_program "$BUILD/examples/$ex" "$ex" 4 "${args[@]}"
done
