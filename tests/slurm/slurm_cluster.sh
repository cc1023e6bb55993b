#!/usr/bin/env bash
# A private single-node Slurm for the tests, started and stopped by them:
#
#   slurm_cluster.sh start DIR [--preempt | --preempt-term]
#                                            configure and start munged,
#                                            slurmctld and slurmd in DIR
#   slurm_cluster.sh stop DIR                stop the daemons DIR started
#   slurm_cluster.sh status DIR              say which of them run
#
# Everything lives in DIR: the configuration, the munge key and socket,
# the state, the logs and the pid files. Nothing system-wide is touched,
# so it runs beside a site's own Slurm and munge. Clients find this
# cluster through DIR/env (". DIR/env" sets SLURM_CONF).
#
# The configuration is tuned for tests: a requeued job is eligible again
# after cred_expire (10 s here, 121 s by default) and the schedulers run
# every 1-2 s. With --preempt a second partition "high" preempts the
# default partition "low" (PreemptType=preempt/partition_prio,
# PreemptMode=REQUEUE, GraceTime=$MANA_SLURM_GRACE or 30 s), and the
# preempted job's own --signal is sent at the start of its grace time
# (SlurmctldParameters=preempt_send_user_signal). --preempt-term is the
# same without preempt_send_user_signal: the preempted job's tasks get
# SIGCONT and SIGTERM at the start of the grace time, whatever --signal.
#
# Needs root (slurmd starts jobs as their users) and Debian's slurm-wlm
# and munge. Exit status: 0, 1 (a daemon did not start: its log is
# printed), 2 (bad usage).
set -euo pipefail

usage() {
  sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}

die() {
  echo "slurm_cluster: $*" >&2
  exit 1
}

# A TCP port nobody listens on now (the daemons bind it a moment later).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_config() {
  local dir=$1 preempt=$2 node ctld_port slurmd_port cpus
  node=$(hostname -s)
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  # Four tasks on the 2-core test machine: CPUs is what Slurm allocates,
  # not what the node has (config_overrides lets them differ).
  cpus=${MANA_SLURM_CPUS:-4}
  cat >"$dir/slurm.conf" <<EOF
ClusterName=manatest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2
MessageTimeout=10
KillWait=5
MinJobAge=300
InactiveLimit=0
Waittime=0
JobRequeue=1
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
EOF
  if [ "$preempt" != 0 ]; then
    [ "$preempt" = user ] && echo "SlurmctldParameters=preempt_send_user_signal" >>"$dir/slurm.conf"
    cat >>"$dir/slurm.conf" <<EOF
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
PartitionName=low Nodes=ALL Default=YES MaxTime=INFINITE State=UP PriorityTier=1 GraceTime=${MANA_SLURM_GRACE:-30}
PartitionName=high Nodes=ALL MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
EOF
  else
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >>"$dir/slurm.conf"
  fi
  printf 'export SLURM_CONF=%s\n' "$dir/slurm.conf" >"$dir/env"
}

start_munge() {
  local dir=$1
  mkdir -p "$dir/munge"
  # A key of our own, so the cluster does not depend on the system's.
  # munged wants the directory of its socket open to all (clients of any
  # user reach it) and its key readable by munge alone.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 755 "$dir/munge"
  chmod 400 "$dir/munge/munge.key"
  chown -R munge:munge "$dir/munge"
  runuser -u munge -- /usr/sbin/munged --socket="$dir/munge/munge.socket" \
    --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
    || { cat "$dir/munge/munged.log" >&2 2>/dev/null; die "munged did not start (log above)"; }
  for _ in $(seq 50); do [ -S "$dir/munge/munge.socket" ] && return 0; sleep 0.1; done
  die "munged did not create its socket $dir/munge/munge.socket"
}

wait_node_idle() {
  local dir=$1 state
  for _ in $(seq 300); do
    state=$(SLURM_CONF=$dir/slurm.conf sinfo -h -N -o %t 2>/dev/null | head -n1 || true)
    case $state in idle | mix | alloc) return 0 ;; esac
    sleep 0.1
  done
  cat "$dir/slurmctld.log" "$dir/slurmd.log" >&2 2>/dev/null || true
  die "the node did not become idle within 30 s (state '${state:-none}'; logs above)"
}

start() {
  local dir=$1 preempt=0
  shift
  case ${1:-} in
    --preempt) preempt=user ;;
    --preempt-term) preempt=term ;;
    '') ;;
    *) usage ;;
  esac
  [ "$(id -u)" = 0 ] || die "must run as root: slurmd starts the jobs as their users"
  for cmd in munged slurmctld slurmd srun sinfo; do
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] ||
      die "$cmd not found: install Debian's slurm-wlm and munge (scripts/install-deps.sh)"
  done
  mkdir -p "$dir/state" "$dir/spool"
  dir=$(cd "$dir" && pwd)
  # munged runs as munge and must reach its files: every directory above
  # DIR must let others through (mktemp -d makes 0700 ones).
  runuser -u munge -- test -x "$dir/.." ||
    die "$dir: the munge user cannot enter a directory above it: use a DIR under /tmp itself (mktemp -d) or chmod o+x its parents"
  # The daemons refuse state and spool directories others may write.
  chmod 755 "$dir"
  write_config "$dir" "$preempt"
  start_munge "$dir"
  /usr/sbin/slurmctld -c -f "$dir/slurm.conf" ||
    { cat "$dir/slurmctld.log" >&2 2>/dev/null; die "slurmctld did not start (log above)"; }
  /usr/sbin/slurmd -f "$dir/slurm.conf" -N "$(hostname -s)" ||
    { cat "$dir/slurmd.log" >&2 2>/dev/null; die "slurmd did not start (log above)"; }
  wait_node_idle "$dir"
}

# Stops only what DIR's pid files name: never a daemon by its name.
stop() {
  local dir=$1 pidfile pid
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    pid_alive "$pidfile" || continue
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

status() {
  local dir=$1 rc=0 name
  for name in slurmctld slurmd munge/munged; do
    if pid_alive "$dir/$name.pid"; then echo "${name#munge/} running (pid $(cat "$dir/$name.pid"))"
    else echo "${name#munge/} not running"; rc=1; fi
  done
  return $rc
}

[ $# -ge 2 ] || usage
case $1 in
  start) start "${@:2}" ;;
  stop) stop "$2" ;;
  status) status "$2" ;;
  -h | --help) usage 0 ;;
  *) usage ;;
esac
