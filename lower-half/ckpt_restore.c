#define _GNU_SOURCE
#include "ckpt_restore.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "ckpt_stop.h"
#include "mpi_adapters.h"
#include "mana/raw_syscall.h"
#include "region_labeller.h"
#include "trust.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static int load_threads(struct ckpt_restore *st, const struct image_thread_list *list, char *err, size_t errlen)
{
    if (list->count == 0 || list->count > CKPT_MAX_THREADS) {
        snprintf(err, errlen, "%s holds %u thread records; a rank's image holds 1 to %d", st->path, list->count,
                 CKPT_MAX_THREADS);
        return -1;
    }
    if (ckpt_decode_main(list->data[0], list->len[0], &st->main, &st->proc, err, errlen) != 0)
        return -1;
    st->nothers = list->count - 1;
    st->others = calloc(st->nothers + 1, sizeof *st->others);
    if (st->others == NULL) {
        snprintf(err, errlen, "out of memory loading %u thread records of %s", list->count, st->path);
        return -1;
    }
    for (size_t i = 0; i < st->nothers; i++)
        if (ckpt_decode_thread(list->data[i + 1], list->len[i + 1], &st->others[i], err, errlen) != 0)
            return -1;
    return 0;
}

int ckpt_restore_open(struct ckpt_restore *st, const char *path, int rank, int nranks, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", path);
    st->reader = image_reader_open(path, err, errlen);
    if (st->reader == NULL)
        return -1;
    /* The file read, not its name: mana-restart checked the name already,
     * but the image may have been swapped since. */
    if (trust_check_fd(image_reader_fd(st->reader), path, err, errlen) != 0)
        return -1;
    const struct image_header *h = image_reader_header(st->reader);
    if ((int)h->nranks == nranks && (int)h->rank != rank) {
        /* The right job size, the wrong rank: the file was renamed or
         * copied over another rank's, not the job started with another -np. */
        snprintf(err, errlen,
                 "%s is the image of rank %u, not of rank %d: the generation's images were renamed or swapped; "
                 "restart from another generation (mana-restart --generation N)",
                 path, h->rank, rank);
        return -1;
    }
    if ((int)h->nranks != nranks || (int)h->rank != rank) {
        snprintf(err, errlen,
                 "%s is the image of rank %u of a %u-rank job, but this is rank %d of %d: restart with "
                 "'mpirun -np %u mana-restart CKPT_DIR'",
                 path, h->rank, h->nranks, rank, nranks, h->nranks);
        return -1;
    }
    /* The image holds only the upper half, which speaks MPICH's ABI
     * whatever ran below it: another MPI's lower half takes it as well. */
    lower_face = h->face;
    if (h->flavour != lower_flavour && rank == 0)
        fprintf(stderr, "MANA: %s was saved under %s; restarting it under %s\n", path,
                image_flavour_name(h->flavour), image_flavour_name(lower_flavour));
    struct image_section s;
    int rc;
    while ((rc = image_reader_next(st->reader, &s)) > 0) {
        if (s.kind == IMAGE_SECTION_MACHINE) {
            if (image_reader_load_blob(st->reader, &s, &st->machine, &st->machine_len) != 0) {
                rc = -1;
                break;
            }
            continue;
        }
        if (s.kind != IMAGE_SECTION_THREADS)
            continue;
        struct image_thread_list list;
        if (image_reader_load_threads(st->reader, &s, &list) != 0) {
            rc = -1;
            break;
        }
        rc = load_threads(st, &list, err, errlen);
        image_thread_list_free(&list);
        if (rc != 0)
            return -1;
        image_reader_rewind(st->reader);
        return 0;
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", image_reader_error(st->reader));
    else
        snprintf(err, errlen, "%s has no thread records: it is not the image of a running rank", path);
    return -1;
}

int ckpt_restore_reserve(struct ckpt_restore *st, char *err, size_t errlen)
{
    struct image_section s;
    int rc;
    image_reader_rewind(st->reader);
    while ((rc = image_reader_next(st->reader, &s)) > 0) {
        if (s.kind != IMAGE_SECTION_REGION || s.region.length == 0)
            continue;
        uint64_t a = s.region.addr, len = s.region.length;
        void *p = mmap((void *)(uintptr_t)a, len, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED && errno == EEXIST)
            return 1;
        if (p == MAP_FAILED || (uint64_t)(uintptr_t)p != a) {
            if (p != MAP_FAILED)
                munmap(p, len);
            snprintf(err, errlen, "cannot reserve %#llx-%#llx (%s) for the saved upper half: %s",
                     (unsigned long long)a, (unsigned long long)(a + len), s.region.name,
                     p == MAP_FAILED ? strerror(errno) : "the kernel put it elsewhere (kernel older than 4.17?)");
            return -1;
        }
        region_labeller_mark_upper(a, a + len);
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s", image_reader_error(st->reader));
        return -1;
    }
    st->digest = image_reader_digest(st->reader);
    return 0;
}

int ckpt_restore_files(struct ckpt_restore *st, int verbose, char *err, size_t errlen)
{
    uint64_t size = image_reader_file_size(st->reader);
    image_reader_close(st->reader);
    st->reader = NULL;
    if (ckpt_files_hold(&st->proc.files, NULL, err, errlen) != 0 ||
        ckpt_files_reopen(&st->proc.files, verbose, err, errlen) != 0)
        return -1;
    st->reader = image_reader_open(st->path, err, errlen);
    if (st->reader == NULL || trust_check_fd(image_reader_fd(st->reader), st->path, err, errlen) != 0)
        return -1;
    if (image_reader_file_size(st->reader) != size) {
        snprintf(err, errlen, "%s changed while the restart read it: restart again", st->path);
        return -1;
    }
    return 0;
}

/* The pages the image holds as zeros need no writing into a fresh
 * mapping (IMAGE_DST_ZEROED), but left unmapped each one cost the
 * application a page fault on its first access: 11-37 us a fault in a
 * VM with shadow page tables, 131072 faults and 1.5 s more CPU for a rank
 * reading back 512 MiB of zeros after a restart. The checkpoint read
 * every page of every readable region, so the saved process had all of
 * them mapped: the reader maps them too, as reads would
 * (IMAGE_DST_MAP_ZEROS: the kernel's shared zero page, or zeroed pages on
 * a kernel that does not use it), chunk by chunk on the threads that
 * restore the data. In such a VM the first access from user mode to a
 * page the kernel mapped still costs about 8 us (the shadow entry), a
 * third of the fault it replaces. */
#define RESTORE_FLAGS (IMAGE_DST_ZEROED | IMAGE_DST_MAP_ZEROS)

int ckpt_restore_memory(struct ckpt_restore *st, char *err, size_t errlen)
{
    struct image_section s;
    int rc;
    image_reader_rewind(st->reader);
    /* All the CPUs this rank may use, as the checkpoint did: chunks are
     * independent, and the time is decompressing and page mapping. */
    image_reader_set_threads(st->reader, 0);
    while ((rc = image_reader_next(st->reader, &s)) > 0) {
        if (s.kind != IMAGE_SECTION_REGION || s.region.length == 0)
            continue;
        const struct image_region_info *ri = &s.region;
        void *at = (void *)(uintptr_t)ri->addr;
        int nodata = (ri->flags & IMAGE_REGION_NODATA) != 0;
        void *p = mmap(at, ri->length, nodata ? ri->prot : PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (nodata ? MAP_NORESERVE : 0), -1, 0);
        if (p != at) {
            snprintf(err, errlen, "cannot map %#llx-%#llx (%s) back: %s", (unsigned long long)ri->addr,
                     (unsigned long long)(ri->addr + ri->length), ri->name, strerror(errno));
            return -1;
        }
        region_labeller_mark_upper(ri->addr, ri->addr + ri->length);
        if (nodata)
            continue;
        if (image_reader_region_data(st->reader, &s, at, ri->length, RESTORE_FLAGS) != 0) {
            snprintf(err, errlen, "%s", image_reader_error(st->reader));
            return -1;
        }
        if (ri->prot != (PROT_READ | PROT_WRITE) && mprotect(at, ri->length, ri->prot) != 0) {
            snprintf(err, errlen, "cannot set the protection of %#llx-%#llx (%s): %s", (unsigned long long)ri->addr,
                     (unsigned long long)(ri->addr + ri->length), ri->name, strerror(errno));
            return -1;
        }
        st->regions++;
        st->bytes += ri->length;
    }
    image_reader_times(st->reader, &st->times);
    /* The threads end before the application's own come back. */
    image_reader_set_threads(st->reader, 1);
    if (rc < 0) {
        snprintf(err, errlen, "%s", image_reader_error(st->reader));
        return -1;
    }
    return 0;
}

struct kernel_sigaction {
    uint64_t handler, flags, restorer, mask;
};

int ckpt_restore_process(struct ckpt_restore *st, char *err, size_t errlen)
{
    const struct ckpt_process_state *p = &st->proc;
    if (chdir(p->cwd) != 0)
        fprintf(stderr, "MANA: the saved current directory %s is gone (%s): the application goes on in %s\n",
                p->cwd, strerror(errno), getcwd(NULL, 0));
    for (uint32_t i = 0; i < p->nsig; i++) {
        const struct ckpt_saved_sigaction *s = &p->sig[i];
        struct kernel_sigaction k = {s->handler, s->flags, s->restorer, s->mask};
        long rc = mana_raw_syscall6(SYS_rt_sigaction, s->sig, (long)&k, 0, 8, 0, 0);
        if (rc != 0) {
            snprintf(err, errlen, "cannot restore the application's action for signal %d: %s", s->sig,
                     strerror((int)-rc));
            return -1;
        }
    }
    for (int i = 0; i < CKPT_ITIMERS; i++) {
        const struct ckpt_itimer *it = &p->itimer[i];
        if (it->value_us == 0)
            continue;
        struct itimerval v = {{(time_t)(it->interval_us / 1000000u), (suseconds_t)(it->interval_us % 1000000u)},
                              {(time_t)(it->value_us / 1000000u), (suseconds_t)(it->value_us % 1000000u)}};
        if (setitimer(ckpt_itimer_which(i), &v, NULL) != 0) {
            snprintf(err, errlen, "cannot set the application's interval timer %d again: %s", ckpt_itimer_which(i),
                     strerror(errno));
            return -1;
        }
    }
    const struct ckpt_thread_state *t = &st->main;
    if (t->robust_head != 0)
        mana_raw_syscall6(SYS_set_robust_list, (long)t->robust_head, (long)t->robust_len, 0, 0, 0, 0);
    int32_t *tid_slot = (int32_t *)(uintptr_t)(t->upper_fs + t->tid_offset);
    mana_raw_syscall6(SYS_set_tid_address, (long)tid_slot, 0, 0, 0, 0, 0);
    *tid_slot = (int32_t)mana_raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    return 0;
}

int ckpt_restore_threads(struct ckpt_restore *st, struct mana_upper_threads *threads, char *err, size_t errlen)
{
    memset(threads->tid, 0, sizeof threads->tid);
    threads->pid = (int32_t)getpid();
    threads->tid[0] = (int32_t)mana_raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    /* Saved while the checkpoint thread held it; nobody holds it now. */
    atomic_store(&threads->create_lock, 0);
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (size_t i = 0; i < st->nothers; i++) {
        long tid = ckpt_resume_thread(&st->others[i]);
        if (tid < 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            snprintf(err, errlen, "cannot start the application's thread %zu of %zu (thread %d at the checkpoint): %s",
                     i + 2, st->nothers + 1, (int)st->others[i].tid, strerror((int)-tid));
            return -1;
        }
        threads->tid[i + 1] = (int32_t)tid;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

void ckpt_restore_close(struct ckpt_restore *st)
{
    free(st->others);
    st->others = NULL;
    free(st->machine);
    st->machine = NULL;
    ckpt_files_free(&st->proc.files);
    if (st->reader != NULL)
        image_reader_close(st->reader);
    st->reader = NULL;
}
