/* mana-lh-mpich: the program the kernel starts for each rank. It is the
 * lower half: linked with the real MPI, it records what it owns, loads the
 * application and the application's own ld.so beside itself, fills the
 * call table, and jumps into the upper half, which never returns here.
 *
 * Usage (from mana-launch or mana-restart, not by hand):
 *   mana-lh-mpich [--verbose] -- APP_PATH ARGV0 [ARGS...]
 *   mana-lh-mpich [--verbose] --restore IMAGE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "app_check.h"
#include "brk_guard.h"
#include "ckpt_restore.h"
#include "ckpt_stop.h"
#include "ckpt_thread.h"
#include "elf_image.h"
#include "elf_map.h"
#include "fsgsbase_probe.h"
#include "generation_pick.h"
#include "image_reader.h"
#include "machine_info.h"
#include "mana/call_table.h"
#include "mana/fsbase.h"
#include "mpi_adapters.h"
#include "mana/test_faults.h"
#include "mpi_rank_env.h"
#include "region_dump.h"
#include "region_labeller.h"
#include "upper_env_build.h"
#include "upper_jump.h"
#include "upper_stack.h"
#include "vdso_symbol.h"

#define PROG "mana-lh-mpich"

extern char **environ;

static uint64_t brk_at_start;
static int dump_regions_at_exit;

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", PROG);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void __attribute__((noreturn)) lower_exit(int status)
{
    if (dump_regions_at_exit)
        region_dump(brk_at_start, "exit");
    exit(status);
}

static void set_upper_sigsys(mana_upper_sighandler_fn fn)
{
    region_labeller_set_chain(fn);
}

/* Paths of libmana and the stubs, relative to this executable so an
 * installed tree and the build tree both work. */
struct install_paths {
    char libmana[PATH_MAX + 16];
    char stub_dir[PATH_MAX + 16];
};

static void find_install_paths(struct install_paths *p)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        die("cannot read /proc/self/exe: %s", strerror(errno));
    self[n] = '\0';
    char *dir = dirname(self); /* PREFIX/libexec/mana */
    char lib[PATH_MAX];
    snprintf(lib, sizeof lib, "%s/../../lib/mana", dir);
    char real[PATH_MAX];
    if (realpath(lib, real) == NULL)
        die("MANA's library directory %s is missing (%s): reinstall MANA", lib, strerror(errno));
    snprintf(p->libmana, sizeof p->libmana, "%s/libmana.so", real);
    snprintf(p->stub_dir, sizeof p->stub_dir, "%s/stub", real);
    if (access(p->libmana, R_OK) != 0)
        die("%s is missing (%s): reinstall MANA", p->libmana, strerror(errno));
}

/* A program built against Open MPI gets the Open MPI face: libmana-ompi.so
 * and the face's libmpi.so.40 (docs/mpi-wrappers.md, "The Open MPI face"). */
enum mana_app_face lower_face = MANA_FACE_MPICH;

static void use_face(struct install_paths *p, const struct elf_image *app)
{
    if (app_face_of(app) != APP_FACE_OMPI)
        return;
    lower_face = MANA_FACE_OPENMPI;
    char *slash = strrchr(p->libmana, '/');
    snprintf(slash + 1, sizeof p->libmana - (size_t)(slash + 1 - p->libmana), "libmana-ompi.so");
    slash = strrchr(p->stub_dir, '/');
    snprintf(slash + 1, sizeof p->stub_dir - (size_t)(slash + 1 - p->stub_dir), "ompi");
    if (access(p->libmana, R_OK) != 0)
        die("%s is missing (%s): reinstall MANA", p->libmana, strerror(errno));
}

static void *map_upper_pages(size_t len, const char *what)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        die("cannot map %zu bytes for the %s: %s", len, what, strerror(errno));
    region_labeller_mark_upper((uint64_t)p, (uint64_t)p + len);
    return p;
}

/* Everything in the table that belongs to this process's lower half. At
 * a restart the table comes back with the upper half's memory and is
 * filled again; what libmana put there stays. */
