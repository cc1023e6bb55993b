/* The lower half prepends its entries to LD_PRELOAD and LD_LIBRARY_PATH;
 * here they come off again, leaving the user's values as they were. */
#include "upper_env.h"

#include <stdlib.h>
#include <string.h>

#include "mana/call_table.h"

/* Drops the first entry of the ':'-separated variable NAME when it
 * satisfies MATCH; unsets the variable if nothing else is left. */
static void drop_first_entry(const char *name, int (*match)(const char *entry, size_t len, const char *arg),
                             const char *arg)
{
    const char *value = getenv(name);
    if (value == NULL)
        return;
    const char *sep = strpbrk(value, ": ");
    size_t len = sep ? (size_t)(sep - value) : strlen(value);
    if (!match(value, len, arg))
        return;
    if (sep == NULL || sep[1] == '\0') {
        unsetenv(name);
        return;
    }
    char *rest = strdup(sep + 1);
    if (rest != NULL) {
        setenv(name, rest, 1);
        free(rest);
    }
}

static int is_libmana(const char *entry, size_t len, const char *unused)
{
    (void)unused;
    /* libmana.so, or libmana-ompi.so under the Open MPI face. */
    static const char *const suffixes[] = {"/libmana.so", "/libmana-ompi.so"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (len >= sl && memcmp(entry + len - sl, suffixes[i], sl) == 0)
            return 1;
    }
    return 0;
}

static int is_dir(const char *entry, size_t len, const char *dir)
{
    return strlen(dir) == len && memcmp(entry, dir, len) == 0;
}

void mana_upper_env_hide(const char *stub_dir)
{
    unsetenv(MANA_CALL_TABLE_ENV);
    drop_first_entry("LD_PRELOAD", is_libmana, NULL);
    drop_first_entry("LD_LIBRARY_PATH", is_dir, stub_dir);
}
