#!/usr/bin/env bash
# Communicators made and freed in a loop, more of them than MPI has at
# once (MPICH: 2048 context ids): MANA keeps the record of each one a
# collective call made, since another member's restart makes it again,
# so a restart must free each again as soon as nothing later is made
# from it. progs/comm_churn makes and frees 3000, keeps one duplicated
# from a parent it frees, is checkpointed with --exit and restarted, and
# checks every sum on the kept one and on MPI_COMM_WORLD.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
require_ckpt_tools
CHURN=$BUILD/tests/progs/comm_churn
NP=2
dir=$WORK/churn.ckpt

start_job churn "${LAUNCH_MPIRUN[@]}" -np $NP "$MANA_LAUNCH" --ckpt-dir "$dir" "$CHURN" 3000 300
wait_output churn ready 60
check "3000 communicators made and freed under MANA" grep -q '^made and freed 3000 communicators; ready$' "$WORK/churn.out"
check "checkpoint after them, and the job stops" checkpoint "$dir" --exit
finish_job
check "the job ended with the checkpointed status" job_checkpointed churn
check "the checkpoint is complete" gen_ok "$dir" 1

restart_job restarted "$dir"
finish_job
check "the restart makes and frees the 3000 again and ends (exit $JST)" job_ok restarted
check "every sum right after the restart, on the kept communicator too" grep -qx 'result ok' "$WORK/restarted.out"
