#!/usr/bin/env bash
# mana-launch --resume with checkpoints that cannot all be used (issue 8,
# acceptance 7). From a job checkpointed twice (generations 1 and 2):
#   - a damaged newest generation (an image cut short, or swapped) is
#     passed over, named, and the job resumes from generation 1;
#   - an image whose data is damaged (found only as the memory goes
#     back) fails the restart, which marks the generation DAMAGED; the
#     same command then resumes from generation 1;
#   - when no generation checks, it stops (exit 4) and never starts the
#     program from the beginning;
#   - a rank count other than the checkpoint's stops it (exit 3);
#   - no generation at all starts the program, saying so.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/ckpt_lib.sh"
require_ckpt_tools
cd "$WORK" || exit 1
NP=2
STEPS=12
ROUNDS=3

mkdir -p "$WORK/native.files"
timeout "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np $NP "$PROG" $STEPS "$WORK/native.files/out" $ROUNDS \
  >"$WORK/native.out" 2>"$WORK/native.err" || { not_ok "the native run works"; exit 0; }
FINAL=$(grep '^final checksum' "$WORK/native.out")

resume() { # NAME CKPT_DIR [NP]: mana-launch --resume in the foreground; status in RC
  mkdir -p "$WORK/$1.files"
  timeout -k 5 "$JOB_TIMEOUT" "$MPIRUN_MPICH" -np "${3:-$NP}" "$MANA_LAUNCH" --resume --ckpt-dir "$2" -- \
    "$PROG" $STEPS "$WORK/$1.files/out" $ROUNDS >"$WORK/$1.out" 2>"$WORK/$1.err"
  RC=$?
}

# resumed_natively NAME MIN_STEP: the run printed the end of the native
# run's stdout, from a step at or after MIN_STEP (a resume from an older
# generation prints again the steps after it).
resumed_natively() {
  ends_natively "$WORK/$1.out" "$WORK/native.out" "$FINAL" "$2" && return 0
  sed 's/^/#   /' "$WORK/$1.err" | tail -5
  return 1
}

said() { # NAME PATTERN: NAME's stderr says PATTERN (extended regex)
  grep -qE -- "$2" "$WORK/$1.err" && return 0
  echo "# $1's stderr does not say '$2':"; sed 's/^/#   /' "$WORK/$1.err" | tail -6
  return 1
}

# --- no checkpoint yet: start, checkpoint twice, stop -------------------------
G=$WORK/gens
mkdir -p "$WORK/first.files"
start_job first "$MPIRUN_MPICH" -np $NP "$MANA_LAUNCH" --resume --ckpt-dir "$G" -- \
  "$PROG" $STEPS "$WORK/first.files/out" $ROUNDS
if wait_step first 2 && checkpoint "$G" && wait_step first 5 && checkpoint "$G" --exit; then
  ok "a job started with --resume and no checkpoint runs and is checkpointed twice"
else
  not_ok "a job started with --resume and no checkpoint runs and is checkpointed twice"; exit 0
fi
finish_job
check "it exits $CHECKPOINTED (checkpointed)" job_checkpointed first
check "it said it started from the beginning" said first "^mana-launch: --resume: no checkpoint in $G yet: starting .*ckpt_compute from the beginning$"
[ -f "$G/gen-000002/MANIFEST" ] || { not_ok "generation 2 exists"; exit 0; }

copy() { rm -rf "$WORK/$1"; cp -a "$G" "$WORK/$1"; }
img() { printf '%s/gen-%06d/rank-%05d.mana' "$1" "$2" "$3"; }
# Every case resumes from a copy made now; the restored program appends
# to the files of the first run (it knows them by path), so the
# undamaged checkpoint goes first, while they are its alone.
for c in cut swap flip none; do copy $c; done

# --- the undamaged checkpoint resumes from generation 2 ------------------------
resume good "$G"
check "the undamaged checkpoint resumes from generation 2 and ends (exit 0)" \
  bash -c "[ $RC -eq 0 ] && grep -q 'restarting from generation 2' '$WORK/good.err' && ! grep -q 'passing over' '$WORK/good.err'"
cat "$WORK/first.out" "$WORK/good.out" >"$WORK/good.all"
check "first run + resume: stdout equals the native run's" same_file "$WORK/native.out" "$WORK/good.all"
check "first run + resume: the ranks' files equal the native run's" same_rank_files "$WORK/first.files"


# --- the newest generation damaged: resume from the one before ---------------
truncate -s -4096 "$(img "$WORK/cut" 2 1)"
resume cut "$WORK/cut"
check "newest generation cut short: the job resumes and ends (exit 0)" test "$RC" -eq 0
check "newest generation cut short: it names the generation passed over and why" \
  said cut "^mana-restart: passing over generation 2: rank 1: image .*rank-00001\.mana is of another size"
