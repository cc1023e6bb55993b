/* Helper threads of the image writer and reader (compressing, and
 * checking and decompressing chunks): how many to start, how to start one
 * so that it is harmless inside a rank, and the pool of them that both
 * share. */
#ifndef MANA_IMAGE_THREADS_H
#define MANA_IMAGE_THREADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

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

/* A pool of helper threads working through a ring of jobs. The calling
 * thread queues jobs at the tail and takes them back finished from the
 * head, so in the order it queued them whatever the timing; workers run
 * queued jobs in any order, and so does the calling thread while it waits
 * for the oldest one. The jobs are the caller's (an array of NJOBS jobs
 * of JOB_SIZE bytes, with whatever buffers they hold), and so are the
 * threads' contexts; only the calling thread queues and takes back. */
struct img_pool;

/* Does JOB with CTX: a worker's context, or the calling thread's. */
typedef void img_pool_run_fn(void *ctx, void *job);

/* A pool for up to MAX_THREADS workers, none started yet; NULL when out
 * of memory. */
struct img_pool *img_pool_new(void *jobs, size_t job_size, unsigned njobs, unsigned max_threads, img_pool_run_fn *run);
/* Starts one more worker, running jobs with CTX. 0, or -1 when the system
 * refuses a thread or MAX_THREADS run already. */
int img_pool_start_worker(struct img_pool *p, void *ctx);
/* The workers started. */
unsigned img_pool_threads(const struct img_pool *p);
/* The job after the newest, to fill in and then queue; the ring must have
 * room (taking jobs back with img_pool_oldest, without ALL, until it
 * gives NULL makes it). */
void *img_pool_slot(struct img_pool *p);
/* Puts the job img_pool_slot gave in the ring: for a worker to run, or
 * with RUN false as finished already (a job with nothing to do, kept for
 * its place in the order). */
void img_pool_queue(struct img_pool *p, bool run);
/* The oldest job, once it is finished; NULL when the ring is empty, or
 * when the oldest is still to finish and the ring has room (with ALL, it
 * is waited for anyway). Rather than sleep, the calling thread runs
 * queued jobs itself with CTX: it is then one more worker whenever it has
 * nothing else to do. Give the job back with img_pool_retire. */
void *img_pool_oldest(struct img_pool *p, bool all, void *ctx);
/* Frees the oldest job for a later img_pool_slot. */
void img_pool_retire(struct img_pool *p);
/* Stops and joins the workers (a running job finishes first, queued ones
 * are dropped) and frees the pool; the jobs and contexts may be freed
 * after it. */
void img_pool_free(struct img_pool *p);

#endif
