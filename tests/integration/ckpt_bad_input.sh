#!/usr/bin/env bash
# mana-restart on checkpoints that must not restart (DESIGN.md invariant 8,
# issue 5 acceptance 5): a missing image, a truncated one, one with a
# damaged region, one from another format version, a zero-length one, two
# swapped, another job's, the wrong rank count,
# no complete generation, a damaged `latest`, a --generation that does not
# exist, and a disk that fills up during a checkpoint. Each must end with
# the exit status mana-restart(1) gives and a message naming the problem,
# within seconds (a hang is a failure), never with a crash and never with
# the program running on from damaged memory. A restart of the undamaged
# checkpoint at the end shows the damage was the only reason.
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../ckpt_lib.sh"
NP=2
STEPS=12
# A good restart of this program takes about 3 s here; a refused one less
# than 2 s. Longer means a rank waits for one that has already given up.
BAD_TIMEOUT=${BAD_TIMEOUT:-20}
require_ckpt_tools

STARTED=()
MOUNTED=
cleanup() {
  local p
  for p in "${STARTED[@]}"; do kill_tree "$p"; done
  [ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# bounded SECONDS COMMAND...: runs COMMAND; after SECONDS kills it and
# everything it started (mpirun does not take its ranks down on TERM) and
# returns 124 with "hung" in the output.
bounded() {
  local secs=$1 i
  shift
  "$@" &
  local pid=$!
  STARTED+=("$pid")
  for i in $(seq $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill_tree "$pid"
    { wait "$pid"; } 2>/dev/null
    echo "hung: still running after $secs s, killed"
    return 124
  fi
  wait "$pid"
}

restart_np() { # NP DIR [OPTIONS]: mana-restart under mpirun, bounded
  local np=$1 dir=$2
  shift 2
  bounded "$BAD_TIMEOUT" "$MPIRUN_MPICH" -np "$np" "$RESTART" "$@" "$dir"
}

restart_good() { # DIR: a restart that runs the program to its end
  bounded "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$RESTART" "$1"
}

# refused NAME STATUS PATTERN DIR [OPTIONS]: a 2-rank restart of DIR exits
# STATUS with PATTERN in its output, and the program did not run on.
refused() {
  local name=$1 want=$2 pattern=$3
  shift 3
  expect_status "$name" "$want" "$pattern" restart_np $NP "$@"
  if grep -qE '^(step [0-9]+ of|final checksum)' "$WORK/expect.out"; then
    not_ok "$name: the program ran on from the refused checkpoint"
  fi
}

# copy NAME: a fresh copy of the good checkpoint in $WORK/NAME.
copy() {
  rm -rf "${WORK:?}/$1"
  cp -a "$GOOD" "$WORK/$1"
  rm -f "$WORK/$1/.coordinator" "$WORK/$1/coordinator.log"
}

# flip_byte FILE OFFSET: inverts the byte at OFFSET, in place.
flip_byte() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  # shellcheck disable=SC2059
  printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# set_manifest_size DIR RANK BYTES: makes the manifest agree with a file
# that was cut, so the image reader's own check is what refuses it.
set_manifest_size() {
  sed -i -E "s/^(rank $2 [^ ]+) [0-9]+ /\\1 $3 /" "$1/gen-000001/MANIFEST"
}

img() { printf '%s/gen-000001/rank-%05d.mana' "$1" "$2"; }

# --- a good checkpoint: generation 1 of a 2-rank job, taken mid-run --------
GOOD=$WORK/good
mkdir -p "$WORK/files"
timeout -k 5 "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$GOOD" "$PROG" $STEPS "$WORK/files/out" \
  >"$WORK/good.out" 2>"$WORK/good.err" &
JOB=$!
STARTED+=("$JOB")
for _ in $(seq 300); do
  grep -q '^step 2 of' "$WORK/good.out" 2>/dev/null && break
  kill -0 "$JOB" 2>/dev/null || break
  sleep 0.1
done
timeout 60 "$CKPT" --ckpt-dir "$GOOD" --checkpoint --exit >"$WORK/ckpt.out" 2>&1
crc=$?
wait "$JOB"
jrc=$?
if [ "$crc" -ne 0 ] || [ "$jrc" -ne "$CHECKPOINTED" ] || [ ! -f "$GOOD/gen-000001/MANIFEST" ]; then
  not_ok "a good checkpoint to damage (mana-ckpt exit $crc, job exit $jrc)"
  sed 's/^/#   /' "$WORK/ckpt.out" "$WORK/good.err" | tail -10
  exit 0
fi
ok "a good checkpoint to damage"
cp "$WORK/files/out.0" "$WORK/files.at-ckpt.0"
cp "$WORK/files/out.1" "$WORK/files.at-ckpt.1"
# Undamaged, for the last check (restarts of damaged copies may start
# coordinators in their copies, never in this one).
cp -a "$GOOD" "$WORK/pristine"

# --- images ----------------------------------------------------------------
copy missing
rm "$(img "$WORK/missing" 1)"
refused "missing image of rank 1: exit 1" 1 "rank 1: image .*rank-00001\\.mana is No such file or directory" \
  "$WORK/missing"

copy cut
size=$(stat -c %s "$(img "$WORK/cut" 1)")
truncate -s $((size - 4096)) "$(img "$WORK/cut" 1)"
refused "truncated image (shorter than its manifest says): exit 1" 1 \
  "rank 1: image .*rank-00001\\.mana is of another size \\(the manifest says $size bytes\\)" "$WORK/cut"

# Cut short and the manifest made to agree, on every rank: the image
# reader itself must find it (a writer that died before END).
copy cut2
for r in 0 1; do
  s=$(stat -c %s "$(img "$WORK/cut2" $r)")
  truncate -s $((s / 2)) "$(img "$WORK/cut2" $r)"
  set_manifest_size "$WORK/cut2" $r $((s / 2))
done
refused "truncated images the manifest agrees with: exit 1" 1 "rank-0000[01]\\.mana is truncated" "$WORK/cut2"

# A damaged byte inside region data: the sizes and every header are
# right, so only the chunk checksums can find it, as the memory goes back.
copy flip
f=$(img "$WORK/flip" 1)
size=$(stat -c %s "$f")
for off in $((size / 2)) $((size / 2 + 1)) $((size / 2 + 2)) $((size / 2 + 3)); do flip_byte "$f" "$off"; done
check "damaged image: mana-inspect --verify finds it" bash -c "! '$INSPECT' --verify '$f' >/dev/null 2>&1"
refused "damaged region data in rank 1's image: exit 1, checksum message" 1 "checksum mismatch" "$WORK/flip"

# The format version (bytes 8..11 of the file header) of a newer MANA, in
# every rank's image: refused by version, before anything is believed.
copy version
for r in 0 1; do
  printf '\003' | dd of="$(img "$WORK/version" $r)" bs=1 seek=8 conv=notrunc status=none
done
refused "image of a newer format version: exit 1" 1 \
  "image format version 3 is newer than this MANA supports \\(2\\): restart with a newer MANA" "$WORK/version"
# The same in one rank's image only.
copy version1
printf '\003' | dd of="$(img "$WORK/version1" 1)" bs=1 seek=8 conv=notrunc status=none
refused "one rank's image of a newer format version: exit 1" 1 "image format version 3 is newer" "$WORK/version1"

# An image that is sound but not the one the manifest recorded (replaced
# by another of the same size): the digest in the manifest catches it.
copy digest
sed -i -E 's/^(rank 1 [^ ]+ [0-9]+ )[0-9a-f]{16}$/\10123456789abcdef/' "$WORK/digest/gen-000001/MANIFEST"
refused "image whose digest is not the manifest's: exit 1" 1 "digest [0-9a-f]{16} is not the 0123456789abcdef" \
  "$WORK/digest"

# Zero-length image of rank 1, the manifest made to agree: the reader
# finds no header.
copy zerolen
: >"$(img "$WORK/zerolen" 1)"
set_manifest_size "$WORK/zerolen" 1 0
refused "zero-length image the manifest agrees with: exit 1" 1 "rank-00001\\.mana is truncated: the file is empty" \
  "$WORK/zerolen"

# Swapped: rank 0's image named as rank 1's and the other way round, the
# manifest lines made to agree (sizes and digests): each rank finds
# another rank's image, and says so rather than blame the rank count.
copy swapped
mv "$(img "$WORK/swapped" 0)" "$WORK/swapped/r0"
mv "$(img "$WORK/swapped" 1)" "$(img "$WORK/swapped" 0)"
mv "$WORK/swapped/r0" "$(img "$WORK/swapped" 1)"
m0=$(sed -n -E 's/^rank 0 rank-00000\.mana (.*)$/\1/p' "$WORK/swapped/gen-000001/MANIFEST")
m1=$(sed -n -E 's/^rank 1 rank-00001\.mana (.*)$/\1/p' "$WORK/swapped/gen-000001/MANIFEST")
sed -i -E "s/^rank 0 rank-00000\\.mana .*/rank 0 rank-00000.mana $m1/; s/^rank 1 rank-00001\\.mana .*/rank 1 rank-00001.mana $m0/" \
  "$WORK/swapped/gen-000001/MANIFEST"
refused "swapped images of ranks 0 and 1: exit 1, naming the swap" 1 \
  "rank-0000[01]\\.mana is the image of rank [01], not of rank [01]: the generation's images were renamed or swapped" \
  "$WORK/swapped"

# --- rank count ------------------------------------------------------------------
expect_status "restart of a 2-rank checkpoint with 1 rank: exit 3" 3 \
  "checkpointed with 2 ranks but this job has 1: restart with 'mpirun -np 2 " restart_np 1 "$GOOD"
expect_status "restart of a 2-rank checkpoint with 3 ranks: exit 3" 3 \
  "checkpointed with 2 ranks but this job has 3: restart with 'mpirun -np 2 " restart_np 3 "$GOOD"

# --- no complete generation -------------------------------------------------------
mkdir -p "$WORK/empty"
refused "empty checkpoint directory: exit 4" 4 "has no complete checkpoint" "$WORK/empty"
refused "checkpoint directory that does not exist: exit 4" 4 "checkpoint directory .*nowhere: No such file" \
  "$WORK/nowhere"
copy nomanifest
rm "$WORK/nomanifest/gen-000001/MANIFEST"
refused "the only generation has no MANIFEST: exit 4" 4 "MANIFEST is missing .*not complete" "$WORK/nomanifest"
copy nolatest
rm "$WORK/nolatest/latest"
refused "no latest: exit 4" 4 "has no complete checkpoint .*latest" "$WORK/nolatest"
copy badmanifest
sed -i '/^end$/d' "$WORK/badmanifest/gen-000001/MANIFEST"
refused "MANIFEST without its end line: exit 4" 4 "MANIFEST, line [0-9]+: incomplete" "$WORK/badmanifest"

# --- latest and --generation ------------------------------------------------------
copy badlatest
printf 'garbage\n' >"$WORK/badlatest/latest"
refused "latest that names no generation: exit 4" 4 "latest does not name a generation" "$WORK/badlatest"
copy otherlatest
printf 'gen-000009\n' >"$WORK/otherlatest/latest"
refused "latest naming a generation that does not exist: exit 4" 4 "gen-000009/MANIFEST is missing" \
  "$WORK/otherlatest"
copy escape
printf '../good/gen-000001\n' >"$WORK/escape/latest"
refused "latest naming a path outside the directory: exit 4" 4 "latest does not name a generation" "$WORK/escape"
refused "--generation 7 that does not exist: exit 4" 4 "gen-000007/MANIFEST is missing" "$GOOD" --generation 7
refused "--generation that is not a number: exit 2" 2 "--generation x: give a generation number" "$GOOD" \
  --generation x

# --- a full disk during a checkpoint ---------------------------------------------
# A tmpfs that holds one generation of this job but not two.
full_disk() {
  local mnt=$WORK/full gen1 want
  mkdir -p "$mnt"
  gen1=$(sed -n 's/^total_bytes //p' "$GOOD/gen-000001/MANIFEST")
  want=$(( (gen1 * 3 / 2 + 1048575) / 1048576 ))
  local why
  if ! why=$(mount -t tmpfs -o size=${want}m tmpfs "$mnt" 2>&1); then
    skip "full disk during a checkpoint: cannot mount a small tmpfs (${why:-mount failed})"
    return
  fi
  MOUNTED=$mnt
  local ck=$mnt/ckpt
  mkdir -p "$WORK/full.files"
  timeout -k 5 "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --ckpt-dir "$ck" "$PROG" $STEPS \
    "$WORK/full.files/out" >"$WORK/full.out" 2>"$WORK/full.err" &
  JOB=$!
  STARTED+=("$JOB")
  local i
  for i in $(seq 300); do
    grep -q '^step 2 of' "$WORK/full.out" 2>/dev/null && break
    sleep 0.1
  done
  expect_status "full disk: generation 1 fits" 0 "checkpoint generation 1 written" \
    timeout 60 "$CKPT" --ckpt-dir "$ck" --checkpoint
  cp "$ck/gen-000001/MANIFEST" "$WORK/full.manifest1"
  for i in $(seq 300); do
    grep -q '^step 4 of' "$WORK/full.out" 2>/dev/null && break
    sleep 0.1
  done
  expect_status "full disk: generation 2 does not fit: mana-ckpt exits non-zero" 1 \
    "generation 2 .*(full|No space left)" timeout 60 "$CKPT" --ckpt-dir "$ck" --checkpoint
  check "full disk: latest still names generation 1" test "$(cat "$ck/latest" 2>/dev/null)" = gen-000001
  check "full disk: generation 2 has no MANIFEST" test ! -e "$ck/gen-000002/MANIFEST"
  check "full disk: generation 1's MANIFEST unchanged" cmp -s "$WORK/full.manifest1" "$ck/gen-000001/MANIFEST"
  local r okv=1
  for r in 0 1; do
    "$INSPECT" --verify "$(img "$ck" $r)" >/dev/null 2>&1 || okv=0
  done
  check "full disk: generation 1's images verify" test $okv = 1
  wait "$JOB"
  local jrc=$?
  check "full disk: the job goes on after the failed checkpoint and finishes" test "$jrc" -eq 0
  check "full disk: its output is complete" grep -q '^final checksum' "$WORK/full.out"
  # Generation 1 restarts and ends with the uninterrupted run's result.
  expect_status "full disk: a restart from generation 1 works" 0 "^final checksum" restart_good "$ck"
  grep -qF "$(grep '^final checksum' "$WORK/full.out")" "$WORK/expect.out" &&
    ok "full disk: the restart ends with the uninterrupted run's checksum" ||
    not_ok "full disk: the restart ends with the uninterrupted run's checksum"
}
full_disk

# A foreign image: rank 1's image of the other job above (same program,
# same rank count) in place of this job's, the manifest's size made to
# agree: only the digest the manifest recorded tells them apart.
if [ -f "$WORK/full/ckpt/gen-000001/rank-00001.mana" ]; then
  copy foreign
  cp "$WORK/full/ckpt/gen-000001/rank-00001.mana" "$(img "$WORK/foreign" 1)"
  chmod 600 "$(img "$WORK/foreign" 1)"
  set_manifest_size "$WORK/foreign" 1 "$(stat -c %s "$(img "$WORK/foreign" 1)")"
  refused "another job's image of rank 1: exit 1, by its digest" 1 \
    "rank-00001\\.mana: its digest [0-9a-f]{16} is not the [0-9a-f]{16} its generation's MANIFEST recorded" "$WORK/foreign"
else
  skip "another job's image of rank 1: no other job's checkpoint (the full-disk case could not mount)"
fi

# --- and the undamaged checkpoint restarts ---------------------------------
cp "$WORK/files.at-ckpt.0" "$WORK/files/out.0"
cp "$WORK/files.at-ckpt.1" "$WORK/files/out.1"
expect_status "the undamaged checkpoint restarts and finishes" 0 "^final checksum" restart_good "$WORK/pristine"
cat "$WORK/good.out" "$WORK/expect.out" | grep -E '^(step|memory|final)' >"$WORK/whole.out"
check "the restarted run completes every step once" test "$(grep -c '^step' "$WORK/whole.out")" -eq $STEPS
