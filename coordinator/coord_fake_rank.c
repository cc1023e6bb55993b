/* coord-fake-rank: one simulated rank for the coordinator's tests. It
 * connects through the real client library, and on CHECKPOINT writes a
 * fake image rank-RRRRR.mana of --size bytes (tmp + fsync + rename, as
 * the real writer does) and reports DONE with its XXH64, or a failure.
 *
 * Output (stdout), one line per event: "rank R: connected",
 * "rank R: wrote generation G (N bytes)", "rank R: resumed after
 * generation G ok=1", "rank R: exit after generation G (MANIFEST
 * present)", "rank R: killed".
 *
 * Exit status: 0 after EXIT when the generation's MANIFEST exists (5 if
 * it does not: the coordinator told it to exit too early), 4 after KILL,
 * 1 connection lost or error, 2 usage. SIGUSR1 sends REQUEST exit=1,
 * SIGUSR2 REQUEST exit=0. */
#define _GNU_SOURCE
#include "coord_client.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static volatile sig_atomic_t want_request;

static void on_signal(int sig)
{
    want_request = sig == SIGUSR1 ? 2 : 1;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: coord-fake-rank --rank R --nranks N [--ckpt-dir DIR] [--size BYTES]\n"
               "                       [--fail] [--fail-gen G] [--lie-size] [--delay-ms MS] [--bye]\n"
               "A simulated rank for the coordinator's tests (see the source's header).\n");
}

/* Writes DIR/rank-RRRRR.mana: 0 and *SUM, or -1 with ERR. */
static int write_image(const char *dir, int rank, uint64_t gen, uint64_t size, uint64_t *sum, char *err,
                       size_t errlen)
{
    char tmp[4200], dst[4200];
    snprintf(tmp, sizeof tmp, "%s/rank-%05d.mana.tmp", dir, rank);
    snprintf(dst, sizeof dst, "%s/rank-%05d.mana", dir, rank);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s (%s)", tmp, strerror(errno));
        return -1;
    }
    XXH64_state_t *st = XXH64_createState();
    XXH64_reset(st, 0);
    char buf[65536];
    uint64_t x = (gen << 20) ^ (uint64_t)rank ^ 0x9e3779b97f4a7c15ull, left = size;
    while (left) {
        size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (char)x;
        }
        if (write(fd, buf, n) != (ssize_t)n) {
            snprintf(err, errlen, "cannot write %s (%s)", tmp, strerror(errno));
            close(fd);
            XXH64_freeState(st);
            return -1;
        }
        XXH64_update(st, buf, n);
        left -= n;
    }
    *sum = XXH64_digest(st);
    XXH64_freeState(st);
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, dst) != 0) {
        snprintf(err, errlen, "cannot finish %s (%s)", dst, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int rank = -1, nranks = -1, fail = 0, lie = 0, delay_ms = 0, bye = 0;
    long long fail_gen = -1;
    uint64_t size = 4096;
    static const struct option opts[] = {{"rank", required_argument, NULL, 'r'},
                                         {"nranks", required_argument, NULL, 'n'},
                                         {"ckpt-dir", required_argument, NULL, 'd'},
                                         {"size", required_argument, NULL, 's'},
                                         {"fail", no_argument, NULL, 'f'},
                                         {"fail-gen", required_argument, NULL, 'g'},
                                         {"lie-size", no_argument, NULL, 'l'},
                                         {"delay-ms", required_argument, NULL, 'w'},
                                         {"bye", no_argument, NULL, 'b'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'r': rank = atoi(optarg); break;
        case 'n': nranks = atoi(optarg); break;
        case 'd': dir = optarg; break;
        case 's': size = strtoull(optarg, NULL, 10); break;
        case 'f': fail = 1; break;
        case 'g': fail_gen = atoll(optarg); break;
        case 'l': lie = 1; break;
        case 'w': delay_ms = atoi(optarg); break;
        case 'b': bye = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (rank < 0 || nranks < 1 || optind < argc) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);

    char hp[512], tok[128], err[4400];
    struct coord_client *c;
    if (coord_client_find(dir, hp, sizeof hp, tok, sizeof tok, err, sizeof err) < 0 ||
        coord_client_connect(hp, tok, rank, nranks, &c, err, sizeof err) < 0) {
        fprintf(stderr, "coord-fake-rank %d: %s\n", rank, err);
        return 1;
    }
    printf("rank %d: connected\n", rank);
    char last_dir[4096] = "";
    uint64_t last_gen = 0;
    for (;;) {
        if (want_request) {
            int ex = want_request == 2;
            want_request = 0;
            if (coord_client_request_checkpoint(c, ex) < 0) {
                fprintf(stderr, "coord-fake-rank %d: cannot send REQUEST (%s)\n", rank, strerror(errno));
                return 1;
            }
            printf("rank %d: asked for a checkpoint (exit=%d)\n", rank, ex);
        }
        struct coord_cmd cmd;
        int r = coord_client_poll(c, &cmd, 100, err, sizeof err);
        if (r < 0) {
            fprintf(stderr, "coord-fake-rank %d: %s\n", rank, err);
            coord_client_close(c, 0);
            return 1;
        }
        if (r == 0)
            continue;
        switch (cmd.kind) {
        case COORD_CMD_CHECKPOINT:
            /* A real rank says READY once it accepted; it writes at GO. */
            snprintf(last_dir, sizeof last_dir, "%s", cmd.dir);
            last_gen = cmd.gen;
            if (coord_client_ready(c, cmd.gen) < 0) {
                fprintf(stderr, "coord-fake-rank %d: cannot send READY (%s)\n", rank, strerror(errno));
                return 1;
            }
            break;
        case COORD_CMD_GO: {
            cmd.gen = last_gen;
            if (delay_ms)
                usleep((useconds_t)delay_ms * 1000);
            uint64_t sum = 0;
            int bad = fail || (fail_gen >= 0 && (uint64_t)fail_gen == cmd.gen);
            if (bad) {
                snprintf(err, sizeof err, "simulated failure: no space left on device (rank %d)", rank);
            } else if (write_image(last_dir, rank, cmd.gen, size, &sum, err, sizeof err) == 0) {
                printf("rank %d: wrote generation %" PRIu64 " (%" PRIu64 " bytes)\n", rank, cmd.gen, size);
            } else {
                bad = 1;
            }
            if (coord_client_report(c, cmd.gen, !bad, lie ? size + 1 : size, sum, bad ? err : NULL) < 0) {
                fprintf(stderr, "coord-fake-rank %d: cannot send DONE (%s)\n", rank, strerror(errno));
                return 1;
            }
            break;
        }
        case COORD_CMD_RESUME:
            printf("rank %d: resumed after generation %" PRIu64 " ok=%d\n", rank, cmd.gen, cmd.ok);
            if (bye) {
                coord_client_close(c, 1);
                printf("rank %d: said BYE\n", rank);
                return 0;
            }
            break;
        case COORD_CMD_EXIT: {
            char m[4200];
            struct stat st;
            snprintf(m, sizeof m, "%s/MANIFEST", last_dir);
            int present = last_dir[0] && stat(m, &st) == 0;
            printf("rank %d: exit after generation %" PRIu64 " (MANIFEST %s)\n", rank, cmd.gen,
                   present ? "present" : "MISSING");
            coord_client_close(c, 1);
            return present ? 0 : 5;
        }
        case COORD_CMD_KILL:
            printf("rank %d: killed\n", rank);
            coord_client_close(c, 0);
            return 4;
        default:
            break;
        }
    }
}
