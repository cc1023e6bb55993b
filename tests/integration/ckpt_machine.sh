#!/usr/bin/env bash
# Restart on a different network (issue 8): an image records the machine
# it was taken on, mana-inspect shows it, and a restart logs what differs
# and goes on.
#   (a) mana-inspect of a fresh image shows the CPU model (as
#       /proc/cpuinfo names it), cores, hardware threads and NUMA nodes (as
#       /proc/cpuinfo and /sys count them), the MPI flavour and version and
#       the transport variable the ranks saw;
#   (b) a job launched with UCX_TLS=shm,self, checkpointed and killed with
#       kill -9, restarted with UCX_TLS=tcp,self: the native result, UCX's
#       own log shows the restarted ranks talking over TCP (and the
#       launched ones over shared memory), and the restart logs the change
#       once (rank 0's line; the other rank's difference is the same);
#   (c) the reverse, tcp,self to shm,self.
# UCX logs at level info to stderr (UCX_LOG_FILE=stderr), so stdout stays
# the program's. MPICH 4.0's ch4:ucx on one node runs natively with both
# spellings (UCX 1.13 offers cma, mm, posix, self, shm, sm, sysv, tcp here;
# "tcp" without "self" hangs, since a rank cannot reach itself).
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../ckpt_lib.sh"
NP=2
STEPS=8
require_ckpt_tools
# Only what each case sets.
unset UCX_TLS UCX_NET_DEVICES UCX_LOG_LEVEL UCX_LOG_FILE

# --- the reference -----------------------------------------------------
mkdir -p "$WORK/native.files"
if ! run_native $NP "$PROG" $STEPS "$WORK/native.files/out" >"$WORK/native.out" 2>"$WORK/native.err"; then
  not_ok "native run of ckpt_compute"; sed 's/^/#   /' "$WORK/native.err" | tail -5
  exit 0
fi
NATIVE=$WORK/native.out
FINAL=$(grep '^final checksum' "$NATIVE")

# UCX's endpoint lines ("ep_cfg[1]: tag(tcp/lo tcp/eth0) ...") in FILE:
# the transports that carried the ranks' messages.
SHM_TLS='(sysv|posix|cma|xpmem|knem)/'
uses_only() { # FILE WANT_REGEX AVOID_REGEX
  local eps
  eps=$(grep 'ep_cfg\[' "$1")
  [ -n "$eps" ] || { echo "# $1 has no UCX endpoint lines (ep_cfg)"; sed 's/^/#   /' "$1" | tail -5; return 1; }
  grep -qE "$2" <<<"$eps" || { echo "# no endpoint in $1 uses $2:"; sed 's/^/#   /' <<<"$eps" | head -4; return 1; }
  if grep -qE "$3" <<<"$eps"; then
    echo "# an endpoint in $1 uses $3:"; grep -E "$3" <<<"$eps" | head -4 | sed 's/^/#   /'; return 1
  fi
}

# The restart's stdout is the native run's from the step after the
# checkpointed one on, and the killed run printed a prefix of it.
restart_suffix() { # KILLED RESTARTED
  local first k n
  first=$(head -1 "$WORK/$2.out")
  [[ $first =~ ^step\ ([0-9]+)\ of ]] || { echo "# the restart's first line is '$first', not a step"; return 1; }
  k=$((BASH_REMATCH[1] - 1))
  n=$(wc -l <"$WORK/$2.out")
  [ "$k" -ge 2 ] || { echo "# the restart began at step $((k + 1)), before the checkpoint was asked for"; return 1; }
  tail -n "$n" "$NATIVE" | cmp -s - "$WORK/$2.out" || {
    echo "# the restart's stdout is not the end of the native run's:"
    diff <(tail -n "$n" "$NATIVE") "$WORK/$2.out" | head -6 | sed 's/^/#   /'; return 1; }
  head -n "$(wc -l <"$WORK/$1.out")" "$NATIVE" | cmp -s - "$WORK/$1.out" || {
    echo "# the killed run's stdout is not a prefix of the native run's"; return 1; }
}

# One line for the job, from rank 0, naming both values.
one_difference_line() { # ERRFILE FROM TO
  local want="mana-restart: rank 0: network transport differs: saved UCX_TLS=$2, now UCX_TLS=$3"
  grep -qxF "$want" "$1" || { echo "# no line '$want' in $1:"; grep 'mana-restart' "$1" | sed 's/^/#   /'; return 1; }
  local n
  n=$(grep -c 'differs: ' "$1")
  [ "$n" -eq 1 ] || { echo "# $n difference lines, 1 expected:"; grep 'differs: ' "$1" | sed 's/^/#   /'; return 1; }
}

