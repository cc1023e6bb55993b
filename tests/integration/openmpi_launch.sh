#!/usr/bin/env bash
# The Open MPI lower half runs what the MPICH one does (issue 7,
# acceptance 1): the same tests, with Open MPI's launcher
#   mpirun.openmpi -np N --allow-run-as-root --oversubscribe mana-launch -- ./prog
# for programs built once with mpicc.mpich, whose output must equal the
# native MPICH run's: every example and stress program; the halves kept
# apart (no Open MPI mapping saved as the application's); signals and
# user callbacks (ops, error handlers, attribute functions) called by
# Open MPI in its ABI; and every kind of MPI object rebuilt by a restart.
dir=$(dirname "$0")
for t in launch_examples stress_native_and_mana launch_halves_apart launch_signals launch_callbacks replay_objects; do
  MANA_TEST_LAUNCH_MPI=openmpi bash "$dir/$t.sh" | sed -E 's/^(ok|not ok|skip) - /&under mpirun.openmpi: /'
done
