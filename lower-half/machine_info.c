#define _GNU_SOURCE
#include "machine_info.h"

#include <hwloc.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_format.h"
#include "machine_record.h"
#include "mpi_adapters.h"

/* Room for every field at its longest (MACHINE_VALUE_MAX each): the
 * record is a few hundred bytes in practice. */
static char record[16384];
static size_t record_len;
static int gathered;

/* Removes leading and trailing blanks in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static void add_count(struct machine_builder *b, const char *key, hwloc_topology_t t, hwloc_obj_type_t type)
{
    char v[32] = "unknown";
    int n = t ? hwloc_get_nbobjs_by_type(t, type) : -1;
    if (n >= 0)
        snprintf(v, sizeof v, "%d", n);
    machine_builder_add(b, key, v);
}

/* CPU model and counts. Measured on a 2-core VM, in a restarting rank
 * after MPI_Init (MPICH already holds hwloc's plugins, which cost 20-30
 * ms to load in a process without MPI): the whole record in 0.6-1.0 ms
 * (once 5 ms, both ranks busy on the two cores), so a restart can
 * afford it before it resumes the application. */
static void add_hardware(struct machine_builder *b)
{
    hwloc_topology_t t = NULL;
    if (hwloc_topology_init(&t) != 0) {
        t = NULL;
    } else {
        /* Caches and I/O devices say nothing we record, and finding them
         * is the slow part. The x86 backend is left out: it binds the
         * calling thread to each CPU in turn to run CPUID there, which a
         * rank's thread must not do behind the application's back, and
         * its brand string can differ from the kernel's "model name"
         * (seen in a VM: "Oxide Virtual Turin-like Processor" against
         * "AMD EPYC"); the Linux backend reads /proc/cpuinfo instead. */
        hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
        hwloc_topology_set_cache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
        hwloc_topology_set_icache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
        hwloc_topology_set_components(t, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "x86");
        if (hwloc_topology_load(t) != 0) {
            hwloc_topology_destroy(t);
            t = NULL;
        }
    }
    const char *model = NULL;
    if (t != NULL) {
        hwloc_obj_t pkg = hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, 0);
        model = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;
        if (model == NULL)
            model = hwloc_obj_get_info_by_name(hwloc_get_root_obj(t), "CPUModel");
    }
    char mb[MACHINE_VALUE_MAX + 1];
    snprintf(mb, sizeof mb, "%s", model ? model : "unknown");
    machine_builder_add(b, "cpu_model", trim(mb));
    add_count(b, "packages", t, HWLOC_OBJ_PACKAGE);
    add_count(b, "cores", t, HWLOC_OBJ_CORE);
    add_count(b, "pus", t, HWLOC_OBJ_PU);
    add_count(b, "numa_nodes", t, HWLOC_OBJ_NUMANODE);
    if (t != NULL)
        hwloc_topology_destroy(t);
}

/* The library's own words: its version string's first line, and MPICH's
 * device line ("MPICH Device:\tch4:ucx"). */
static void add_mpi(struct machine_builder *b, char *device, size_t device_len)
{
    static char v[MPI_MAX_LIBRARY_VERSION_STRING + 1];
    int len = 0;
    device[0] = '\0';
    machine_builder_add(b, "mpi_flavour", image_flavour_name(lower_flavour));
    if (MPI_Get_library_version(v, &len) != MPI_SUCCESS || len <= 0) {
        machine_builder_add(b, "mpi_version", "unknown");
        return;
    }
    v[len < MPI_MAX_LIBRARY_VERSION_STRING ? len : MPI_MAX_LIBRARY_VERSION_STRING] = '\0';
    const char *dev = strstr(v, "MPICH Device:");
    if (dev != NULL) {
        dev += strlen("MPICH Device:");
        size_t n = strcspn(dev, "\n");
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%.*s", (int)(n < sizeof tmp - 1 ? n : sizeof tmp - 1), dev);
        snprintf(device, device_len, "%s", trim(tmp));
    }
    v[strcspn(v, "\n")] = '\0';
    machine_builder_add(b, "mpi_version", trim(v));
    if (device[0] != '\0')
        machine_builder_add(b, "mpi_device", device);
}