static void fill_call_table(struct mana_call_table *table, const struct install_paths *paths)
{
    table->magic = MANA_CALL_TABLE_MAGIC;
    table->version = MANA_CALL_TABLE_VERSION;
    table->size = sizeof *table;
    fsgsbase_probe(&table->fs_method);
    if (strlen(paths->stub_dir) >= sizeof table->stub_dir)
        die("install path %s is too long", paths->stub_dir);
    memcpy(table->stub_dir, paths->stub_dir, strlen(paths->stub_dir) + 1);
    table->lower_exit = lower_exit;
    table->set_upper_sigsys = set_upper_sigsys;
    table->vdso_clock_gettime = (int (*)(int, void *))vdso_symbol("__vdso_clock_gettime");
    mana_lower_fill_mpi_table(&table->mpi);
    mana_lower_fill_lang_hooks(&table->lang);
}

static size_t upper_stack_size(void)
{
    struct rlimit rl;
    size_t size = 8u << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > (1u << 20))
        size = (size_t)rl.rlim_cur;
    return (size + 4095) & ~(size_t)4095;
}

static void load_upper(const char *path, struct elf_image *img, struct elf_mapped *m)
{
    char err[8192];
    if (elf_image_read(path, img, err, sizeof err) != 0 || elf_image_map(img, m, err, sizeof err) != 0)
        die("%s", err);
    region_labeller_mark_upper(m->start, m->end);
}

static void fill_auxv(struct upper_stack_spec *spec, const struct elf_image *app, const struct elf_mapped *appm,
                      const struct elf_mapped *interp)
{
    /* No AT_SYSINFO_EHDR: the upper half never sees the vDSO, so its
     * glibc keeps no pointer a restart on another kernel would break
     * (docs/design-decisions.md, "The vDSO"). */
    const struct auxv_entry entries[] = {
        {AT_PHDR, appm->phdr},
        {AT_PHENT, app->phentsize},
        {AT_PHNUM, app->phnum},
        {AT_PAGESZ, 4096},
        {AT_BASE, interp->base},
        {AT_FLAGS, 0},
        {AT_ENTRY, appm->entry},
        {AT_UID, getauxval(AT_UID)},
        {AT_EUID, getauxval(AT_EUID)},
        {AT_GID, getauxval(AT_GID)},
        {AT_EGID, getauxval(AT_EGID)},
        {AT_SECURE, 0},
        {AT_HWCAP, getauxval(AT_HWCAP)},
        {AT_HWCAP2, getauxval(AT_HWCAP2)},
        {AT_CLKTCK, getauxval(AT_CLKTCK)},
        {AT_MINSIGSTKSZ, getauxval(AT_MINSIGSTKSZ)},
    };
    /* Entries a kernel does not provide (AT_MINSIGSTKSZ before 5.14) stay
     * out rather than telling glibc zero. */
    spec->nauxv = 0;
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        int optional = entries[i].type == AT_MINSIGSTKSZ || entries[i].type == AT_HWCAP2;
        if (!optional || entries[i].value != 0)
            spec->auxv[spec->nauxv++] = entries[i];
    }
    spec->platform = (const char *)getauxval(AT_PLATFORM);
    if (getrandom(spec->random, sizeof spec->random, 0) != (ssize_t)sizeof spec->random)
        die("getrandom failed: %s", strerror(errno));
}

/* Where a restart retries for a new random layout when the fresh lower
 * half landed on a saved upper range (design: Known hazards). */
#define RESTORE_TRIES_ENV "MANA_RESTORE_TRY"
#define RESTORE_MAX_TRIES 20

/* A restarting rank that cannot go on must take the whole job down: the
 * other ranks would wait for it in MPI_Init forever. So it joins MPI
 * only to abort it. */
