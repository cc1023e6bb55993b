#define _GNU_SOURCE
#include "image_threads.h"

#include <sched.h>
#include <signal.h>
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
