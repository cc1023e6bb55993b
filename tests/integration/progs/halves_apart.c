/* Prints, from inside the application (the upper half), every address
 * range the application owns: its link map (dl_iterate_phdr), a large
 * malloc'd buffer, a thread's stack and a raw mmap. The test that runs it
 * checks these against the lower half's region dump, and fails on any
 * real MPI or UCX library in the application's own link map. */
#define _GNU_SOURCE
#include <link.h>
#include <mpi.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int rank;
static int failures;

static void print_range(const char *what, uintptr_t start, uintptr_t end)
{
    printf("app-range %d %lx %lx %s\n", rank, (unsigned long)start, (unsigned long)end, what);
}

static int is_real_mpi(const char *name)
{
    static const char *const libs[] = {"libmpich.so", "libmpi.so", "libucp.so", "libucs.so", "libuct.so",
                                       "libucm.so", "libhwloc.so"};
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
        if (strncmp(base, libs[i], strlen(libs[i])) == 0)
            return strstr(name, "/lib/mana/stub/") == NULL;
    return 0;
}

static int each_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    const char *name = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "(program)";
    if (is_real_mpi(name)) {
        printf("FAIL %d real MPI library in the application's link map: %s\n", rank, name);
        failures++;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)4095;
        uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) & ~(uintptr_t)4095;
        print_range(name, start, end);
    }
    return 0;
}

static void *thread_body(void *arg)
{
    pthread_attr_t attr;
    void *stack;
    size_t size;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &stack, &size);
    print_range("thread-stack", (uintptr_t)stack, (uintptr_t)stack + size);
    pthread_attr_destroy(&attr);
    return arg;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int one = 1, sum = 0;
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

    dl_iterate_phdr(each_object, NULL);
    size_t big = 64u << 20;
    char *buf = malloc(big);
    memset(buf, 1, big);
    print_range("malloc", (uintptr_t)buf & ~(uintptr_t)4095, ((uintptr_t)buf + big + 4095) & ~(uintptr_t)4095);
    void *raw = (void *)syscall(SYS_mmap, NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    print_range("raw-mmap", (uintptr_t)raw, (uintptr_t)raw + (1 << 20));
    pthread_t t;
    pthread_create(&t, NULL, thread_body, NULL);
    pthread_join(t, NULL);
    fflush(stdout);

    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    free(buf);
    return failures != 0 || sum < 1;
}
