#define _GNU_SOURCE
#include "image_threads.h"

#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

unsigned img_usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int img_thread_start(pthread_t *thread, void **stack, void *(*fn)(void *), void *arg)
{
    void *s = mmap(NULL, IMG_THREAD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s == MAP_FAILED)
        return -1;
    /* The new thread inherits the mask in force while it is created. */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    int started = pthread_attr_init(&attr) == 0;
    if (started) {
        started = pthread_attr_setstack(&attr, s, IMG_THREAD_STACK) == 0 && pthread_create(thread, &attr, fn, arg) == 0;
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        munmap(s, IMG_THREAD_STACK);
        return -1;
    }
    *stack = s;
    return 0;
}

void img_thread_stack_free(void *stack)
{
    if (stack)
        munmap(stack, IMG_THREAD_STACK);
}

/* ---- the job pool ----------------------------------------------------- */

enum job_state { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

/* A worker's argument: its pool and its context. */
struct pool_worker {
    struct img_pool *pool;
    void *ctx;
};

struct img_pool {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was queued, or stop */
    pthread_cond_t done; /* a job finished */
    uint8_t *jobs;       /* the caller's */
    size_t job_size;
    enum job_state *state;
    unsigned njobs;
    unsigned head;       /* oldest job in use: the next to take back */
    unsigned count;      /* jobs in use */
    bool stop;
    img_pool_run_fn *run;
    unsigned nthreads, max_threads;
    pthread_t *threads;
    void **stacks; /* img_thread_start's */
    struct pool_worker *workers;
};

static void *job_at(const struct img_pool *p, unsigned i)
{
    return p->jobs + (size_t)i * p->job_size;
}

/* The oldest queued job's slot, or njobs if none. Called with the lock
 * held. */
static unsigned first_queued(const struct img_pool *p)
{
    for (unsigned k = 0; k < p->count; k++) {
        unsigned i = (p->head + k) % p->njobs;
        if (p->state[i] == JOB_QUEUED)
            return i;
    }
    return p->njobs;
}

/* Runs queued job I in the calling thread. Called with the lock held. */
static void run_here(struct img_pool *p, unsigned i, void *ctx)
{
    p->state[i] = JOB_RUNNING;
    pthread_mutex_unlock(&p->mu);
    p->run(ctx, job_at(p, i));
    pthread_mutex_lock(&p->mu);
    p->state[i] = JOB_DONE;
}

static void *worker_main(void *arg)
{
    struct pool_worker *me = arg;
    struct img_pool *p = me->pool;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        unsigned i = first_queued(p);
        if (i == p->njobs) {
            pthread_cond_wait(&p->work, &p->mu);
            continue;
        }
        run_here(p, i, me->ctx);
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct img_pool *img_pool_new(void *jobs, size_t job_size, unsigned njobs, unsigned max_threads, img_pool_run_fn *run)
{
    struct img_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->jobs = jobs;
    p->job_size = job_size;
    p->njobs = njobs;
    p->max_threads = max_threads;
    p->run = run;
    p->state = calloc(njobs, sizeof *p->state);
    p->threads = calloc(max_threads, sizeof *p->threads);
    p->stacks = calloc(max_threads, sizeof *p->stacks);
    p->workers = calloc(max_threads, sizeof *p->workers);
    if (!p->state || !p->threads || !p->stacks || !p->workers) {
        img_pool_free(p);
        return NULL;
    }
    return p;
}

int img_pool_start_worker(struct img_pool *p, void *ctx)
{
    if (p->nthreads == p->max_threads)
        return -1;
    struct pool_worker *w = &p->workers[p->nthreads];
    w->pool = p;
    w->ctx = ctx;
    if (img_thread_start(&p->threads[p->nthreads], &p->stacks[p->nthreads], worker_main, w) != 0)
        return -1;
    p->nthreads++;
    return 0;
}

unsigned img_pool_threads(const struct img_pool *p)
{
    return p->nthreads;
}

void *img_pool_slot(struct img_pool *p)
{
    pthread_mutex_lock(&p->mu);
    void *j = job_at(p, (p->head + p->count) % p->njobs);
    pthread_mutex_unlock(&p->mu);
    return j;
}

void img_pool_queue(struct img_pool *p, bool run)
{
    pthread_mutex_lock(&p->mu);
    p->state[(p->head + p->count) % p->njobs] = run ? JOB_QUEUED : JOB_DONE;
    p->count++;
    if (run)
        pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

void *img_pool_oldest(struct img_pool *p, bool all, void *ctx)
{
    void *j = NULL;
    pthread_mutex_lock(&p->mu);
    while (p->count > 0) {
        if (p->state[p->head] == JOB_DONE) {
            j = job_at(p, p->head);
            break;
        }
        if (!all && p->count < p->njobs)
            break;
        unsigned i = first_queued(p);
        if (i == p->njobs)
            pthread_cond_wait(&p->done, &p->mu);
        else
            run_here(p, i, ctx);
    }
    pthread_mutex_unlock(&p->mu);
    return j;
}

void img_pool_retire(struct img_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->state[p->head] = JOB_FREE;
    p->head = (p->head + 1) % p->njobs;
    p->count--;
    pthread_mutex_unlock(&p->mu);
}

void img_pool_free(struct img_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i], NULL);
        img_thread_stack_free(p->stacks[i]);
    }
    free(p->state);
    free(p->threads);
    free(p->stacks);
    free(p->workers);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
