/* rseq is turned off in the upper glibc because a thread has one rseq
 * registration, and the lower glibc made it (design invariant 4). */
#define _GNU_SOURCE
#include "upper_env_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mana/call_table.h"

#define USER_PRELOAD_VAR "MANA_USER_LD_PRELOAD"

static const char *value_of(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; *env != NULL; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

static int is_var(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static char *joined(const char *name, const char *first, const char *rest)
{
    char *s;
    int rc = rest != NULL && *rest != '\0' ? asprintf(&s, "%s=%s:%s", name, first, rest)
                                           : asprintf(&s, "%s=%s", name, first);
    return rc < 0 ? NULL : s;
}

char **upper_env_build(const struct upper_env_inputs *in)
{
    static const char *const replaced[] = {"LD_PRELOAD", "LD_LIBRARY_PATH", "GLIBC_TUNABLES",
                                           MANA_CALL_TABLE_ENV, USER_PRELOAD_VAR};
    size_t n = 0;
    while (in->lower_env[n] != NULL)
        n++;
    char **env = calloc(n + 6, sizeof *env);
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int skip = 0;
        for (size_t r = 0; r < sizeof replaced / sizeof replaced[0]; r++)
            skip |= is_var(in->lower_env[i], replaced[r]);
        if (!skip && (env[k] = strdup(in->lower_env[i])) != NULL)
            k++;
    }
    const char *user_preload = value_of(in->lower_env, USER_PRELOAD_VAR);
    if (user_preload == NULL)
        user_preload = value_of(in->lower_env, "LD_PRELOAD");
    const char *tunables = value_of(in->lower_env, "GLIBC_TUNABLES");
    char *table = NULL;
    if (asprintf(&table, "%s=%llx", MANA_CALL_TABLE_ENV, (unsigned long long)in->call_table) < 0)
        table = NULL;
    env[k++] = joined("LD_PRELOAD", in->libmana_path, user_preload);
    env[k++] = joined("LD_LIBRARY_PATH", in->stub_dir, value_of(in->lower_env, "LD_LIBRARY_PATH"));
    env[k++] = tunables != NULL && *tunables != '\0' ? joined("GLIBC_TUNABLES", tunables, "glibc.pthread.rseq=0")
                                                     : joined("GLIBC_TUNABLES", "glibc.pthread.rseq=0", NULL);
    env[k++] = table;
    env[k] = NULL;
    for (size_t i = 0; i < k; i++) {
        if (env[i] == NULL) {
            for (size_t j = 0; j < k; j++)
                free(env[j]);
            free(env);
            return NULL;
        }
    }
    return env;
}
