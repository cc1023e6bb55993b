#include "inspect_threads.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include "ckpt_state.h"

static const char *access_mode(int flags)
{
    switch (flags & O_ACCMODE) {
    case O_RDONLY:
        return "read";
    case O_WRONLY:
        return "write";
    default:
        return "read-write";
    }
}

static void print_process(const struct ckpt_process_state *p)
{
    static const char *const timer_name[CKPT_ITIMERS] = {"real", "virtual", "prof"};
    printf("  cwd       %s\n", p->cwd);
    printf("  signals   %u action(s) of the application:", p->nsig);
    for (uint32_t i = 0; i < p->nsig; i++)
        printf(" %d", p->sig[i].sig);
    printf("\n");
    for (int i = 0; i < CKPT_ITIMERS; i++)
        if (p->itimer[i].value_us != 0)
            printf("  timer     %s: fires in %" PRIu64 " us, every %" PRIu64 " us\n", timer_name[i],
                   p->itimer[i].value_us, p->itimer[i].interval_us);
    for (uint32_t i = 0; i < p->files.count; i++) {
        const struct ckpt_file *f = &p->files.f[i];
        printf("  file      fd %d %s (%s%s%s), offset %" PRIu64 ", size %" PRIu64 "\n", f->fd, f->path,
               access_mode(f->flags), (f->flags & O_APPEND) ? ", append" : "",
               (f->fd_flags & FD_CLOEXEC) ? ", close-on-exec" : "", f->offset, f->size);
    }
}

int inspect_print_threads(const struct image_thread_list *list)
{
    char err[512];
    for (uint32_t i = 0; i < list->count; i++) {
        struct ckpt_thread_state t;
        struct ckpt_process_state p;
        int rc = i == 0 ? ckpt_decode_main(list->data[i], list->len[i], &t, &p, err, sizeof err)
                        : ckpt_decode_thread(list->data[i], list->len[i], &t, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "mana-inspect: thread record %u: %s\n", i, err);
            return -1;
        }
        printf("thread %-4u tid %d at the checkpoint%s, %%fs %#" PRIx64 ", signal frame %#" PRIx64 "\n", i,
               (int)t.tid, i == 0 ? " (main: called MPI_Init)" : "", t.upper_fs, t.frame);
        if (i == 0) {
            print_process(&p);
            ckpt_files_free(&p.files);
        }
    }
    return 0;
}
