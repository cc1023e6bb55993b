#define _GNU_SOURCE
#include "ckpt_write.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "ckpt_regions.h"
#include "machine_info.h"
#include "mana/raw_syscall.h"
#include "mana/test_faults.h"
#include "proc_maps.h"
#include "region_labeller.h"

struct kernel_sigaction {
    uint64_t handler, flags, restorer, mask;
};

int ckpt_capture_process(struct ckpt_process_state *p, uint64_t call_table, const int *ours, size_t nours,
                         char *err, size_t errlen)
{
    ckpt_files_free(&p->files);
    memset(p, 0, sizeof *p);
    p->call_table = call_table;
    if (getcwd(p->cwd, sizeof p->cwd) == NULL) {
        snprintf(err, errlen, "cannot read the current directory: %s", strerror(errno));
        return -1;
    }
    const struct region_registry *reg = region_labeller_registry();
    for (int sig = 1; sig <= CKPT_MAX_SIGNALS; sig++) {
        int skip = sig == SIGKILL || sig == SIGSTOP;
        for (size_t i = 0; i < nours; i++)
            skip |= ours[i] == sig;
        struct kernel_sigaction k;
        if (skip || mana_raw_syscall6(SYS_rt_sigaction, sig, 0, (long)&k, 8, 0, 0) != 0)
            continue;
        int ignore = k.handler == (uint64_t)(uintptr_t)SIG_IGN;
        int upper_fn = k.handler > 1 && region_registry_owner(reg, k.handler, k.handler + 1) == REGION_UPPER;
        if (!ignore && !upper_fn)
            continue;
        struct ckpt_saved_sigaction *s = &p->sig[p->nsig++];
        s->sig = sig;
        s->handler = k.handler;
        s->flags = k.flags;
        s->restorer = k.restorer;
        s->mask = k.mask;
    }
    for (int i = 0; i < CKPT_ITIMERS; i++) {
        struct itimerval v;
        if (getitimer(ckpt_itimer_which(i), &v) != 0)
            continue;
        p->itimer[i].value_us = (uint64_t)v.it_value.tv_sec * 1000000u + (uint64_t)v.it_value.tv_usec;
        p->itimer[i].interval_us = (uint64_t)v.it_interval.tv_sec * 1000000u + (uint64_t)v.it_interval.tv_usec;
    }
    return ckpt_files_capture(&p->files, NULL, 0, err, errlen);
}

int ckpt_find_tid_offset(struct ckpt_thread_state *t, char *err, size_t errlen)
{
    /* glibc keeps the tid a few hundred bytes into struct pthread, after
     * the TCB header (0x2d0 in glibc 2.36); search rather than trust one
     * version's layout. */
    const int32_t *words = (const int32_t *)(uintptr_t)t->upper_fs;
    for (uint32_t off = 0x100; off < 0x1000; off += 4) {
        if (words[off / 4] == t->tid) {
            t->tid_offset = off;
            return 0;
        }
    }
    snprintf(err, errlen, "cannot find thread %d's id in its upper thread descriptor at %#llx", (int)t->tid,
             (unsigned long long)t->upper_fs);
    return -1;
}

int ckpt_write_image(const char *path, const struct image_writer_header *hdr, const struct ckpt_thread_state *threads,
                     size_t nthreads, const struct ckpt_process_state *p, struct image_summary *summary, char *err,
                     size_t errlen)
{
    static char maps[4 << 20];
    if (proc_maps_read(maps, sizeof maps) < 0) {
        snprintf(err, errlen, "cannot read /proc/self/maps (or it is over %zu bytes)", sizeof maps);
        return -1;
    }
    struct ckpt_region_list regions;
    if (ckpt_regions_collect(maps, region_labeller_registry(), &regions, err, errlen) != 0)
        return -1;
    struct image_writer *w = image_writer_open(path, hdr, NULL, err, errlen);
    if (w == NULL) {
        ckpt_regions_free(&regions);
        return -1;
    }
    size_t machine_len;
    const char *machine = machine_info_current(&machine_len);
    int rc = image_writer_add_machine(w, machine, machine_len), no_memory = 0;
    for (size_t i = 0; rc == 0 && i < nthreads; i++) {
        size_t len;
        uint8_t *rec = i == 0 ? ckpt_encode_main(&threads[0], p, &len) : ckpt_encode_thread(&threads[i], &len);
        no_memory = rec == NULL;
        rc = rec == NULL ? -1 : image_writer_add_thread(w, rec, len);
        free(rec);
    }
    for (size_t i = 0; rc == 0 && i < regions.count; i++) {
        const struct ckpt_region *r = &regions.r[i];
        /* Unreadable regions are reserves and guard pages: their place
         * and protection are kept, not their (absent) contents. */
        const void *data = (r->prot & PROT_READ) ? (const void *)(uintptr_t)r->start : NULL;
        /* Half the regions in: the temporary file is there, part written. */
        if (i == regions.count / 2)
            test_fault_point("write", (int)hdr->rank, hdr->generation);
        rc = image_writer_add_region(w, r->start, r->end - r->start, r->prot, r->flags, r->name, data);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s", no_memory ? "out of memory encoding a thread record" : image_writer_error(w));
        image_writer_abort(w);
    } else {
        rc = image_writer_finish(w, summary, err, errlen);
    }
    ckpt_regions_free(&regions);
    return rc;
}