/* The variables that choose the network, as this rank saw them. Only
 * those its MPI reads: MPICH's UCX device reads UCX's, its OFI device
 * libfabric's; Open MPI its MCA parameters and, through its UCX PML,
 * UCX's. Which transport UCX then picks among those allowed is not
 * recorded: UCX does not say without its own logging. */
static void add_transport(struct machine_builder *b, const char *device)
{
    static const char *const mpich[] = {"UCX_TLS", "UCX_NET_DEVICES", NULL};
    static const char *const mpich_ofi[] = {"FI_PROVIDER", NULL};
    static const char *const ompi[] = {"OMPI_MCA_pml", "OMPI_MCA_btl", "OMPI_MCA_mtl", "UCX_TLS", "UCX_NET_DEVICES",
                                       NULL};
    const char *const *lists[2] = {mpich, NULL};
    if (lower_flavour == MANA_MPI_OPENMPI)
        lists[0] = ompi;
    else if (strstr(device, "ofi") != NULL)
        lists[1] = mpich_ofi;
    for (int l = 0; l < 2 && lists[l]; l++) {
        for (const char *const *name = lists[l]; *name; name++) {
            char key[MACHINE_KEY_MAX + 1];
            snprintf(key, sizeof key, "%s%s", MACHINE_NET_PREFIX, *name);
            const char *v = getenv(*name);
            machine_builder_add(b, key, v ? v : "unset");
        }
    }
}

const char *machine_info_current(size_t *len)
{
    if (!gathered) {
        struct machine_builder b = {.buf = record, .cap = sizeof record};
        char host[256] = "unknown", device[256];
        gethostname(host, sizeof host);
        host[sizeof host - 1] = '\0';
        machine_builder_add(&b, "host", host);
        add_hardware(&b);
        add_mpi(&b, device, sizeof device);
        add_transport(&b, device);
        record_len = b.len;
        gathered = 1;
    }
    *len = record_len;
    return record;
}

struct report {
    int rank;
    uint64_t hash;
};

/* The host is left out of the hash: every node's ranks have their own,
 * and rank 0's line stands for all of them. */
static void hash_line(void *ctx, const char *key, const char *line)
{
    struct report *r = ctx;
    if (strcmp(key, "host") == 0)
        return;
    r->hash = img_xxh64(line, strlen(line) + 1, r->hash);
}

static void print_line(void *ctx, const char *key, const char *line)
{
    (void)key;
    fprintf(stderr, "mana-restart: rank %d: %s\n", ((struct report *)ctx)->rank, line);
}

/* Which ranks speak: rank 0 always, and any other rank only when what
 * differs for it is not what differs for rank 0. A job restarted with
 * another transport or on another cluster then logs each difference
 * once, not once per rank, and a rank on an odd node is still heard.
 * The one broadcast this costs runs before the application resumes; it
 * waits for the slowest rank to get here, which the checkpoint thread's
 * start (ckpt_after_mpi_init) would wait for a moment later anyway. */
void machine_info_report_restart(const void *saved, size_t len, unsigned version, int rank)
{
    struct report r = {.rank = rank};
    struct machine_record was = {0}, now = {0};
    size_t nlen;
    const char *cur = machine_info_current(&nlen);
    int compared = 0;
    if (saved != NULL) {
        if (machine_record_parse(saved, len, &was) == 0 && machine_record_parse(cur, nlen, &now) == 0) {
            machine_record_diff(&was, &now, hash_line, &r);
            compared = 1;
        } else {
            fprintf(stderr, "mana-restart: rank %d: out of memory reading the image's machine record: what differs "
                    "from the checkpoint's machine is not reported\n", rank);
        }
    }
    uint64_t first = r.hash;
    MPI_Bcast(&first, (int)sizeof first, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (saved == NULL && rank == 0)
        fprintf(stderr, "mana-restart: rank 0: the image records no machine (format version %u, from an older "
                "MANA): what differs from the checkpoint's machine is not known\n", version);
    if (compared && (rank == 0 || r.hash != first)) {
        machine_record_diff(&was, &now, print_line, &r);
        if (was.skipped > 0)
            fprintf(stderr, "mana-restart: rank %d: %u malformed lines of the image's machine record left out\n", rank,
                    was.skipped);
    }
    fflush(stderr);
    machine_record_free(&was);
    machine_record_free(&now);
}
