/* In-memory types shared by the image writer and reader: what the rest of
 * MANA sees of a checkpoint image. The on-disk codes are in
 * image_format.h and never appear here; image_codec.c converts. */
#ifndef MANA_IMAGE_H
#define MANA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

enum mana_mpi_flavour {
    MANA_MPI_MPICH,
    MANA_MPI_OPENMPI,
};

/* The ABI the application was built for, whose face libmana gives it
 * (docs/mpi-wrappers.md); the same at every restart. */
enum mana_app_face {
    MANA_FACE_MPICH,
    MANA_FACE_OPENMPI,
};

enum image_section_kind {
    IMAGE_SECTION_MPI_STATE,
    IMAGE_SECTION_THREADS,
    IMAGE_SECTION_REGION,
    IMAGE_SECTION_END,
    IMAGE_SECTION_MACHINE,
};

/* Region flags (in memory). Protection uses PROT_READ/WRITE/EXEC from
 * <sys/mman.h>. */
enum image_region_flags {
    IMAGE_REGION_SHARED = 1 << 0,    /* MAP_SHARED */
    IMAGE_REGION_GROWSDOWN = 1 << 1, /* a downward-growing stack */
    IMAGE_REGION_NODATA = 1 << 2,    /* contents not saved; set by the writer when data is NULL */
};

#define IMAGE_HOSTNAME_MAX 63 /* bytes, without the NUL */
#define IMAGE_NAME_MAX 4095   /* a region name, without the NUL */

/* What the header of an image says. */
struct image_header {
    uint32_t version;
    uint32_t rank;
    uint32_t nranks;
    enum mana_mpi_flavour flavour;
    enum mana_app_face face;
    uint64_t generation;
    uint64_t created_ns; /* Unix time in nanoseconds */
    uint64_t total_raw;  /* uncompressed bytes of all sections */
    char hostname[IMAGE_HOSTNAME_MAX + 1];
};

const char *image_flavour_name(enum mana_mpi_flavour f);
const char *image_face_name(enum mana_app_face f);
const char *image_section_kind_name(enum image_section_kind k);

/* Conversions between in-memory values and on-disk codes, in one place
 * (image_codec.c). The from_disk ones return -1 for a code they do not
 * know. */
uint32_t img_flavour_to_disk(enum mana_mpi_flavour f);
int img_flavour_from_disk(uint32_t code, enum mana_mpi_flavour *f);
uint32_t img_section_kind_to_disk(enum image_section_kind k);
int img_section_kind_from_disk(uint32_t code, enum image_section_kind *k);
/* PROT_* <-> IMG_PROT_*; returns -1 for bits that have no code. */
int img_prot_to_disk(int prot, uint32_t *code);
int img_prot_from_disk(uint32_t code, int *prot);
/* enum image_region_flags <-> IMG_REGION_*; -1 for unknown bits. */
int img_region_flags_to_disk(unsigned flags, uint32_t *code);
int img_region_flags_from_disk(uint32_t code, unsigned *flags);

/* "r-x", "rw-", "---" (BUF of at least 4 bytes). */
const char *image_prot_string(int prot, char *buf);

#endif
