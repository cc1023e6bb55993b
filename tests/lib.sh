# Shared helpers for the integration tests (sourced, not run).
# Each test script prints one line per check, "ok - NAME" or
# "not ok - NAME", and "skip - NAME: reason" for a check whose
# prerequisite is really absent; tests/run-tests.sh counts them.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
MANA_LAUNCH=$BUILD/bin/mana-launch
MPIRUN_MPICH=${MPIRUN_MPICH:-mpirun.mpich}
MPICC_MPICH=${MPICC_MPICH:-mpicc.mpich}
# The MPI whose launcher starts jobs under MANA (MANA_TEST_LAUNCH_MPI)
# and restarts them (MANA_TEST_RESTART_MPI), mpich or openmpi; the
# native runs the results are compared with are always MPICH's, since the
# programs are built with mpicc.mpich. Open MPI's launcher refuses root
# and more ranks than cores without its flags.
mpirun_of() {
  case $1 in
    openmpi) echo "mpirun.openmpi --allow-run-as-root --oversubscribe" ;;
    mpich) echo "$MPIRUN_MPICH" ;;
    *) echo "lib.sh: unknown MPI '$1' (mpich or openmpi)" >&2; exit 2 ;;
  esac
}
LAUNCH_MPI=${MANA_TEST_LAUNCH_MPI:-mpich}
RESTART_MPI=${MANA_TEST_RESTART_MPI:-$LAUNCH_MPI}
read -ra LAUNCH_MPIRUN <<<"$(mpirun_of "$LAUNCH_MPI")"
read -ra RESTART_MPIRUN <<<"$(mpirun_of "$RESTART_MPI")"
# Seconds before a hung job is killed: a hang is a failure, not a stall.
JOB_TIMEOUT=${JOB_TIMEOUT:-120}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mana-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# Checkpoint directories (and the coordinator each job starts) stay in
# the test's own directory.
export MANA_CKPT_DIR=$WORK/ckpt

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
skip() { echo "skip - $*"; }

# check NAME COMMAND...: runs COMMAND, reports ok/not ok by its status.
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# The native runs use MPICH's launcher, since the programs are built with
# mpicc.mpich; NATIVE_MPI=openmpi runs programs built with mpicc.openmpi
# (the Open MPI face's tests) natively under Open MPI's.
NATIVE_MPI=${NATIVE_MPI:-mpich}
run_native() { # NP [--] PROG ARGS...
  local np=$1 native
  shift
  [ "$1" = "--" ] && shift
  read -ra native <<<"$(mpirun_of "$NATIVE_MPI")"
  timeout "$JOB_TIMEOUT" "${native[@]}" -np "$np" "$@"
}

run_mana() { # NP PROG ARGS...
  local np=$1
  shift
  timeout "$JOB_TIMEOUT" "${LAUNCH_MPIRUN[@]}" -np "$np" "$MANA_LAUNCH" "$@"
}

# same_output NAME NP PROG ARGS...: stdout under MANA equals the native run's.
same_output() {
  local name=$1 np=$2
  shift 2
  local native=$WORK/$name.native mana=$WORK/$name.mana
  if ! run_native "$np" "$@" >"$native" 2>"$native.err"; then
    echo "# native run of $name failed:"; sed 's/^/#   /' "$native.err" | tail -5
    return 1
  fi
  if ! run_mana "$np" "$@" >"$mana" 2>"$mana.err"; then
    echo "# run of $name under mana-launch failed:"; sed 's/^/#   /' "$mana.err" | tail -10
    return 1
  fi
  if ! cmp -s "$native" "$mana"; then
    echo "# $name: output under mana-launch differs from the native run:"
    diff "$native" "$mana" | head -10 | sed 's/^/#   /'
    return 1
  fi
  [ -s "$native" ] || { echo "# $name printed nothing"; return 1; }
}

# expect_status NAME STATUS PATTERN COMMAND...: COMMAND exits with STATUS,
# its stdout+stderr matches PATTERN (extended regex), and nothing crashed.
expect_status() {
  local name=$1 want=$2 pattern=$3
  shift 3
  "$@" >"$WORK/expect.out" 2>&1
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    not_ok "$name: exit $rc, expected $want"; sed 's/^/#   /' "$WORK/expect.out" | tail -5; return
  fi
  if ! grep -qE -- "$pattern" "$WORK/expect.out"; then
    not_ok "$name: output does not match '$pattern'"; sed 's/^/#   /' "$WORK/expect.out" | tail -8; return
  fi
  if grep -qiE 'segmentation|core dumped|stack smashing|Aborted|AddressSanitizer|runtime error' "$WORK/expect.out"; then
    not_ok "$name: crashed"; return
  fi
  ok "$name"
}
