#!/usr/bin/env bash
# Who may touch a checkpoint (issue 9, acceptance 4): under umask 000,
# everything MANA creates in the checkpoint directory is still owner-only
# (directories 0700, files 0600); the job's token is on no process's
# command line and in no log; and a restart refuses, with exit status 1
# and a message naming the path and the cause, an image, MANIFEST,
# generation directory or CKPT_DIR that someone else may write (and, run
# as root where the user nobody exists, an image nobody owns). mana-launch
# and mana-coordinator refuse a group-writable CKPT_DIR the same way. A
# restart of the same checkpoint with its modes put back shows the modes
# were the only reason. mana-ckpt blanks a --token argument at start.
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../ckpt_lib.sh"
NP=2
STEPS=8
require_ckpt_tools
umask 000

D=$WORK/ckpt-trust
G=$D/gen-000001
IMG1=$G/rank-00001.mana

# --- a job, checkpointed and stopped ----------------------------------------
launch t "$D"
if ! wait_step t 2; then
  not_ok "the job reaches step 2"
  exit 0
fi
TOKEN=$(cut -d' ' -f2 "$D/.coordinator" 2>/dev/null)
check "the coordinator wrote its token to $D/.coordinator" test ${#TOKEN} -eq 32
check ".coordinator is 0600 under umask 000" test "$(stat -c %a "$D/.coordinator")" = 600

# Every process on the machine, the job's ranks, mpirun and the daemonised
# coordinator among them (it is no child of the job's).
token_in_cmdlines() {
  local f hits=0
  for f in /proc/[0-9]*/cmdline; do
    if tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$TOKEN"; then
      echo "# the token is on the command line of pid $(basename "$(dirname "$f")"): $(tr '\0' ' ' 2>/dev/null <"$f")"
      hits=1
    fi
  done
  return $hits
}
coord_running() { pgrep -f "mana-coordinator .*--ckpt-dir $D" >/dev/null; }
check "the job's coordinator runs (its command line is there to look at)" coord_running
check "the token is on no process's command line while the job runs" token_in_cmdlines

if checkpoint "$D" --exit; then ok "checkpoint and exit under umask 000"; else not_ok "checkpoint and exit under umask 000"; fi
finish_job
check "the job exits 85 (checkpointed) after checkpoint-and-exit" job_checkpointed t
check "generation 1 complete" gen_ok "$D" 1

# mana-ckpt --token: the argument is blanked at start. A listener that
# never answers keeps mana-ckpt waiting while its command line is read.
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(20)' >"$WORK/silent.port" &
SILENT=$!
STARTED+=("$SILENT")
for _ in $(seq 50); do [ -s "$WORK/silent.port" ] && break; sleep 0.1; done
"$CKPT" --coord "127.0.0.1:$(cat "$WORK/silent.port")" --token "$TOKEN" --status --timeout 10 >/dev/null 2>&1 &
WAITER=$!
STARTED+=("$WAITER")
sleep 1
token_blanked() {
  kill -0 "$WAITER" 2>/dev/null || { echo "# mana-ckpt ended before its command line was read"; return 1; }
  ! tr '\0' ' ' <"/proc/$WAITER/cmdline" | grep -qF -- "$TOKEN"
}
check "mana-ckpt --token: the token is gone from its command line" token_blanked
kill "$WAITER" "$SILENT" 2>/dev/null

# --- modes --------------------------------------------------------------------
modes_owner_only() {
  local bad
  bad=$(find "$D" \( -type d ! -perm 0700 \) -o \( -type f ! -perm 0600 \) -o \( ! -type d ! -type f ! -type l \))
  [ -z "$bad" ] && return 0
  echo "# not owner-only under umask 000:"
  # shellcheck disable=SC2086
  stat -c '#   %a %F %n' $bad
  return 1
}
check "everything under CKPT_DIR is 0700 (directories) or 0600 (files)" modes_owner_only
check "coordinator.log is there and 0600" test "$(stat -c %a "$D/coordinator.log" 2>/dev/null)" = 600
no_token_in() { # FILE...
  ! grep -lF -- "$TOKEN" "$@"
}
check "the token is not in coordinator.log" no_token_in "$D/coordinator.log"
check "the token is not in the job's or mana-ckpt's output" no_token_in "$WORK/t.err" "$WORK/t.out" "$WORK/ckpt.out"

# --- refusals ---------------------------------------------------------------------
refused() { # NAME PATTERN: mana-restart of D exits 1 saying PATTERN
  expect_status "$1" 1 "$2" timeout 30 "$MPIRUN_MPICH" -np $NP "$RESTART" "$D"
}
chmod o+w "$IMG1"
refused "world-writable image: refused, naming it" "refusing to restart: $IMG1 is world-writable \(mode 0602\).*chmod go-w"
# The restoring lower half checks the file it reads, not only its name.
expect_status "world-writable image: the restore itself refuses it" 1 "$IMG1 is world-writable" \
  timeout 30 "$MPIRUN_MPICH" -np 1 "$BUILD/libexec/mana/mana-lh-mpich" --restore "$IMG1"
chmod o-w "$IMG1"

chmod g+w "$G"
refused "group-writable generation directory: refused" "refusing to restart: $G is group-writable \(mode 0720\)"
chmod g-w "$G"

chmod g+w "$G/MANIFEST"
refused "group-writable MANIFEST: refused" "$G/MANIFEST is group-writable"
chmod g-w "$G/MANIFEST"

chmod o+w "$D/latest"
refused "world-writable latest: refused" "$D/latest is world-writable"
chmod o-w "$D/latest"

chmod g+w "$D"
refused "group-writable CKPT_DIR: restart refused" "refusing to restart: $D is group-writable"
expect_status "group-writable CKPT_DIR: mana-launch refuses it" 1 \
  "mana-launch: checkpoint directory: $D is group-writable.*another --ckpt-dir" \
  timeout 30 "$MPIRUN_MPICH" -np 1 "$MANA_LAUNCH" --ckpt-dir "$D" "$PROG" 1 "$WORK/never"
expect_status "group-writable CKPT_DIR: mana-coordinator refuses it" 1 "$D is group-writable" \
  timeout 10 "$BUILD/bin/mana-coordinator" --ckpt-dir "$D"
chmod g-w "$D"

if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  NOBODY=$(id -u nobody)
  chown nobody "$IMG1"
  refused "image owned by nobody: refused" "$IMG1 belongs to uid $NOBODY, not to you \(uid 0\)"
  chown 0 "$IMG1"
else
  skip "image owned by another user: refused: needs root and a user 'nobody'"
fi

# --- the same checkpoint, modes put back ------------------------------------------
restart_job t2 "$D"
finish_job
check "with the modes put back, mana-restart runs the job to its end" job_ok t2
check "the restarted job finishes" grep -q '^final checksum' "$WORK/t2.out"
