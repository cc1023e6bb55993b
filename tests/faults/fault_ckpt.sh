#!/usr/bin/env bash
# Faults during a checkpoint (docs/reliability.md, "The fault matrix"):
# kill -9 of one rank, of every rank, of mpirun or of the coordinator at
# each phase of generation 2 of a running job: the agreement (after GO,
# before the ranks agree and drain), the image write (half the regions
# written to the temporary file), the report (image durable, DONE not
# sent), the MANIFEST and the move of latest (the coordinator's steps).
# Generation 1 must come through intact, latest must not move to a
# broken generation, and mana-restart must finish the program.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
source "$(dirname "$0")/lib.sh"
require_fault_tree
native_reference

DEAD="rank [01] .*disconnected during the checkpoint"
LOST="closed the connection before the result of generation 2 .*may be incomplete; .*latest names gen-000001, which a restart uses"

# phase: agreement
wanted sample && ckpt_fault agree-kill-rank 'agree:kill@1#2' 0 hit_none dies "$DEAD"
wanted full && ckpt_fault agree-kill-ranks 'agree:stop#2' 2 hit_ranks dies "$DEAD"
wanted full && ckpt_fault agree-kill-mpirun 'agree:stop#2' 2 hit_mpirun dies "$DEAD"
wanted full && ckpt_fault agree-kill-coord 'agree:stop#2' 2 hit_coord "goes on" "$LOST"
# phase: image write
wanted full && ckpt_fault write-kill-rank 'write:kill@1#2' 0 hit_none dies "$DEAD"
wanted full && ckpt_fault write-kill-ranks 'write:stop#2' 2 hit_ranks dies "$DEAD"
wanted full && ckpt_fault write-kill-mpirun 'write:stop#2' 2 hit_mpirun dies "$DEAD"
wanted full && ckpt_fault write-kill-coord 'write:stop#2' 2 hit_coord "goes on" "$LOST"
# phase: image durable, DONE not sent
wanted full && ckpt_fault done-kill-rank 'done:kill@0#2' 0 hit_none dies "$DEAD"
wanted full && ckpt_fault done-kill-coord 'done:stop#2' 2 hit_coord "goes on" "$LOST"
# phase: MANIFEST (every image durable and reported)
wanted sample && ckpt_fault manifest-kill-coord 'manifest:kill#2' 0 hit_none "goes on" "$LOST"
# The ranks die while the coordinator is about to write the MANIFEST:
# their images are durable and reported, so generation 2 completes.
wanted full && ckpt_fault manifest-kill-ranks 'manifest:stop#2' 1 hit_ranks_cont dies "" 2
# phase: latest (MANIFEST durable)
# The MANIFEST is durable, latest not moved: generation 2 is complete but
# not the latest; a restart takes generation 1, or 2 when asked for.
if wanted full && only latest-kill-coord; then
  ckpt_fault latest-kill-coord 'latest:kill#2' 0 hit_none "goes on" "$LOST"
  check "latest-kill-coord: mana-restart --generation 2 finishes the program" restart_ok restart2 --generation 2
fi
