#define _GNU_SOURCE
#include "generation_pick.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "image_reader.h"
#include "manifest.h"
#include "trust.h"

/* Image R of manifest M in GEN_DIR is the one the manifest recorded:
 * PICK_OK, else PICK_DAMAGED or PICK_UNTRUSTED with ERR. */
static enum pick_status check_image(const char *gen_dir, const struct manifest *m, int r, char *err, size_t errlen)
{
    char path[PATH_MAX + 160];
    snprintf(path, sizeof path, "%s/%s", gen_dir, m->ranks[r].file);
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size != m->ranks[r].bytes) {
        snprintf(err, errlen, "rank %d: image %s is %s (the manifest says %" PRIu64 " bytes)", r, path,
                 fd < 0 ? strerror(errno) : "of another size", m->ranks[r].bytes);
        if (fd >= 0)
            close(fd);
        return PICK_DAMAGED;
    }
    close(fd);
    struct image_reader *rd = image_reader_open(path, err, errlen);
    if (rd == NULL)
        return PICK_DAMAGED;
    enum pick_status rc = PICK_OK;
    const struct image_header *h = image_reader_header(rd);
    uint64_t digest;
    /* The file read, not its name (trust.h). */
    if (trust_check_fd(image_reader_fd(rd), path, err, errlen) != 0)
        rc = PICK_UNTRUSTED;
    else if ((int)h->nranks == m->nranks && (int)h->rank != r) {
        snprintf(err, errlen, "%s is the image of rank %u, not of rank %d: the generation's images were renamed or "
                 "swapped", path, h->rank, r);
        rc = PICK_DAMAGED;
    } else if ((int)h->nranks != m->nranks) {
        snprintf(err, errlen, "%s is the image of a %u-rank job, but its MANIFEST says %d ranks", path, h->nranks,
                 m->nranks);
        rc = PICK_DAMAGED;
    } else if (image_reader_tail_digest(rd, &digest) != 0) {
        snprintf(err, errlen, "%s", image_reader_error(rd));
        rc = PICK_DAMAGED;
    } else if (digest != m->ranks[r].checksum) {
        snprintf(err, errlen, "%s: its digest %016" PRIx64 " is not the %016" PRIx64 " its generation's MANIFEST "
                 "recorded: the image was replaced or damaged", path, digest, m->ranks[r].checksum);
        rc = PICK_DAMAGED;
    }
    image_reader_close(rd);
    return rc;
}

/* GEN_DIR checks for rank RANK of NRANKS (generation_pick.h). */
static enum pick_status check_generation(const char *gen_dir, int rank, int nranks, struct generation_choice *out,
                                         char *err, size_t errlen)
{
    char marker[PATH_MAX + 80];
    snprintf(marker, sizeof marker, "%s/" GENERATION_DAMAGED_FILE, gen_dir);
    FILE *f = fopen(marker, "r");
    if (f != NULL) {
        char why[1024] = "";
        size_t n = fread(why, 1, sizeof why - 1, f);
        fclose(f);
        why[n] = '\0';
        why[strcspn(why, "\n")] = '\0';
        snprintf(err, errlen, "%s was marked damaged by an earlier restart: %s", gen_dir, why);
        return PICK_DAMAGED;
    }
    struct manifest m;
    int rc = manifest_read(gen_dir, &m, err, errlen);
    /* No MANIFEST, or one cut short: the generation never completed. */
    if (rc != 0)
        return rc == -2 ? PICK_UNTRUSTED : PICK_NONE;
    enum pick_status st = PICK_OK;
    out->nranks = m.nranks; /* for the message of PICK_RANKS too */
    if (trust_check_path(gen_dir, err, errlen) != 0)
        st = PICK_UNTRUSTED;
    else if (m.nranks != nranks) {
        snprintf(err, errlen, "%s was checkpointed with %d ranks but this job has %d", gen_dir, m.nranks, nranks);
        st = PICK_RANKS;
    }
    /* Every rank checks every image, so that all come to the same
     * verdict: a rank that alone gave up would leave the others waiting
     * in MPI_Init. */
    for (int r = 0; st == PICK_OK && r < m.nranks; r++)
        st = check_image(gen_dir, &m, r, err, errlen);
    if (st == PICK_OK) {
        out->generation = m.generation;
        snprintf(out->gen_dir, sizeof out->gen_dir, "%s", gen_dir);
        snprintf(out->image, sizeof out->image, "%s/%s", gen_dir, m.ranks[rank].file);
        out->digest = m.ranks[rank].checksum;
    }
    manifest_free(&m);
    return st;
}

