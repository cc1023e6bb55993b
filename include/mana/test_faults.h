/* Test-only fault injection: named points in a checkpoint and a restart
 * where a test makes the process kill or stop itself, or makes a write
 * fail, so the fault harness (tests/faults/) hits each phase exactly
 * rather than by luck of timing. docs/reliability.md lists the points.
 *
 * Compiled in only when MANA_TEST_FAULTS is defined, which only the test
 * tree under build/faults/ does (`make faults-tree`). Everywhere else the
 * two functions are empty inline ones: the installed MANA never reads
 * MANA_TEST_FAULT and carries no code for it.
 *
 * MANA_TEST_FAULT=ITEM[,ITEM...], each ITEM PHASE:ACTION[@RANK][#GEN]:
 *   kill     the process sends itself SIGKILL at PHASE (a kill -9 there)
 *   stop     it says "mana-test-fault: PHASE: stopped pid P rank R" on
 *            stderr and sends itself SIGSTOP; the test kills whatever it
 *            wants (all ranks, mpirun, the coordinator), or sends SIGCONT
 *   enospc, eio, erofs
 *            the write at PHASE fails with that errno
 * @RANK limits the item to one rank (the coordinator's points have no
 * rank and match only items without one); #GEN to the checkpoint
 * generation GEN (for a restart: the generation it restarts from), so a
 * test can let generation 1 succeed and break generation 2. */
#ifndef MANA_TEST_FAULTS_H
#define MANA_TEST_FAULTS_H

#ifdef MANA_TEST_FAULTS
void test_fault_point(const char *phase, int rank, unsigned long long gen);
int test_fault_errno(const char *phase, int rank, unsigned long long gen);
#else
static inline void test_fault_point(const char *phase, int rank, unsigned long long gen)
{
    (void)phase;
    (void)rank;
    (void)gen;
}
static inline int test_fault_errno(const char *phase, int rank, unsigned long long gen)
{
    (void)phase;
    (void)rank;
    (void)gen;
    return 0;
}
#endif

#endif
