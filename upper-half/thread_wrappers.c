/* The application's threads, for the checkpoint (struct mana_upper_threads
 * in mana/call_table.h): libmana interposes pthread_create so that every
 * thread of the upper half, the application's own and those of its
 * libraries (libgomp's OpenMP team), registers its kernel thread id
 * before it runs any of the application's code. The creator holds the
 * table's creation lock until then, and the checkpoint thread takes the
 * same lock before it stops the threads: a checkpoint never sees a
 * thread that exists but is not listed. Threads the C library starts
 * for itself (a SIGEV_THREAD timer, POSIX AIO) do not come through here
 * and are not saved (docs/limitations.md). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crossing.h"
#include "mana/lock_word.h"
#include "upper_threads.h"

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* On the creator's stack: the creator waits until the new thread has
 * registered, so it outlives the new thread's use of it. */
struct thread_start {
    void *(*fn)(void *);
    void *arg;
    _Atomic int registered;
};

static int thread_is_gone(int32_t tid)
{
    return syscall(SYS_tgkill, getpid(), tid, 0) != 0 && errno == ESRCH;
}

/* Under the creation lock. */
static void register_thread(struct mana_upper_threads *th, int32_t tid)
{
    for (int pass = 0; pass < 2; pass++) {
        int free_slot = -1;
        for (int i = 0; i < MANA_MAX_UPPER_THREADS; i++) {
            if (th->tid[i] == tid)
                return; /* the id of a thread that is gone, given again */
            if (th->tid[i] == 0 && free_slot < 0)
                free_slot = i;
        }
        if (free_slot >= 0) {
            th->tid[free_slot] = tid;
            return;
        }
        for (int i = 0; i < MANA_MAX_UPPER_THREADS; i++)
            if (thread_is_gone(th->tid[i]))
                th->tid[i] = 0;
    }
    atomic_fetch_add(&th->unregistered, 1);
}

/* The process's first thread, from libmana's constructor. */
void mana_threads_register_first(void)
{
    struct mana_upper_threads *th = &mana_lower->threads;
    mana_lock_word_acquire(&th->create_lock);
    th->pid = (int32_t)getpid();
    register_thread(th, (int32_t)syscall(SYS_gettid));
    mana_lock_word_release(&th->create_lock);
}

static void *start_registered(void *p)
{
    struct thread_start *s = p;
    void *(*fn)(void *) = s->fn;
    void *arg = s->arg;
    register_thread(&mana_lower->threads, (int32_t)syscall(SYS_gettid));
    atomic_store(&s->registered, 1);
    mana_futex(&s->registered, FUTEX_WAKE_PRIVATE, 1);
    return fn(arg);
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    static pthread_create_fn real;
    if (real == NULL)
        real = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
    /* Not under mana-launch, or a forked child, whose table lists its
     * parent's threads (and whose lock another thread may have held at
     * the fork). */
    if (mana_lower == NULL || mana_lower->threads.pid != (int32_t)getpid())
        return real(thread, attr, fn, arg);
    struct mana_upper_threads *th = &mana_lower->threads;
    struct thread_start s = {.fn = fn, .arg = arg, .registered = 0};
    mana_lock_word_acquire(&th->create_lock);
    int rc = real(thread, attr, start_registered, &s);
    if (rc == 0)
        while (!atomic_load(&s.registered))
            mana_futex(&s.registered, FUTEX_WAIT_PRIVATE, 0);
    mana_lock_word_release(&th->create_lock);
    return rc;
}
