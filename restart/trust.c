/* The trust check of what a restart reads (see trust.h): one place, so
 * mana-restart, the restoring lower half and the coordinator refuse the
 * same things with the same words. */
#define _GNU_SOURCE
#include "trust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_stat(const struct stat *st, const char *path, char *err, size_t errlen)
{
    uid_t me = geteuid();
    if (st->st_uid != me) {
        snprintf(err, errlen,
                 "%s belongs to uid %u, not to you (uid %u): MANA restarts only from checkpoints written by "
                 "the user restarting them; if you trust it, copy it or take it over ('chown %u %s') and "
                 "try again",
                 path, (unsigned)st->st_uid, (unsigned)me, (unsigned)me, path);
        return -1;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(err, errlen,
                 "%s is %s (mode %04o): someone else could have changed it, so MANA does not trust it; if you "
                 "trust it, make it yours alone ('chmod go-w %s') and try again",
                 path, (st->st_mode & S_IWOTH) ? "world-writable" : "group-writable",
                 (unsigned)(st->st_mode & 07777), path);
        return -1;
    }
    return 0;
}

int trust_check_fd(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot check the owner and mode of %s: %s", path, strerror(errno));
        return -1;
    }
    return check_stat(&st, path, err, errlen);
}

int trust_check_path(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = trust_check_fd(fd, path, err, errlen);
    close(fd);
    return rc;
}
