/* The application's open regular files across a checkpoint: which are
 * saved, how they are encoded in the image, and how a restart puts them
 * back at the same fd numbers.
 *
 * Policy. Saved: every fd above 2 that is a regular file with an
 * absolute path that still exists, and that the caller does not list as
 * its own (the lower half's own files). For each: the fd number, the open
 * flags (F_GETFL), FD_CLOEXEC, the offset, and the file's size at the
 * checkpoint. Not saved: fds 0, 1 and 2 (the launcher passes the new
 * ones through), pipes, sockets, devices, eventfds, epoll and other
 * non-regular fds, and /dev/shm files (the MPI library's shared memory:
 * the new MPI makes its own). A deleted regular file elsewhere
 * (tmpfile(), O_TMPFILE, unlink after open) belongs to the application
 * and cannot be reopened: the checkpoint fails and says so.
 *
 * The contents are not saved. A restart rolls back what was appended
 * after the checkpoint: a file open for writing that has grown since is
 * truncated to its size at the checkpoint. Bytes overwritten in place
 * after the checkpoint are not undone, and a file that shrank (or, read
 * only, became shorter than the saved offset) is refused, since the
 * restarted run would read or write the wrong bytes.
 *
 * The restart has two steps, before the start of the new MPI library,
 * which opens fds of its own and would take the saved numbers:
 * ckpt_files_hold(), to hold each saved number with a placeholder on
 * /dev/null (moving away what the launcher left there), and
 * ckpt_files_reopen(), to put each file at its number.
 *
 * Encoding (little-endian, no padding):
 *
 *   magic     8  "MANAFIL1"
 *   count     4  number of files, <= CKPT_FILES_MAX, in increasing fd order
 *   count times:
 *     fd        4  > 2, each larger than the one before
 *     flags     4  F_GETFL at the checkpoint
 *     fd_flags  4  0 or FD_CLOEXEC
 *     offset    8
 *     size      8  st_size at the checkpoint
 *     path_len  4  1 .. PATH_MAX - 1
 *     path      path_len bytes, absolute, no NUL, not NUL-terminated
 *
 * and nothing after the last file. */
#ifndef MANA_CKPT_FILES_H
#define MANA_CKPT_FILES_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define CKPT_FILES_MAGIC "MANAFIL1"
#define CKPT_FILES_MAX 65536

struct ckpt_file {
    int32_t fd;
    int32_t flags;    /* open flags from fcntl(F_GETFL) */
    int32_t fd_flags; /* FD_CLOEXEC */
    uint64_t offset;
    uint64_t size;    /* st_size at the checkpoint */
    char path[PATH_MAX];
};

struct ckpt_file_table {
    uint32_t count;
    struct ckpt_file *f; /* malloc'd, count entries, in increasing fd order */
};

void ckpt_files_free(struct ckpt_file_table *t);

/* Fills T with this process's files to save (policy above), leaving out
 * the NSKIP fds of SKIP. 0, or -1 with ERR (T then empty). Runs on any
 * thread that shares the application's fd table. */
int ckpt_files_capture(struct ckpt_file_table *t, const int *skip, size_t nskip, char *err, size_t errlen);

/* A malloc'd buffer and its length, or NULL (out of memory, or T not in
 * strictly increasing fd order, or a path too long). */
uint8_t *ckpt_files_encode(const struct ckpt_file_table *t, size_t *len);
/* 0, or -1 with ERR for bytes that are not such a table (T then empty). */
int ckpt_files_decode(const uint8_t *buf, size_t len, struct ckpt_file_table *t, char *err, size_t errlen);

/* In the restarted process, before MPI starts: holds every saved fd
 * number with a close-on-exec placeholder on /dev/null, moving away what
 * the launcher left there. *MOVED_PMI_FD (if not NULL) is set to the new
 * number of the PMI_FD socket when it had to move (PMI_FD is updated),
 * else to -1. 0, or -1 with ERR. */
int ckpt_files_hold(const struct ckpt_file_table *t, int *moved_pmi_fd, char *err, size_t errlen);

/* After ckpt_files_hold (before or after MPI started): opens every file again, puts it at its number in
 * place of the placeholder with its saved flags, FD_CLOEXEC and offset,
 * and rolls back growth since the checkpoint (a line on stderr for each
 * when VERBOSE). Checks every file before it changes anything: on -1
 * (with ERR) no file was truncated and no placeholder replaced. */
int ckpt_files_reopen(const struct ckpt_file_table *t, int verbose, char *err, size_t errlen);

#endif
