/* What an application must be for the split process to load it. */
#include "app_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_regular_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static enum app_check_status resolve(const char *name, char *out, size_t outlen, char *err, size_t errlen)
{
    if (strchr(name, '/') != NULL) {
        snprintf(out, outlen, "%s", name);
        struct stat st;
        if (stat(name, &st) != 0) {
            snprintf(err, errlen, "application '%s' not found (%s): check the path", name, strerror(errno));
            return APP_CHECK_NOT_FOUND;
        }
        if (!S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "application '%s' is not a regular file", name);
            return APP_CHECK_UNUSABLE;
        }
        if (access(name, X_OK) != 0) {
            snprintf(err, errlen, "application '%s' is not executable: chmod +x it", name);
            return APP_CHECK_UNUSABLE;
        }
        return APP_CHECK_OK;
    }
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    /* Every entry, including empty ones (the current directory) and a
     * trailing empty one after the last ':'. */
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len == 0)
            snprintf(out, outlen, "%s", name);
        else
            snprintf(out, outlen, "%.*s/%s", (int)len, p, name);
        if (is_regular_executable(out))
            return APP_CHECK_OK;
        if (colon == NULL)
            break;
        p = colon + 1;
    }
    snprintf(err, errlen, "application '%s' not found in $PATH: give its path (for example ./%s)", name, name);
    return APP_CHECK_NOT_FOUND;
}

enum app_check_status app_check(const char *name, char *resolved, size_t resolved_len, struct elf_image *img,
                                char *err, size_t errlen)
{
    enum app_check_status st = resolve(name, resolved, resolved_len, err, errlen);
    if (st != APP_CHECK_OK)
        return st;
    char why[4200];
    if (elf_image_read(resolved, img, why, sizeof why) != 0) {
        snprintf(err, errlen, "cannot run application: %s", why);
        return APP_CHECK_UNUSABLE;
    }
    if (img->interp[0] == '\0') {
        snprintf(err, errlen,
                 "application '%s' is statically linked: MANA loads the MPI library beside the program, so the "
                 "program must be dynamically linked (rebuild it with mpicc.mpich, without -static)",
                 resolved);
        return APP_CHECK_UNUSABLE;
    }
    if (elf_image_needs(img, "libmpi.so.40")) {
        snprintf(err, errlen,
                 "application '%s' is built against Open MPI's ABI (it needs libmpi.so.40); MANA runs programs "
                 "built for the MPICH ABI: rebuild it with mpicc.mpich",
                 resolved);
        return APP_CHECK_UNUSABLE;
    }
    return APP_CHECK_OK;
}