# switch_network NAME FROM TO: launch with UCX_TLS=FROM, checkpoint,
# kill -9 everything, restart with UCX_TLS=TO.
switch_network() {
  local name=$1 from=$2 to=$3 dir=$WORK/ckpt-$1
  local avoid_launch avoid_restart want_launch want_restart
  if [ "$from" = shm,self ]; then
    want_launch=$SHM_TLS avoid_launch='tcp/' want_restart='tcp/' avoid_restart=$SHM_TLS
  else
    want_launch='tcp/' avoid_launch=$SHM_TLS want_restart=$SHM_TLS avoid_restart='tcp/'
  fi
  export UCX_LOG_LEVEL=info UCX_LOG_FILE=stderr
  UCX_TLS=$from launch "$name" "$dir"
  if wait_step "$name" 2 && checkpoint "$dir"; then
    ok "($name) checkpoint of a job on UCX_TLS=$from"
  else
    not_ok "($name) checkpoint of a job on UCX_TLS=$from"
  fi
  local pids
  pids=$(descendants "$JOB")
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -9 $pids
  finish_job
  check "($name) the launched ranks talked over $from" uses_only "$WORK/$name.err" "$want_launch" "$avoid_launch"
  check "($name) the image records UCX_TLS=$from" \
    grep -qE "^  transport +UCX_TLS=$from\$" <("$INSPECT" "$dir/gen-000001/rank-00000.mana" 2>&1)
  UCX_TLS=$to restart_job "${name}2" "$dir"
  finish_job
  unset UCX_LOG_LEVEL UCX_LOG_FILE
  check "($name) mana-restart with UCX_TLS=$to exits 0" job_ok "${name}2"
  check "($name) the restarted ranks talk over $to" uses_only "$WORK/${name}2.err" "$want_restart" "$avoid_restart"
  check "($name) the restart's stdout is the native run's from the checkpointed step on" restart_suffix "$name" "${name}2"
  check "($name) the restart prints the native final checksum" grep -qxF "$FINAL" "$WORK/${name}2.out"
  check "($name) the restart logs the transport change once" one_difference_line "$WORK/${name}2.err" "$from" "$to"
}

# --- (a) mana-inspect shows the machine --------------------------------
A=$WORK/ckpt-a
launch a "$A"
if wait_step a 2 && checkpoint "$A"; then
  ok "(a) checkpoint"
else
  not_ok "(a) checkpoint"
fi
# The image is all this case needs: every rank, the proxy and mpirun go;
# the timeout in front of them then ends.
pids=$(descendants "$JOB")
# shellcheck disable=SC2086
[ -n "$pids" ] && kill -9 $pids
finish_job
"$INSPECT" "$A/gen-000001/rank-00001.mana" >"$WORK/a.inspect" 2>&1
check "(a) mana-inspect exits 0" test $? -eq 0
machine_field() { # LABEL: its value in the machine block
  sed -nE "s/^  $1 +//p" "$WORK/a.inspect" | head -1
}
field_is() { # LABEL WANT
  local got
  got=$(machine_field "$1")
  [ "$got" = "$2" ] && return 0
  echo "# machine field '$1' is '$got', expected '$2'"; sed -n '/^machine/,/^mpi state/p' "$WORK/a.inspect" | sed 's/^/#   /'
  return 1
}
model=$(sed -nE 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -1 | sed -E 's/[[:space:]]+$//')
check "(a) the CPU model is /proc/cpuinfo's: $model" field_is "CPU model" "$model"
cores=$(awk -F: '/^physical id/ {p=$2} /^core id/ {print p "/" $2}' /proc/cpuinfo | sort -u | wc -l)
check "(a) cores: $cores, as /proc/cpuinfo counts them" field_is cores "$cores"
check "(a) hardware threads: $(grep -c '^processor' /proc/cpuinfo)" field_is "hardware threads" \
  "$(grep -c '^processor' /proc/cpuinfo)"
numa=$(find /sys/devices/system/node -maxdepth 1 -name 'node[0-9]*' 2>/dev/null | wc -l)
[ "$numa" -eq 0 ] && numa=1 # a kernel without NUMA: hwloc shows one node
check "(a) NUMA nodes: $numa" field_is "NUMA nodes" "$numa"
check "(a) the host is this one" field_is host "$(hostname)"
check "(a) the MPI flavour is mpich" field_is "MPI flavour" mpich
check "(a) the MPI library's version" grep -qE '^  MPI library +MPICH Version: +[0-9]+\.[0-9]+' "$WORK/a.inspect"
check "(a) MPICH's device" grep -qE '^  MPI device +ch4:' "$WORK/a.inspect"
check "(a) the transport the ranks saw (UCX_TLS unset)" grep -qE '^  transport +UCX_TLS=unset$' "$WORK/a.inspect"
check "(a) the section list names MACHINE" grep -qE '^sections +1 MACHINE, ' "$WORK/a.inspect"

# --- (b) shm to tcp, (c) tcp to shm ------------------------------------
switch_network b shm,self tcp,self
switch_network c tcp,self shm,self
