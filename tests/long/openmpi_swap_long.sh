#!/usr/bin/env bash
# Every example and stress program under the Open MPI lower half and
# across MPIs (issue 7, acceptance 2; make check-long): the random-
# checkpoint harness (tests/ckpt_random.sh: a checkpoint at a random
# collective, once going on and once killed with kill -9 and restarted)
# with the job launched and restarted under Open MPI, launched under
# MPICH and restarted under Open MPI, and the reverse. Results must
# equal the native MPICH run's. The chain MPICH -> Open MPI -> MPICH and a
# sample of this run are in make check (tests/integration/openmpi_swap.sh).
dir=$(dirname "$0")/../integration
for pair in openmpi:openmpi mpich:openmpi openmpi:mpich; do
  from=${pair%:*} to=${pair#*:}
  for t in ckpt_examples ckpt_stress; do
    MANA_TEST_LAUNCH_MPI=$from MANA_TEST_RESTART_MPI=$to bash "$dir/$t.sh" |
      sed -E "s/^(ok|not ok|skip) - /&launched under $from, restarted under $to: /"
  done
done
