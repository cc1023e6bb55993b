#!/usr/bin/env bash
# Communicator ids that come back for another communicator (MANA's ids
# do after 16 reuses of their slot, virtual_ids.h): MANA keeps each
# communicator's collective count and members under its id, and must not
# take an old communicator's for a new one's. progs/comm_recycle has rank
# 0 make communicators of itself alone until an id comes back, then
# scatters on a new communicator of every rank, before which MANA puts
# a barrier or not by its member count: with the old one-member entry,
# rank 0 chose otherwise than rank 1 and the job hung.
source "$(dirname "$0")/../lib.sh"
prog=$BUILD/tests/progs/comm_recycle
JOB_TIMEOUT=60 run_mana 2 "$prog" >"$WORK/out" 2>"$WORK/err"
rc=$?
check "an id came back under MANA, after its slots had gone round" \
  grep -qE '^an id came back after [0-9]{3,} communicators$' "$WORK/out"
check "the scatter on the communicator made after it completes, every block right (exit $rc)" \
  grep -qx 'result ok' "$WORK/out"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$WORK/err" | tail -5