static void __attribute__((noreturn, format(printf, 1, 2))) die_with_job(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", PROG);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    int provided;
    if (lower_mpi_init(NULL, NULL, &provided) == MPI_SUCCESS)
        MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

/* mana-restart --newest-good: the generation directory to mark when this
 * rank's image turns out damaged, so that the next try passes it over. */
static const char *mark_damaged_dir;

/* Before a restore dies of ERR: marks the generation when ERR is damage
 * in the image (not a failed read, which a retry may not meet again). */
static void condemn_generation_if_damaged(const struct ckpt_restore *st, char *err, size_t errlen)
{
    if (mark_damaged_dir == NULL || st->reader == NULL || !image_reader_damage_found(st->reader))
        return;
    size_t n = strlen(err);
    if (generation_mark_damaged(mark_damaged_dir, err) == 0)
        snprintf(err + n, errlen - n, "; %s is now marked damaged: run the same command again to resume from the "
                 "generation before it", mark_damaged_dir);
    else
        snprintf(err + n, errlen - n, "; marking %s damaged failed (%s): remove it to resume from the generation "
                 "before it", mark_damaged_dir, strerror(errno));
}

static void __attribute__((noreturn)) reexec_for_new_layout(char **argv)
{
    const char *s = getenv(RESTORE_TRIES_ENV);
    int tries = s ? atoi(s) : 0;
    if (tries >= RESTORE_MAX_TRIES)
        die("the new MPI libraries landed on the saved application's memory %d times in a row: the address space "
            "is too crowded (another MPI or more libraries than at the checkpoint?); restart on a node with "
            "the same software",
            tries + 1);
    char buf[16];
    snprintf(buf, sizeof buf, "%d", tries + 1);
    setenv(RESTORE_TRIES_ENV, buf, 1);
    execv("/proc/self/exe", argv);
    die("cannot re-execute myself for a new address layout: %s", strerror(errno));
}

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* MANA_DEBUG=restore-times: where a rank's restart spent its time, one
 * line per rank on stderr just before the application goes on, so that a
 * slow restart can be taken apart (docs/performance.md). */
enum restore_phase { PH_ENTRY, PH_OPEN, PH_RESERVE, PH_FILES, PH_MPI_INIT, PH_MEMORY, PH_RESUME, PH_COUNT };

static void report_restore_times(int rank, double entered_epoch, const double *t, const struct image_read_times *m)
{
    fprintf(stderr,
            "MANA: MANA_DEBUG=restore-times: rank %d: entered the lower half at %.6f (epoch s); open %.3f s, "
            "reserve %.3f s, files %.3f s, MPI_Init %.3f s, memory %.3f s (%u threads, summed over them: read "
            "%.3f s, map pages %.3f s, check+decompress+place %.3f s), process state and threads %.3f s\n",
            rank, entered_epoch, t[PH_OPEN] - t[PH_ENTRY], t[PH_RESERVE] - t[PH_OPEN], t[PH_FILES] - t[PH_RESERVE],
            t[PH_MPI_INIT] - t[PH_FILES], t[PH_MEMORY] - t[PH_MPI_INIT], m->threads, m->read_s, m->populate_s,
            m->decode_s, t[PH_RESUME] - t[PH_MEMORY]);
}

static void __attribute__((noreturn)) restore_main(char **argv, const char *image, const char *expect_digest,
                                                   int verbose)
{
    double t[PH_COUNT], entered = clock_s(CLOCK_REALTIME);
    t[PH_ENTRY] = clock_s(CLOCK_MONOTONIC);
    const char *debug = getenv("MANA_DEBUG");
    int report_times = debug != NULL && strstr(debug, "restore-times") != NULL;
    char err[8192];
    int rank, nranks;
    mpi_rank_from_env(&rank, &nranks);
    /* The application's signal actions come back before its threads do,
     * while this thread still runs lower code with the lower %fs, where
     * an application handler must not run: its signals wait until the
     * main thread's saved mask replaces this one (ckpt_resume_frame). */
    sigset_t unused;
    lower_block_async_signals(&unused);
    static struct ckpt_restore st;
    if (ckpt_restore_open(&st, image, rank, nranks, err, sizeof err) != 0) {
        condemn_generation_if_damaged(&st, err, sizeof err);
        die_with_job("%s", err);
    }
    unsigned long long gen = image_reader_header(st.reader)->generation;
    t[PH_OPEN] = clock_s(CLOCK_MONOTONIC);
    int rc = ckpt_restore_reserve(&st, err, sizeof err);
    if (rc == 1)
        reexec_for_new_layout(argv);
    if (rc != 0)
        die_with_job("%s", err);
    /* The walk to END checked every header; the digest ties the file to
     * the manifest that named it. */
    if (expect_digest != NULL && strtoull(expect_digest, NULL, 16) != st.digest)
        die_with_job("%s: its digest %016llx is not the %s its generation's MANIFEST recorded: the image was "
                     "replaced or damaged; restart from another generation (mana-restart --generation N)",
                     image, (unsigned long long)st.digest, expect_digest);
    unsetenv(RESTORE_TRIES_ENV);
    t[PH_RESERVE] = clock_s(CLOCK_MONOTONIC);
    if (ckpt_restore_files(&st, verbose, err, sizeof err) != 0)
        die_with_job("%s", err);
    t[PH_FILES] = clock_s(CLOCK_MONOTONIC);
    int provided;
    if (lower_mpi_init(NULL, NULL, &provided) != MPI_SUCCESS)
        die("MPI_Init failed in the restarted rank %d", rank);
    t[PH_MPI_INIT] = clock_s(CLOCK_MONOTONIC);
    machine_info_report_restart(st.machine, st.machine_len, image_reader_header(st.reader)->version, rank);
    test_fault_point("restore", rank, gen);
    if (ckpt_restore_memory(&st, err, sizeof err) != 0) {
        condemn_generation_if_damaged(&st, err, sizeof err);
        die("%s", err);
    }
    t[PH_MEMORY] = clock_s(CLOCK_MONOTONIC);
    struct install_paths paths;
    find_install_paths(&paths);
    struct mana_call_table *table = (struct mana_call_table *)(uintptr_t)st.proc.call_table;
    if (table->magic != MANA_CALL_TABLE_MAGIC || table->size != sizeof *table)
        die("%s: the call table at %p is not one this MANA wrote: restart with the MANA build that checkpointed",
            image, (void *)table);
    fill_call_table(table, &paths);
    atomic_store(table->upper_lock_word, 0);
    *table->upper_holder_fs = 0;
    /* Before any upper code runs: the application may call malloc first
     * thing, and its heap grows by sbrk, which must fail here as it did
     * before the checkpoint (mmap takes over). */
    if (table->upper_curbrk != NULL)
        *table->upper_curbrk = (void *)(uintptr_t)brk_guard_current();
    /* The checkpoint that saved this image is over; the first MPI call
     * rebuilds MPI's objects, and test loops post their requests again. */
    struct mana_ckpt_sync *sync = &table->sync;
    atomic_store(&sync->pending, 0);
    atomic_store(&sync->targets_valid, 0);
    atomic_store(&sync->in_collective, 0);
    atomic_store(&sync->held_by_ckpt, 0);
    atomic_store(&sync->blocking_go, 0);
    atomic_fetch_add(&sync->restarts, 1);
    atomic_store(&sync->replay_due, 1);
    if (ckpt_prepare(table, err, sizeof err) != 0 || ckpt_restore_process(&st, err, sizeof err) != 0)
        die("%s", err);
    table->lower_fs = mana_rdfsbase(&table->fs_method);
    if (verbose)
        fprintf(stderr, "%s: rank %d restored from %s: %llu regions, %llu bytes\n", PROG, rank, image,
                st.regions, st.bytes);
    ckpt_after_mpi_init();
    fflush(stderr);
    if (ckpt_restore_threads(&st, &table->threads, err, sizeof err) != 0)
        die_with_job("%s", err);
    ckpt_restore_close(&st);
    if (report_times) {
        t[PH_RESUME] = clock_s(CLOCK_MONOTONIC);
        report_restore_times(rank, entered, t, &st.times);
        fflush(stderr);
    }
    test_fault_point("resume", rank, gen);
    ckpt_resume_frame(st.main.frame, st.main.upper_fs);
}

int main(int argc, char **argv)
{
    int verbose = 0, i = 1;
    const char *restore = NULL, *expect_digest = NULL;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--verbose") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "--restore") == 0 && i + 1 < argc)
            restore = argv[++i];
        else if (strcmp(argv[i], "--expect-digest") == 0 && i + 1 < argc)
            expect_digest = argv[++i];
        else if (strcmp(argv[i], "--mark-damaged") == 0 && i + 1 < argc)
            mark_damaged_dir = argv[++i];
        else
            die("unknown option '%s': this program is started by mana-launch, not by hand", argv[i]);
    }
    if (restore != NULL) {
        char err[8192];
        uint64_t guard;
        if (brk_guard_install(&brk_at_start, &guard, err, sizeof err) != 0 ||
            region_labeller_start(err, sizeof err) != 0)
            die("%s", err);
        restore_main(argv, restore, expect_digest, verbose);
    }
    if (i + 2 >= argc)
        die("usage: %s [--verbose] -- APP_PATH ARGV0 [ARGS...] (started by mana-launch, not by hand)", PROG);
    const char *app_path = argv[i + 1];
    char **app_argv = &argv[i + 2];
    const char *debug = getenv("MANA_DEBUG");
    dump_regions_at_exit = debug != NULL && strstr(debug, "regions") != NULL;

    char err[8192];
    uint64_t guard;
    if (brk_guard_install(&brk_at_start, &guard, err, sizeof err) != 0)
        die("%s", err);
    if (region_labeller_start(err, sizeof err) != 0)
        die("%s", err);

    struct install_paths paths;
    find_install_paths(&paths);

    struct elf_image app, interp;
    struct elf_mapped appm, interpm;
    load_upper(app_path, &app, &appm);
    if (app.interp[0] == '\0')
        die("%s is statically linked: the program must be dynamically linked", app_path);
    load_upper(app.interp, &interp, &interpm);
    use_face(&paths, &app);

    size_t table_len = (sizeof(struct mana_call_table) + 4095) & ~(size_t)4095;
    struct mana_call_table *table = map_upper_pages(table_len, "call table");
    fill_call_table(table, &paths);
    if (ckpt_prepare(table, err, sizeof err) != 0)
        die("%s", err);

    size_t stack_len = upper_stack_size();
    uint8_t *stack = map_upper_pages(stack_len + 4096, "upper stack");
    mprotect(stack, 4096, PROT_NONE); /* guard page: an overflow faults */

    struct upper_env_inputs envin = {
        .lower_env = environ, .libmana_path = paths.libmana, .stub_dir = paths.stub_dir,
        .call_table = (uint64_t)table};
    char **upper_env = upper_env_build(&envin);
    if (upper_env == NULL)
        die("out of memory building the application's environment");

    static struct upper_stack_spec spec;
    spec.argv = app_argv;
    spec.envp = upper_env;
    spec.execfn = app_path;
    fill_auxv(&spec, &app, &appm, &interpm);
    uint64_t sp = upper_stack_build(stack + 4096, stack + 4096 + stack_len, &spec, err, sizeof err);
    if (sp == 0)
        die("%s", err);

    if (verbose)
        fprintf(stderr,
                "%s: app %s at %llx-%llx, ld.so %s at %llx-%llx, call table %p, stack %p+%zu, "
                "fs read %s, fs write %s\n",
                PROG, app_path, (unsigned long long)appm.start, (unsigned long long)appm.end, app.interp,
                (unsigned long long)interpm.start, (unsigned long long)interpm.end, (void *)table,
                (void *)stack, stack_len, table->fs_method.read_insn ? "rdfsbase" : "arch_prctl",
                table->fs_method.write_insn ? "wrfsbase" : "arch_prctl");
    fflush(stderr);
    fflush(stdout);
    table->lower_fs = mana_rdfsbase(&table->fs_method);
    upper_jump(sp, interpm.entry);
}
