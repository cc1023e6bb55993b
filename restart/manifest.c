#include "manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trust.h"

int manifest_latest_dir(const char *ckpt_dir, char *out, size_t outlen, char *err, size_t errlen)
{
    char path[4200], name[256];
    snprintf(path, sizeof path, "%s/latest", ckpt_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen,
                 "%s has no complete checkpoint (%s: %s): checkpoint the job first with mana-ckpt --checkpoint, "
                 "or give the directory the job was launched with (--ckpt-dir)",
                 ckpt_dir, path, strerror(errno));
        return -1;
    }
    if (trust_check_fd(fileno(f), path, err, errlen) != 0) {
        fclose(f);
        return -2;
    }
    int ok = fscanf(f, "%255s", name) == 1 && strncmp(name, "gen-", 4) == 0 && strchr(name, '/') == NULL;
    fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s does not name a generation (expected 'gen-NNNNNN'): it is damaged; write the "
                 "name of a complete generation directory into it", path);
        return -1;
    }
    if ((size_t)snprintf(out, outlen, "%s/%s", ckpt_dir, name) >= outlen) {
        snprintf(err, errlen, "the path of %s/%s is too long", ckpt_dir, name);
        return -1;
    }
    return 0;
}

static int bad(const char *path, int line, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s, line %d: %s: the manifest is damaged; restart from an older generation", path, line,
             what);
    return -1;
}

int manifest_read(const char *gen_dir, struct manifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    char path[4200], line[512];
    snprintf(path, sizeof path, "%s/MANIFEST", gen_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen,
                 "%s is missing (%s): generation %s is not complete (its checkpoint never finished); restart from "
                 "a complete one",
                 path, strerror(errno), gen_dir);
        return -1;
    }
    if (trust_check_fd(fileno(f), path, err, errlen) != 0) {
        fclose(f);
        return -2;
    }
    /* Each rank has a line of at least "rank R F B C\n" (12 bytes): a
     * rank count the file cannot hold is damage, found before the table
     * for it is allocated. */
    struct stat st;
    long max_ranks = fstat(fileno(f), &st) == 0 ? (long)(st.st_size / 12) : 0;
    int version = 0, lineno = 0, seen = 0, ended = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        int r;
        char file[64];
        uint64_t bytes, sum;
        if (lineno == 1) {
            if (sscanf(line, "MANA-MANIFEST %d", &version) != 1)
                rc = bad(path, lineno, "not a MANA manifest", err, errlen);
            else if (version != 1)
                rc = bad(path, lineno, "a manifest version this MANA does not read", err, errlen);
        } else if (sscanf(line, "generation %" SCNu64, &m->generation) == 1) {
        } else if (sscanf(line, "nranks %d", &m->nranks) == 1) {
            if (m->nranks <= 0 || m->nranks > (1 << 24) || m->nranks > max_ranks || m->ranks != NULL)
                rc = bad(path, lineno, "bad rank count", err, errlen);
            else if ((m->ranks = calloc((size_t)m->nranks, sizeof *m->ranks)) == NULL)
                rc = bad(path, lineno, "out of memory", err, errlen);
        } else if (sscanf(line, "rank %d %63s %" SCNu64 " %" SCNx64, &r, file, &bytes, &sum) == 4) {
            if (m->ranks == NULL || r < 0 || r >= m->nranks || m->ranks[r].file[0] != '\0' || strchr(file, '/'))
                rc = bad(path, lineno, "a rank line that does not fit the rank count", err, errlen);
            else {
                snprintf(m->ranks[r].file, sizeof m->ranks[r].file, "%s", file);
                m->ranks[r].bytes = bytes;
                m->ranks[r].checksum = sum;
                seen++;
            }
        } else if (strcmp(line, "end\n") == 0) {
            ended = 1;
            break;
        }
    }
    fclose(f);
    if (rc == 0 && (!ended || m->ranks == NULL || seen != m->nranks))
        rc = bad(path, lineno, "incomplete (no 'end', or ranks missing)", err, errlen);
    if (rc != 0)
        manifest_free(m);
    return rc;
}

void manifest_free(struct manifest *m)
{
    free(m->ranks);
    m->ranks = NULL;
}
