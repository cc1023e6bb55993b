#!/usr/bin/env bash
# mana-inspect on a real image (written by image-testgen through the
# image writer), on a truncated copy, on bit-flipped copies and on files
# that are no image: the right exit status (0 fine, 1 damaged, 2 usage)
# and a message that says what is wrong and where, never a crash.
source "$(dirname "$0")/../lib.sh"

INSPECT=$BUILD/bin/mana-inspect
TESTGEN=$BUILD/tests/bin/image-testgen
for b in "$INSPECT" "$TESTGEN"; do
  if [ ! -x "$b" ]; then
    not_ok "image tools built: $b is missing (make all unit-tests)"
    exit 0
  fi
done


# flip_bit FILE OFFSET: flips bit 4 of the byte at OFFSET, in place.
flip_bit() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  # shellcheck disable=SC2059
  printf "$(printf '\\%03o' $((b ^ 16)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

IMG=$WORK/rank-00001.mana
expect_status "write an image" 0 "wrote .*rank-00001.mana" \
  "$TESTGEN" write "$IMG" --size 6M --regions 5 --seed 3
size=$(stat -c %s "$IMG")
check "image is mode 0600" test "$(stat -c %a "$IMG")" = 600
check "no temporary file left" test -z "$(find "$WORK" -name '*.tmp-*')"

expect_status "inspect prints the header" 0 "rank +1 of 4" "$INSPECT" "$IMG"
expect_status "inspect prints the flavour and generation" 0 "generation +7" "$INSPECT" "$IMG"
expect_status "inspect prints the MPI state size" 0 "mpi state +100000 bytes" "$INSPECT" "$IMG"
expect_status "inspect summarises the regions" 0 "regions +6 \\(6\\.0 MiB; [0-9]+ of [0-9]+ pages zero" "$INSPECT" "$IMG"
expect_status "--regions lists each region" 0 "0x[0-9a-f]{16}-0x[0-9a-f]{16} rw- +p-- +1258291 .* test region 1" \
  "$INSPECT" --regions "$IMG"
expect_status "--regions shows a region without data" 0 "--- +p-n +16384 +no data +0  guard" "$INSPECT" --regions "$IMG"
expect_status "--verify says checksums OK" 0 "^checksums OK$" "$INSPECT" --verify "$IMG"
expect_status "the image restores every byte" 0 "every byte as written" \
  "$TESTGEN" read "$IMG" --size 6M --regions 5 --seed 3 --check

# Truncated: a copy cut 1000 bytes short, and one cut inside the header.
head -c $((size - 1000)) "$IMG" >"$WORK/cut.mana"
expect_status "truncated image: exit 1" 1 "is truncated: section [0-9]+ \\(REGION\\) .* needs" "$INSPECT" "$WORK/cut.mana"
expect_status "truncated image with --verify" 1 "is truncated" "$INSPECT" --verify "$WORK/cut.mana"
head -c 100 "$IMG" >"$WORK/cut2.mana"
expect_status "image cut inside its header" 1 "is truncated: the file has 100 bytes, less than its 128-byte header" \
  "$INSPECT" "$WORK/cut2.mana"

# A flipped bit in region data: found by --verify, named by section and chunk.
cp "$IMG" "$WORK/flip.mana"
flip_bit "$WORK/flip.mana" $((size / 2))
expect_status "bit flip in region data: --verify exit 1" 1 \
  "is damaged: checksum mismatch in section [0-9]+ \\(REGION 0x[0-9a-f]+-0x[0-9a-f]+ test region [0-9]\\), chunk [0-9]+" \
  "$INSPECT" --verify "$WORK/flip.mana"
# A flipped bit in the header: found without --verify.
cp "$IMG" "$WORK/flip2.mana"
flip_bit "$WORK/flip2.mana" 20
expect_status "bit flip in the header" 1 "checksum mismatch in the file header" "$INSPECT" "$WORK/flip2.mana"
# A flipped bit in the END record.
cp "$IMG" "$WORK/flip3.mana"
flip_bit "$WORK/flip3.mana" $((size - 5))
expect_status "bit flip in the END record" 1 "checksum mismatch in the END record" "$INSPECT" "$WORK/flip3.mana"

# A newer format version (byte 8, little-endian).
cp "$IMG" "$WORK/v3.mana"
printf '\003' | dd of="$WORK/v3.mana" bs=1 seek=8 conv=notrunc status=none
expect_status "newer format version" 1 \
  "image format version 3 is newer than this MANA supports \\(2\\): restart with a newer MANA" \
  "$INSPECT" "$WORK/v3.mana"

# The machine block. An image without a MACHINE section (image-testgen
# writes none unless asked) says so; a version-1 image, written by the
# MANA before version 2 (the fuzzers' seed), still reads and says which
# version it is; a record shows its fields, unknown keys as they are,
# control characters escaped, malformed lines counted.
expect_status "an image without a machine record" 0 "^machine +not recorded$" "$INSPECT" "$IMG"
V1=$TOP/tests/fuzz/corpus/image/rank-threads-files
expect_status "a version-1 image verifies" 0 "^checksums OK$" "$INSPECT" --verify "$V1"
expect_status "a version-1 image: machine not recorded (format version 1)" 0 \
  "^machine +not recorded \\(format version 1\\)$" "$INSPECT" "$V1"
MIMG=$WORK/rank-machine.mana
rec=$'host=node7\ncpu_model=Test CPU \x01 9000\ncores=64\nnet.UCX_TLS=shm,self\nfuture_key=42\nno equals sign\n'
expect_status "write an image with a machine record" 0 "wrote" \
  "$TESTGEN" write "$MIMG" --size 1M --regions 1 --machine "$rec"
"$INSPECT" --verify "$MIMG" >"$WORK/m.out" 2>&1
check "mana-inspect of it exits 0" test $? -eq 0
check "the machine block names the host" grep -qE '^  host +node7$' "$WORK/m.out"
check "the CPU model, its control character escaped" grep -qF '  CPU model          Test CPU \x01 9000' "$WORK/m.out"
check "the transport variable" grep -qE '^  transport +UCX_TLS=shm,self$' "$WORK/m.out"
check "an unknown key as it is" grep -qE '^  future_key +42$' "$WORK/m.out"
check "a malformed line is counted, not shown" grep -qxF '  (1 malformed lines left out)' "$WORK/m.out"
check "the sections line counts the MACHINE section" grep -qE '^sections +1 MACHINE, 1 MPI_STATE' "$WORK/m.out"

printf 'this is not an image\n' >"$WORK/text"
expect_status "not an image" 1 "is not a MANA checkpoint image" "$INSPECT" "$WORK/text"
expect_status "missing file" 1 "cannot open checkpoint image .*: No such file or directory" "$INSPECT" "$WORK/none.mana"
expect_status "no argument: usage, exit 2" 2 "Usage: mana-inspect" "$INSPECT"
expect_status "unknown option: usage, exit 2" 2 "Usage: mana-inspect" "$INSPECT" --frobnicate "$IMG"
expect_status "--help: usage, exit 0" 0 "Usage: mana-inspect" "$INSPECT" --help

# The writer in a directory that does not exist: an error that says what
# to do, and no file.
expect_status "writer names a missing directory" 1 "the directory does not exist: create it or use another --ckpt-dir" \
  "$TESTGEN" write "$WORK/nodir/rank-00000.mana"
check "no file after the failed write" test ! -e "$WORK/nodir"
