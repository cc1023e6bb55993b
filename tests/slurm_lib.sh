# Helpers for the tests that run jobs under a real Slurm (sourced after
# lib.sh and ckpt_lib.sh): a private single-node cluster
# (tests/slurm/slurm_cluster.sh) started by the test and stopped, by pid,
# when it ends, and waiting on its jobs.

SLURM_CLUSTER=$TOP/tests/slurm/slurm_cluster.sh
# Not inside $WORK: munged must reach it, and mktemp -d makes $WORK 0700.
SLURM_DIR=
# The exit status of a checkpointed and stopped job (exit_status.h).
CHECKPOINTED=${CHECKPOINTED:-85}

# slurm_stop: stops the cluster slurm_start started (a test may then start
# another, configured otherwise).
slurm_stop() {
  if [ -n "$SLURM_DIR" ]; then
    "$SLURM_CLUSTER" stop "$SLURM_DIR"
    rm -rf "$SLURM_DIR"
    SLURM_DIR=
  fi
}

cleanup_slurm() {
  slurm_stop
  cleanup
}
trap cleanup_slurm EXIT

# slurm_start [--preempt | --preempt-term]: starts the cluster and points the Slurm
# commands at it; ends the test (one failure) when it cannot start.
slurm_start() {
  if [ "$(id -u)" != 0 ]; then
    skip "Slurm tests: they start slurmd, which must run as root (run make check as root)"
    exit 0
  fi
  SLURM_DIR=$(mktemp -d /tmp/mana-slurm.XXXXXX)
  chmod 755 "$SLURM_DIR"
  if ! "$SLURM_CLUSTER" start "$SLURM_DIR" "$@" >"$WORK/slurm-start.log" 2>&1; then
    not_ok "a private Slurm starts (tests/slurm/slurm_cluster.sh start)"
    sed 's/^/#   /' "$WORK/slurm-start.log" | tail -15
    exit 0
  fi
  # shellcheck disable=SC1091
  . "$SLURM_DIR/env"
  export SLURM_CONF
}

# sbatch_job NAME SBATCH-ARGS... -- SCRIPT ARGS: submits; the job id in JOBID.
sbatch_job() {
  local name=$1
  shift
  JOBID=$(sbatch --parsable "$@" 2>"$WORK/$name.sbatch.err") || {
    echo "# sbatch failed:"; sed 's/^/#   /' "$WORK/$name.sbatch.err"; JOBID=; return 1
  }
  JOBID=${JOBID%%;*}
}

# job_field JOBID FIELD: a field of scontrol show job (JobState, Restarts,
# ExitCode, ...).
job_field() {
  scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

# wait_job_state JOBID STATE SECONDS: until the job is in STATE (a regex).
wait_job_state() {
  local i state
  for i in $(seq $(($3 * 5))); do
    state=$(job_field "$1" JobState)
    [[ $state =~ ^($2)$ ]] && return 0
    sleep 0.2
  done
  echo "# job $1 is ${state:-gone}, not $2, after $3 s:"
  scontrol show job "$1" 2>&1 | sed 's/^/#   /' | head -12
  return 1
}

# wait_file_step FILE STEP SECONDS: until FILE shows "step STEP of".
wait_file_step() {
  local i
  for i in $(seq $(($3 * 10))); do
    grep -q "^step $2 of " "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "# $1 did not reach step $2 in $3 s:"
  tail -5 "$1" 2>/dev/null | sed 's/^/#   /'
  return 1
}
