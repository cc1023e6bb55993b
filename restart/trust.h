/* Whether a restart may trust what it reads from a checkpoint directory.
 *
 * A checkpoint image is the whole memory of a process: whoever can change
 * it decides what the restarted process runs. So a restart takes an image,
 * MANIFEST, `latest`, generation directory or CKPT_DIR only when it belongs
 * to the user running the restart (st_uid == geteuid()) and no one else
 * may write it (no group or world write bit). Everything MANA writes there
 * is created that way (0600 files, 0700 directories), so only a change
 * made afterwards, by hand or by someone else, trips these checks.
 *
 * Check the descriptor the data is then read from (trust_check_fd), so the
 * object checked is the object read; trust_check_path is for directories. */
#ifndef MANA_TRUST_H
#define MANA_TRUST_H

#include <stddef.h>

/* 0 if the file or directory open on FD (named PATH in messages) is one a
 * restart may trust; -1 with ERR naming PATH, the cause (its owner, or
 * group- or world-writable with its mode) and the fix. */
int trust_check_fd(int fd, const char *path, char *err, size_t errlen);

/* The same for PATH itself (following symbolic links); -1 also when PATH
 * cannot be opened, with errno's reason in ERR. */
int trust_check_path(const char *path, char *err, size_t errlen);

#endif
