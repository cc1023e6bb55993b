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
  datatypes_all groups attributes errhandlers info_misc threads_pthreads threads_openmp threads_resident signals_in_mpi files_io
  fortran77 fortran90 fortran2008 cxx_capi cxx_stl"}
RANDOM=$$

for ex in $examples; do
  # The Fortran and C++ examples exist where their compilers do (Makefile).
  if [ ! -x "$BUILD/examples/$ex" ]; then
    case $ex in
      fortran*|cxx_*) skip "$ex: not built (no gfortran or g++ with MPICH's wrappers)"; continue ;;
    esac
  fi
  args=()
  [ "$ex" = jacobi ] && args=(100)
  ckpt_random_program "$BUILD/examples/$ex" "$ex" 4 "${args[@]}"
done
