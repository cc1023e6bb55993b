#!/usr/bin/env bash
# The stress programs of tests/stress (issue 6), each checkpointed at a
# random collective, going on and killed with kill -9 and restarted
# (tests/ckpt_random.sh), with 2 to 4 ranks: their collectives are passed
# with nonblocking requests pending and messages in flight, so the
# checkpoints must drain them. The last check says the drain did happen:
# messages drained, receives taken back and requests completed, summed
# over the ranks' MANA_DEBUG=drain reports.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ckpt_lib.sh"
source "$(dirname "$0")/../ckpt_random.sh"

programs=${CKPT_STRESS:-"stress_drain stress_nbc stress_persistent stress_match stress_sizes stress_comms"}
RANDOM=$$

n=0
for p in $programs; do
  np=$((2 + (RANDOM + n) % 3))
  n=$((n + 1))
  ckpt_random_program "$BUILD/tests/stress/$p" "$p" "$np"
done
if [ "$DRAINED_MESSAGES" -gt 0 ] && [ "$TAKEN_BACK" -gt 0 ] && [ "$COMPLETED" -gt 0 ]; then
  ok "the $CHECKPOINTS checkpoints drained $DRAINED_MESSAGES messages, took back $TAKEN_BACK receives, completed $COMPLETED requests and left $LEFT_PENDING nonblocking collectives pending"
else
  not_ok "the $CHECKPOINTS checkpoints drained $DRAINED_MESSAGES messages, took back $TAKEN_BACK receives, completed $COMPLETED requests and left $LEFT_PENDING nonblocking collectives pending: the drain was not exercised"
fi
