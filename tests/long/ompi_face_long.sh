#!/usr/bin/env bash
# Every C example built with mpicc.openmpi, checkpointed at random moments
# and restarted under the same and the other MPI (tests/integration/
# ompi_face_ckpt.sh does a sample in `make check`).
ALL=$(ls "$(dirname "$0")/../../build/examples-ompi" 2>/dev/null | tr '\n' ' ')
FACE_EXAMPLES1=$ALL FACE_EXAMPLES2=$ALL exec bash "$(dirname "$0")/../integration/ompi_face_ckpt.sh"
