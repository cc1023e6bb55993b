/* Bringing a rank's upper half back from its image in a fresh process
 * (docs/restart.md): reserve every saved range before MPI can map there,
 * then, once MPI runs, put the memory back, then the process state the
 * kernel keeps, and finally return into the stopped thread's signal
 * frame (ckpt_resume_frame). */
#ifndef MANA_CKPT_RESTORE_H
#define MANA_CKPT_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt_state.h"
#include "mana/call_table.h"
#include "image_reader.h"

struct ckpt_restore {
    struct image_reader *reader;
    char path[4096];
    struct ckpt_thread_state main;
    struct ckpt_thread_state *others; /* the application's other threads */
    size_t nothers;
    struct ckpt_process_state proc;
    unsigned long long regions, bytes;
    uint64_t digest; /* the image's, known after ckpt_restore_reserve */
    void *machine;   /* the image's machine record (NULL: none), machine_len bytes */
    size_t machine_len;
    struct image_read_times times; /* of ckpt_restore_memory */
};

/* Opens the image and checks it belongs to RANK of NRANKS; loads the
 * machine record and the thread records. 0, or -1 with ERR. */
int ckpt_restore_open(struct ckpt_restore *st, const char *path, int rank, int nranks, char *err, size_t errlen);

/* Maps every saved range PROT_NONE where it was. Returns 0; 1 when a
 * range is already taken by this process (the caller re-executes for a
 * new random layout); -1 with ERR for any other failure. */
int ckpt_restore_reserve(struct ckpt_restore *st, char *err, size_t errlen);

/* Before MPI starts: puts the application's files back at their fd
 * numbers (ckpt_files.h). The image is closed meanwhile, since its own
 * descriptor may sit on one of those numbers, and opened again. 0, or -1
 * with ERR. */
int ckpt_restore_files(struct ckpt_restore *st, int verbose, char *err, size_t errlen);

/* Fills the reserved ranges with the saved bytes and protections. */
int ckpt_restore_memory(struct ckpt_restore *st, char *err, size_t errlen);

/* The current directory, the application's signal actions and interval
 * timers, and the calling thread's robust list and thread id in its
 * upper descriptor: the calling thread becomes the restored main
 * thread. */
int ckpt_restore_process(struct ckpt_restore *st, char *err, size_t errlen);

/* Last, just before the calling thread resumes the main one: starts the
 * application's other threads where they stopped and makes THREADS list
 * this process's thread ids (the caller's for the main thread). 0, or -1
 * with ERR. */
int ckpt_restore_threads(struct ckpt_restore *st, struct mana_upper_threads *threads, char *err, size_t errlen);

void ckpt_restore_close(struct ckpt_restore *st);

#endif