enum pick_status generation_pick_named(const char *dir, uint64_t generation, int rank, int nranks,
                                       struct generation_choice *out, char *err, size_t errlen)
{
    char gen_dir[PATH_MAX + 64];
    if (trust_check_path(dir, err, errlen) != 0)
        return PICK_UNTRUSTED;
    if (generation != 0) {
        snprintf(gen_dir, sizeof gen_dir, "%s/gen-%06" PRIu64, dir, generation);
    } else {
        int rc = manifest_latest_dir(dir, gen_dir, sizeof gen_dir, err, errlen);
        if (rc != 0)
            return rc == -2 ? PICK_UNTRUSTED : PICK_NONE;
    }
    enum pick_status st = check_generation(gen_dir, rank, nranks, out, err, errlen);
    if (st == PICK_DAMAGED) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, ": the checkpoint is damaged; restart from an older generation with "
                 "--generation N");
    }
    return st;
}

/* gen-NNNNNN with digits only: its number, else 0. */
static uint64_t generation_number(const char *name)
{
    if (strncmp(name, "gen-", 4) != 0 || name[4] == '\0')
        return 0;
    char *end;
    errno = 0;
    unsigned long long g = strtoull(name + 4, &end, 10);
    if (*end != '\0' || errno != 0 || name[4] < '0' || name[4] > '9')
        return 0;
    return g;
}

/* The generation numbers in DIR, newest first, in *OUT (free()); their
 * count, or -1 with ERR. */
static int list_generations(const char *dir, uint64_t **out, char *err, size_t errlen)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot read checkpoint directory %s: %s", dir, strerror(errno));
        return -1;
    }
    uint64_t *gens = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t g = generation_number(e->d_name);
        if (g == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *grown = realloc(gens, cap * sizeof *gens);
            if (grown == NULL) {
                free(gens);
                closedir(d);
                snprintf(err, errlen, "out of memory listing %s", dir);
                return -1;
            }
            gens = grown;
        }
        gens[n++] = g;
    }
    closedir(d);
    /* Newest first; insertion sort: a directory keeps few generations. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && gens[j - 1] < gens[j]; j--) {
            uint64_t t = gens[j];
            gens[j] = gens[j - 1];
            gens[j - 1] = t;
        }
    *out = gens;
    return (int)n;
}

int generation_any(const char *dir, char *err, size_t errlen)
{
    uint64_t *gens;
    int n = list_generations(dir, &gens, err, errlen);
    free(gens);
    return n < 0 ? -1 : n > 0;
}

enum pick_status generation_pick_newest(const char *dir, int rank, int nranks, struct generation_choice *out,
                                        void (*skipped)(const char *line), char *err, size_t errlen)
{
    if (trust_check_path(dir, err, errlen) != 0)
        return PICK_UNTRUSTED;
    uint64_t *gens;
    int n = list_generations(dir, &gens, err, errlen);
    if (n < 0)
        return PICK_DAMAGED;
    /* What was wrong with each generation passed over, for the message
     * when none checks. */
    size_t used = 0;
    char *why_all = calloc(1, errlen);
    char why[4096];
    enum pick_status st = PICK_NONE;
    for (int i = 0; i < n; i++) {
        char gen_dir[PATH_MAX + 64];
        snprintf(gen_dir, sizeof gen_dir, "%s/gen-%06" PRIu64, dir, gens[i]);
        st = check_generation(gen_dir, rank, nranks, out, why, sizeof why);
        if (st == PICK_OK || st == PICK_RANKS || st == PICK_UNTRUSTED) {
            snprintf(err, errlen, "%s", why);
            break;
        }
        st = PICK_NONE;
        if (skipped != NULL) {
            char line[sizeof why + 64];
            snprintf(line, sizeof line, "passing over generation %" PRIu64 ": %s", gens[i], why);
            skipped(line);
        }
        if (why_all != NULL && used < errlen)
            used += (size_t)snprintf(why_all + used, errlen - used, "\n  gen-%06" PRIu64 ": %s", gens[i], why);
    }
    if (st == PICK_NONE)
        snprintf(err, errlen,
                 "%s holds %d checkpoint generation%s but none of them can be restarted, so the job is not started "
                 "from the beginning either (that would lose its work):%s\nrepair or restore one, or remove the "
                 "gen-* directories (or give another --ckpt-dir) to start the job from the beginning",
                 dir, n, n == 1 ? "" : "s", why_all ? why_all : "");
    free(why_all);
    free(gens);
    return st;
}

int generation_mark_damaged(const char *gen_dir, const char *why)
{
    char path[PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/" GENERATION_DAMAGED_FILE, gen_dir);
    /* Several ranks may find damage at once: the first one's reason
     * stays. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? 0 : -1;
    size_t len = strlen(why);
    int rc = write(fd, why, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0 ? 0 : -1;
    close(fd);
    return rc;
}
