/* mana-inspect: prints a checkpoint image and checks it, through the same
 * reader restart uses (restart/image_reader.c), so it accepts exactly
 * what restart accepts.
 *
 * Exit status: 0 the image is fine, 1 it is damaged, truncated or
 * unreadable (the message says which and where), 2 usage. */
#include "image_reader.h"
#include "inspect_threads.h"
#include "machine_record.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f, "Usage: mana-inspect [--verify] [--regions] [--threads] IMAGE\n"
               "Prints a MANA checkpoint image: its header, the machine it was taken on, its\n"
               "sections, the MPI state size and a summary of its memory regions.\n"
               "\n"
               "  --regions   list every memory region: address range, protection, flags,\n"
               "              bytes, zero pages (not stored), compressed bytes, name\n"
               "  --threads   list every saved thread (its id at the checkpoint, %%fs, signal\n"
               "              frame) and the process record: current directory, signal\n"
               "              actions, interval timers, open files\n"
               "  --verify    decompress everything and check every checksum; prints\n"
               "              \"checksums OK\" or what is damaged and where\n"
               "  --help      this text\n"
               "\n"
               "Without --verify, every header, length and the image digest are checked,\n"
               "but region data is not read.\n"
               "Exit status: 0 fine, 1 damaged or unreadable image, 2 usage error.\n");
}

static const char *human(uint64_t n, char *buf, size_t len)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRIu64 " B", n);
    else
        snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}

/* NAME with control characters shown as \xNN: names and host names come
 * from the file, and a damaged one must not drive the terminal. */
static const char *printable(const char *name, char *buf, size_t len)
{
    size_t at = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && at + 5 < len; p++) {
        if (*p < 0x20 || *p == 0x7f)
            at += (size_t)snprintf(buf + at, len - at, "\\x%02x", *p);
        else
            buf[at++] = (char)*p;
    }
    buf[at] = '\0';
    return buf;
}

static const char *flag_string(unsigned f, char *buf)
{
    buf[0] = (f & IMAGE_REGION_SHARED) ? 's' : 'p';
    buf[1] = (f & IMAGE_REGION_GROWSDOWN) ? 'g' : '-';
    buf[2] = (f & IMAGE_REGION_NODATA) ? 'n' : '-';
    buf[3] = '\0';
    return buf;
}

static void print_header(const char *path, const struct image_reader *r)
{
    const struct image_header *h = image_reader_header(r);
    char tb[64] = "?", hb[32];
    time_t sec = (time_t)(h->created_ns / 1000000000u);
    struct tm tm;
    if (gmtime_r(&sec, &tm))
        strftime(tb, sizeof tb, "%Y-%m-%d %H:%M:%S", &tm);
    printf("image       %s\n", path);
    printf("format      version %u\n", h->version);
    printf("rank        %u of %u\n", h->rank, h->nranks);
    printf("mpi         %s\n", image_flavour_name(h->flavour));
    printf("face        %s\n", image_face_name(h->face));
    printf("generation  %" PRIu64 "\n", h->generation);
    printf("created     %s.%09" PRIu64 " UTC\n", tb, h->created_ns % 1000000000u);
    char nb[4 * IMAGE_HOSTNAME_MAX + 8];
    printf("host        %s\n", printable(h->hostname, nb, sizeof nb));
    printf("raw bytes   %" PRIu64 " (%s)\n", h->total_raw, human(h->total_raw, hb, sizeof hb));
    uint64_t fs = image_reader_file_size(r);
    printf("file bytes  %" PRIu64 " (%s", fs, human(fs, hb, sizeof hb));
    if (h->total_raw)
        printf(", %.1f%% of raw", 100.0 * (double)fs / (double)h->total_raw);
    printf(")\n");
}

/* The machine block: what the MACHINE section recorded, one field a
 * line, in the order written; unknown keys as they are. */
