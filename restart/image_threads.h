/* Helper threads of the image writer and reader (compressing, and
 * checking and decompressing chunks): how many to start, and how to start
 * one so that it is harmless inside a rank. */
#ifndef MANA_IMAGE_THREADS_H
#define MANA_IMAGE_THREADS_H

#include <pthread.h>

/* The CPUs this process may run on (its affinity mask), at least 1. */
unsigned img_usable_cpus(void);

/* A helper's stack. Helpers run on stacks of their own: at exit, a
 * thread on a stack glibc allocated gives the unused part back with
 * madvise after blocking every signal, SIGSYS included; in a rank, UCX
 * hooks madvise and may map memory from there, which the region
 * labeller's seccomp trap turns into a SIGSYS that kills the process. A
 * thread on a stack of its caller's does no such thing. */
#define IMG_THREAD_STACK (2u << 20)

/* Starts FN(ARG) in a new thread on a new IMG_THREAD_STACK-byte stack
 * (*STACK; give it back with img_thread_stack_free after joining the
 * thread). The thread takes no signal but SIGSYS: the checkpoint signal
 * and the application's belong to the threads that expect them, and in a
 * rank the region labeller's seccomp trap raises SIGSYS on every mapping
 * call, and the kernel kills a thread that has it blocked. 0, or -1 when
 * the system refuses (the caller then does the work itself). */
int img_thread_start(pthread_t *thread, void **stack, void *(*fn)(void *), void *arg);
void img_thread_stack_free(void *stack);

#endif
