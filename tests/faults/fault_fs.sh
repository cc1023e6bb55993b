#!/usr/bin/env bash
# File system faults during a checkpoint (docs/reliability.md): a disk
# that fills up just before the coordinator writes the MANIFEST or moves
# latest (a real tmpfs, filled while the coordinator is stopped at that
# point), a checkpoint directory or generation directory that cannot be
# written (chattr +i, which binds root too), and the errors no test can
# make a disk give at will, injected: EIO from an image write, from the
# MANIFEST's write and from the fsync of the directory after latest was
# renamed. A disk that is already full when the images are written is
# tests/integration/ckpt_bad_input.sh's. Each: generation 1 intact,
# latest names a complete generation, mana-restart finishes the program.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
source "$(dirname "$0")/lib.sh"
require_fault_tree
native_reference

hit_fill_cont() { # the coordinator is stopped: fill the disk, let it go on
  fill_fs
  # shellcheck disable=SC2086
  kill -CONT $MARKED
}
hit_freeze_gen_cont() { # the ranks are stopped: make generation 2 unwritable
  chattr +i "$D/gen-000002"
  # shellcheck disable=SC2086
  kill -CONT $MARKED
}
freeze_dir() { # before generation 2: the checkpoint directory unwritable
  chattr +i "$D"
}
ckpt_dir_unwritable() {
  # shellcheck disable=SC2034
  CASE_BEFORE=freeze_dir ckpt_fault dir-unwritable '' 0 hit_none "goes on" \
    "cannot checkpoint now: cannot create the generation directory .*gen-000002 \\(Operation not permitted\\): the coordinator may not write there"
  # The restart above ran from the unwritable directory: it reads only.
}

export CASE_TMPFS=48m
wanted full && ckpt_fault full-at-manifest 'manifest:stop#2' 1 hit_fill_cont "goes on" \
  "generation 2 failed: cannot write .*MANIFEST.tmp \\(No space left on device\\): the file system is full"
wanted full && ckpt_fault full-at-latest 'latest:stop#2' 1 hit_fill_cont "goes on" \
  "generation 2 failed: cannot write .*latest.tmp \\(No space left on device\\): the file system is full"
wanted full && ckpt_fault gen-dir-unwritable 'agree:stop#2' 2 hit_freeze_gen_cont "goes on" \
  "generation 2 failed: .*rank-0000[01]\\.mana.*Operation not permitted"
unset CASE_TMPFS
wanted full && ckpt_dir_unwritable
wanted full && ckpt_fault write-eio 'write:eio@1#2' 0 hit_none "goes on" \
  "generation 2 failed: rank 1 .*cannot write checkpoint image .*rank-00001\\.mana .*Input/output error: the device reported an I/O error"
wanted full && ckpt_fault manifest-eio 'manifest:eio#2' 0 hit_none "goes on" \
  "generation 2 failed: cannot write .*MANIFEST.tmp \\(Input/output error\\)"
wanted full && ckpt_fault manifest-sync-eio 'manifest-sync:eio#2' 0 hit_none "goes on" \
  "generation 2 failed: cannot fsync the directory .*gen-000002 \\(Input/output error\\)"
# latest is in place but its directory's fsync failed: latest names
# generation 2, complete and durable, so the generation counts (after a
# crash latest names 1 or 2, both complete).
wanted sample && ckpt_fault latest-sync-eio 'latest-sync:eio#2' 0 hit_none "goes on" "" 2
