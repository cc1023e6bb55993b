/* The machine record: where a checkpoint image was taken, as the text of
 * its MACHINE section (image_format.h). Built by the lower half
 * (lower-half/machine_info.c), printed by mana-inspect, and compared with
 * the restarting machine, which logs what differs and never refuses.
 *
 * The text is lines "key=value\n". Keys written today:
 *
 *   host             the node's host name
 *   cpu_model        the first CPU package's model, as hwloc reads it
 *                    from the kernel (/proc/cpuinfo's "model name")
 *   packages cores pus numa_nodes
 *                    counts hwloc finds (pus: hardware threads)
 *   mpi_flavour      mpich or openmpi: the lower half's MPI
 *   mpi_version      the first line of MPI_Get_library_version
 *   mpi_device       MPICH's device ("ch4:ucx"), from the same string
 *   net.NAME         the transport variable NAME (UCX_TLS, OMPI_MCA_btl,
 *                    ...) as the rank saw it, or "unset"
 *
 * Unknown keys are kept and shown as they are, so a key can be added
 * without a new image format version. Everything here comes from a file,
 * so nothing trusts it: every line is bounded and checked. */
#ifndef MANA_MACHINE_RECORD_H
#define MANA_MACHINE_RECORD_H

#include <stddef.h>

#define MACHINE_MAX_FIELDS 64
#define MACHINE_KEY_MAX 64      /* bytes of a key */
#define MACHINE_VALUE_MAX 1024  /* bytes of a value; longer ones are cut */
/* The prefix of the transport variables' keys. */
#define MACHINE_NET_PREFIX "net."

struct machine_field {
    const char *key;
    const char *value;
};

struct machine_record {
    char *text; /* owns the strings fields point to */
    size_t nfields;
    struct machine_field f[MACHINE_MAX_FIELDS];
    unsigned skipped; /* malformed lines or fields over MACHINE_MAX_FIELDS */
};

/* A record being built, in BUF of CAP bytes. */
struct machine_builder {
    char *buf;
    size_t cap, len;
    int overflow; /* something did not fit: the record is incomplete */
};

/* Appends "KEY=VALUE\n". KEY must be a valid key (a bug otherwise: the
 * field is left out and overflow set); newlines and other control
 * characters in VALUE become spaces and '?', and it is cut at
 * MACHINE_VALUE_MAX bytes, so a line always reads back as written. */
void machine_builder_add(struct machine_builder *b, const char *key, const char *value);

/* Parses LEN bytes of record text into M (copied). Lines that are not
 * "key=value" are counted in M->skipped, never fatal. 0, or -1 only when
 * out of memory. */
int machine_record_parse(const void *data, size_t len, struct machine_record *m);
void machine_record_free(struct machine_record *m);

/* The value of KEY, or NULL. */
const char *machine_record_get(const struct machine_record *m, const char *key);

/* What a key means, for people ("CPU model", "network transport"); NULL
 * for a key this MANA does not know. */
const char *machine_key_label(const char *key);

/* Calls FN once per field whose value differs between SAVED and NOW, with
 * a line "LABEL differs: saved X, now Y" (without a newline; values with
 * control characters escaped). A field only one side has is "not
 * recorded" on the other, except transport variables: each MPI flavour
 * reads its own, so those only one side has are left out (the flavour's
 * own line says that the MPI changed). Returns the number of lines. */
typedef void (*machine_diff_fn)(void *ctx, const char *key, const char *line);
size_t machine_record_diff(const struct machine_record *saved, const struct machine_record *now, machine_diff_fn fn,
                           void *ctx);

/* VALUE with control characters and bytes over 0x7e shown as \xNN, in
 * BUF of LEN bytes (cut to fit). */
const char *machine_printable(const char *value, char *buf, size_t len);

#endif