check "newest generation cut short: it says it restarts from generation 1" \
  said cut "^mana-restart: restarting from generation 1 \($WORK/cut/gen-000001\)$"
check "newest generation cut short: the native output from after generation 1's step" resumed_natively cut 3

# Rank 0's and rank 1's images of generation 2 swapped, the MANIFEST lines
# made to agree (sizes and digests): only the headers tell.
m=$WORK/swap/gen-000002/MANIFEST
mv "$(img "$WORK/swap" 2 0)" "$WORK/swap/r0" && mv "$(img "$WORK/swap" 2 1)" "$(img "$WORK/swap" 2 0)" &&
  mv "$WORK/swap/r0" "$(img "$WORK/swap" 2 1)"
m0=$(sed -n -E 's/^rank 0 rank-00000\.mana (.*)$/\1/p' "$m")
m1=$(sed -n -E 's/^rank 1 rank-00001\.mana (.*)$/\1/p' "$m")
sed -i -E "s/^rank 0 rank-00000\\.mana .*/rank 0 rank-00000.mana $m1/; s/^rank 1 rank-00001\\.mana .*/rank 1 rank-00001.mana $m0/" "$m"
resume swap "$WORK/swap"
check "newest generation with swapped images: passed over, naming the swap; resumes from generation 1" \
  bash -c "[ $RC -eq 0 ] && grep -q 'passing over generation 2: .*rank-00000.mana is the image of rank 1, not of rank 0' '$WORK/swap.err' &&
           grep -q 'restarting from generation 1' '$WORK/swap.err'"
check "newest generation with swapped images: the native output from after generation 1's step" resumed_natively swap 3

# --- damaged data in the newest: found by the restore, marked, then passed ----
f=$(img "$WORK/flip" 2 1)
size=$(stat -c %s "$f")
for off in $((size / 2)) $((size / 2 + 1)) $((size / 2 + 2)) $((size / 2 + 3)); do
  printf '\377' | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
done
resume flip1 "$WORK/flip"
check "damaged data in the newest generation: the restore fails (exit $RC, not 0)" test "$RC" -ne 0
check "damaged data: the message names the checksum and says the generation is marked" \
  said flip1 "checksum mismatch.*gen-000002 is now marked damaged: run the same command again to resume from the generation before it"
check "damaged data: the generation holds a DAMAGED file" test -s "$WORK/flip/gen-000002/DAMAGED"
resume flip2 "$WORK/flip"
check "damaged data: the same command again resumes from generation 1 and ends (exit 0)" test "$RC" -eq 0
check "damaged data: it names the mark when passing over generation 2" \
  said flip2 "^mana-restart: passing over generation 2: .*gen-000002 was marked damaged by an earlier restart: .*checksum mismatch"
check "damaged data: the native output from after generation 1's step" resumed_natively flip2 3

# --- nothing usable: stop, never start afresh ---------------------------------
truncate -s -4096 "$(img "$WORK/none" 2 1)"
rm "$WORK/none/gen-000001/MANIFEST"
resume none "$WORK/none"
check "no generation checks: exit 4" test "$RC" -eq 4
check "no generation checks: it lists each one and why, and refuses to start from the beginning" \
  bash -c "grep -q 'holds 2 checkpoint generations but none of them can be restarted, so the job is not started from the beginning' '$WORK/none.err' &&
           grep -q 'gen-000002: rank 1: image .* is of another size' '$WORK/none.err' &&
           grep -q 'gen-000001: .*MANIFEST is missing' '$WORK/none.err'"
check "no generation checks: the program did not run" bash -c "! grep -q '^step' '$WORK/none.out'"

mkdir -p "$WORK/incomplete/gen-000001"
chmod 700 "$WORK/incomplete" "$WORK/incomplete/gen-000001"
resume incomplete "$WORK/incomplete"
check "only an unfinished generation (no MANIFEST): exit 4, the program did not run" \
  bash -c "[ $RC -eq 4 ] && ! grep -q '^step' '$WORK/incomplete.out'"

# --- another rank count --------------------------------------------------------
resume ranks "$G" 3
check "3 ranks for a 2-rank checkpoint: exit 3" test "$RC" -eq 3
check "3 ranks: the message gives the rank count to run with" \
  said ranks "gen-000002 was checkpointed with 2 ranks but this job has 3: run the job with 2 ranks"

# --- bad usage -------------------------------------------------------------------
expect_status "mana-restart --newest-good with --generation: exit 2" 2 "goes without --newest-good" \
  "$RESTART" --newest-good --generation 1 "$G"

