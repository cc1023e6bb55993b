/* The application's signal handlers may fire while its thread is inside
 * the lower half, with the lower C library's %fs live: a handler touching
 * errno or a __thread variable would then write into the lower half's TLS.
 * So every handler the application installs is registered with the kernel
 * behind signal_entry, which switches to the upper %fs of the thread that
 * holds the lower lock (the only thread that can be inside the lower
 * half), calls the application's handler, and switches back. %fs is not in
 * the signal frame, so nothing else would restore it.
 *
 * SIGSYS is the lower half's (its region labeller): the application's
 * SIGSYS handler is kept here and called by the labeller for any SIGSYS
 * that is not its own. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crossing.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static struct sigaction app_action[NSIG];
static volatile int app_wrapped[NSIG];
static sigaction_fn libc_sigaction;

static void call_app_handler(int sig, siginfo_t *info, void *uctx)
{
    const struct sigaction *a = &app_action[sig];
    if (a->sa_flags & SA_SIGINFO)
        a->sa_sigaction(sig, info, uctx);
    else if (a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN)
        a->sa_handler(sig);
}

static void signal_entry(int sig, siginfo_t *info, void *uctx)
{
    uint64_t fs = mana_rdfsbase(&mana_fs);
    if (mana_lower != NULL && fs == mana_lower->lower_fs) {
        mana_wrfsbase(&mana_fs, mana_holder_upper_fs);
        call_app_handler(sig, info, uctx);
        mana_wrfsbase(&mana_fs, fs);
    } else {
        call_app_handler(sig, info, uctx);
    }
}

static void sigsys_from_lower(int sig, void *info, void *uctx)
{
    signal_entry(sig, info, uctx);
}

static int is_function(const struct sigaction *act)
{
    if (act->sa_flags & SA_SIGINFO)
        return act->sa_sigaction != NULL;
    return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

static sigaction_fn real_sigaction(void)
{
    if (libc_sigaction == NULL)
        libc_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    return libc_sigaction;
}

static int sigsys_action(const struct sigaction *act, struct sigaction *old)
{
    struct sigaction prev = app_action[SIGSYS];
    if (!app_wrapped[SIGSYS]) {
        memset(&prev, 0, sizeof prev);
        prev.sa_handler = SIG_DFL;
    }
    if (act != NULL) {
        app_action[SIGSYS] = *act;
        app_wrapped[SIGSYS] = is_function(act);
        mana_lower->set_upper_sigsys(app_wrapped[SIGSYS] ? sigsys_from_lower : NULL);
    }
    if (old != NULL)
        *old = prev;
    return 0;
}

/* The checkpoint signals stay MANA's: the application's action is kept
 * (and reported back as its own) but never installed. */
static int kept_for_checkpoints(int sig, const struct sigaction *act, struct sigaction *old)
{
    static int warned[NSIG];
    struct sigaction prev = app_action[sig];
    if (!app_wrapped[sig]) {
        memset(&prev, 0, sizeof prev);
        prev.sa_handler = SIG_DFL;
    }
    if (act != NULL) {
        app_action[sig] = *act;
        app_wrapped[sig] = 1;
        if (is_function(act) && !warned[sig]) {
            warned[sig] = 1;
            fprintf(stderr,
                    "MANA: the program's handler for signal %d (SIG%s) is not installed: MANA uses that signal "
                    "for checkpoints; run with 'mana-launch --signal OTHER' to use another one\n",
                    sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
        }
    }
    if (old != NULL)
        *old = prev;
    return 0;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    sigaction_fn real = real_sigaction();
    if (mana_lower == NULL || sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP)
        return real(sig, act, old);
    if (sig == SIGSYS)
        return sigsys_action(act, old);
    if (sig == mana_lower->ckpt_signals[0] || sig == mana_lower->ckpt_signals[1])
        return kept_for_checkpoints(sig, act, old);

    struct sigaction prev_app = app_action[sig];
    int prev_wrapped = app_wrapped[sig];
    int rc;
    if (act != NULL && is_function(act)) {
        struct sigaction k = *act;
        k.sa_sigaction = signal_entry;
        k.sa_flags |= SA_SIGINFO;
        app_action[sig] = *act;
        app_wrapped[sig] = 1;
        rc = real(sig, &k, old);
        if (rc != 0) {
            app_action[sig] = prev_app;
            app_wrapped[sig] = prev_wrapped;
        }
    } else {
        rc = real(sig, act, old);
        if (rc == 0 && act != NULL)
            app_wrapped[sig] = 0;
    }
    if (rc == 0 && old != NULL && prev_wrapped && old->sa_sigaction == signal_entry)
        *old = prev_app;
    return rc;
}

/* glibc's signal() is BSD semantics: the signal is blocked in its own
 * handler and interrupted calls restart. */
__sighandler_t signal(int sig, __sighandler_t handler)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    if (sig > 0 && sig < NSIG)
        sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART;
    if (sigaction(sig, &act, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

__sighandler_t bsd_signal(int sig, __sighandler_t handler)
{
    return signal(sig, handler);
}

/* A restarted rank has a new lower half, whose region labeller does not
 * know the application's SIGSYS handler yet. */
void mana_signals_after_restart(void)
{
    if (app_wrapped[SIGSYS])
        mana_lower->set_upper_sigsys(sigsys_from_lower);
}

/* The stop signal must reach every application thread at a checkpoint,
 * so a mask the application sets never blocks it (a worker that blocks
 * "all signals" would otherwise hold the checkpoint up until it fails). */
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);

static const sigset_t *without_stop_signal(int how, const sigset_t *set, sigset_t *copy)
{
    if (mana_lower == NULL || set == NULL || how == SIG_UNBLOCK || !sigismember(set, mana_lower->ckpt_signals[1]))
        return set;
    *copy = *set;
    sigdelset(copy, mana_lower->ckpt_signals[1]);
    return copy;
}

static int set_mask(const char *name, sigmask_fn *real, int how, const sigset_t *set, sigset_t *old)
{
    if (*real == NULL)
        *real = (sigmask_fn)dlsym(RTLD_NEXT, name);
    sigset_t copy;
    return (*real)(how, without_stop_signal(how, set, &copy), old);
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    static sigmask_fn real;
    return set_mask("pthread_sigmask", &real, how, set, old);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    static sigmask_fn real;
    return set_mask("sigprocmask", &real, how, set, old);
}
