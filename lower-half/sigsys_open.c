/* The lower half's libraries may block every signal in threads they
 * start (UCX does, for its service threads). The region labeller's
 * seccomp trap raises SIGSYS on every mapping call from lower code, and
 * the kernel kills a process whose thread has SIGSYS blocked when the
 * trap fires. So the lower half's own mask changes never block SIGSYS:
 * the executable defines both calls, and the dynamic linker binds the
 * libraries' calls to these (exported with --export-dynamic-symbol). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>

typedef int (*mask_fn)(int, const sigset_t *, sigset_t *);

static const sigset_t *without_sigsys(int how, const sigset_t *set, sigset_t *copy)
{
    if (set == NULL || how == SIG_UNBLOCK || !sigismember(set, SIGSYS))
        return set;
    *copy = *set;
    sigdelset(copy, SIGSYS);
    return copy;
}

/* Calls the libc function NAME (looked up once into *REAL) with SET
 * less SIGSYS. */
static int call_without_sigsys(const char *name, mask_fn *real, int how, const sigset_t *set, sigset_t *old)
{
    if (*real == NULL)
        *real = (mask_fn)dlsym(RTLD_NEXT, name);
    sigset_t copy;
    return (*real)(how, without_sigsys(how, set, &copy), old);
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    static mask_fn real;
    return call_without_sigsys("pthread_sigmask", &real, how, set, old);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    static mask_fn real;
    return call_without_sigsys("sigprocmask", &real, how, set, old);
}