static void print_machine(const struct image_header *h, const void *data, size_t len, int have)
{
    if (!have) {
        if (h->version < 2)
            printf("machine     not recorded (format version %u)\n", h->version);
        else
            printf("machine     not recorded\n");
        return;
    }
    struct machine_record m;
    if (machine_record_parse(data, len, &m) != 0) {
        printf("machine     %zu bytes (out of memory to show them)\n", len);
        return;
    }
    printf("machine:\n");
    for (size_t i = 0; i < m.nfields; i++) {
        const char *key = m.f[i].key;
        const char *label = machine_key_label(key);
        char vb[4 * MACHINE_VALUE_MAX + 8];
        machine_printable(m.f[i].value, vb, sizeof vb);
        if (strncmp(key, MACHINE_NET_PREFIX, strlen(MACHINE_NET_PREFIX)) == 0)
            printf("  %-18s %s=%s\n", "transport", key + strlen(MACHINE_NET_PREFIX), vb);
        else
            printf("  %-18s %s\n", label ? label : key, vb);
    }
    if (m.skipped)
        printf("  (%u malformed lines left out)\n", m.skipped);
    machine_record_free(&m);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"verify", no_argument, NULL, 'v'},
        {"regions", no_argument, NULL, 'r'},
        {"threads", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int verify = 0, regions = 0, threads = 0, c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'v':
            verify = 1;
            break;
        case 'r':
            regions = 1;
            break;
        case 't':
            threads = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "mana-inspect: %s\n", optind == argc ? "no image given" : "one image at a time");
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    char err[1024];
    struct image_reader *r = image_reader_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "mana-inspect: %s\n", err);
        return 1;
    }
    print_header(path, r);

    struct image_section s;
    int rc;
    uint64_t nregions = 0, region_bytes = 0, pages = 0, zero_pages = 0, frame_bytes = 0, nodata = 0;
    int have_mpi = 0, have_threads = 0, have_machine = 0;
    void *machine = NULL;
    size_t machine_len = 0;
    uint64_t mpi_bytes = 0;
    uint32_t nthreads = 0;
    uint64_t thread_bytes = 0;
    int failed = 0, bad_record = 0;
    if (regions)
        printf("regions:\n  %-37s %-4s %-5s %14s %17s %12s  %s\n", "address range", "prot", "flags", "bytes",
               "zero pages", "stored", "name");
    while ((rc = image_reader_next(r, &s)) > 0) {
        if (s.kind == IMAGE_SECTION_MACHINE) {
            if (image_reader_load_blob(r, &s, &machine, &machine_len) < 0) {
                failed = 1;
                break;
            }
            have_machine = 1;
        } else if (s.kind == IMAGE_SECTION_MPI_STATE) {
            have_mpi = 1;
            mpi_bytes = s.raw_len;
        } else if (s.kind == IMAGE_SECTION_THREADS) {
            struct image_thread_list t;
            if (image_reader_load_threads(r, &s, &t) < 0) {
                failed = 1;
                break;
            }
            have_threads = 1;
            nthreads = t.count;
            thread_bytes = s.raw_len;
            bad_record = threads && inspect_print_threads(&t) != 0;
            image_thread_list_free(&t);
        } else if (s.kind == IMAGE_SECTION_REGION) {
            struct image_region_stats st;
            if (image_reader_region_scan(r, &s, &st) < 0) {
                failed = 1;
                break;
            }
            nregions++;
            region_bytes += s.region.length;
            pages += st.pages;
            zero_pages += st.zero_pages;
            frame_bytes += st.frame_bytes;
            nodata += (s.region.flags & IMAGE_REGION_NODATA) != 0;
            if (regions) {
                static char nb[4 * IMAGE_NAME_MAX + 8];
                char pb[4], fb[4], zb[32];
                snprintf(zb, sizeof zb, "%" PRIu64 "/%" PRIu64, st.zero_pages, st.pages);
                printf("  %#018" PRIx64 "-%#018" PRIx64 " %-4s %-5s %14" PRIu64 " %17s %12" PRIu64 "  %s\n",
                       s.region.addr, s.region.addr + s.region.length, image_prot_string(s.region.prot, pb),
                       flag_string(s.region.flags, fb), s.region.length,
                       (s.region.flags & IMAGE_REGION_NODATA) ? "no data" : zb, st.frame_bytes,
                       printable(s.region.name, nb, sizeof nb));
            }
        }
    }
    if (rc < 0)
        failed = 1;

    char hb[32], hb2[32];
    print_machine(image_reader_header(r), machine, machine_len, have_machine);
    free(machine);
    if (have_mpi)
        printf("mpi state   %" PRIu64 " bytes\n", mpi_bytes);
    else
        printf("mpi state   none\n");
    if (have_threads)
        printf("threads     %u (%" PRIu64 " bytes)\n", nthreads, thread_bytes);
    else
        printf("threads     none\n");
    printf("regions     %" PRIu64 " (%s; %" PRIu64 " of %" PRIu64 " pages zero, not stored; %s compressed",
           nregions, human(region_bytes, hb, sizeof hb), zero_pages, pages, human(frame_bytes, hb2, sizeof hb2));
    if (nodata)
        printf("; %" PRIu64 " without data", nodata);
    printf(")\n");
    printf("sections    %d MACHINE, %d MPI_STATE, %d THREADS, %" PRIu64 " REGION, %s\n", have_machine, have_mpi,
           have_threads, nregions, failed ? "no valid END" : "END");
    if (failed) {
        fprintf(stderr, "mana-inspect: %s\n", image_reader_error(r));
        image_reader_close(r);
        return 1;
    }
    printf("digest      %016" PRIx64 "\n", image_reader_digest(r));
    if (bad_record) {
        image_reader_close(r);
        return 1;
    }

    if (verify) {
        fflush(stdout);
        struct image_verify_stats vs;
        if (image_reader_verify_all(r, &vs) < 0) {
            fprintf(stderr, "mana-inspect: %s\n", image_reader_error(r));
            image_reader_close(r);
            return 1;
        }
        printf("checksums OK\n");
    }
    image_reader_close(r);
    return 0;
}
