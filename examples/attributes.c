/*
 * attributes.c - attribute caching: MPI_Comm_create_keyval with user copy
 * and delete callbacks (which count their calls and copy the value,
 * incrementing it), MPI_Comm_set_attr/Comm_get_attr/Comm_delete_attr,
 * MPI_Comm_dup copying attributes through the copy callback, MPI_Comm_free
 * invoking the delete callback, the predefined MPI_COMM_DUP_FN and
 * MPI_COMM_NULL_COPY_FN callbacks, MPI_Type_create_keyval with
 * MPI_Type_set_attr on a datatype, Comm_free_keyval/Type_free_keyval, and
 * the predefined attribute MPI_TAG_UB.  The callback counts are checked
 * exactly.  Keyvals and cached attributes are library state that a
 * checkpoint/restart system has to carry over.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror attributes.c -o attributes
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "attributes"
#include "example_check.h"

static int n_copy, n_delete, n_tcopy, n_tdelete;
static int extra_ok = 1;
static int extra_token = 12345;

static int *new_val(int v)
{
    int *p = xmalloc(sizeof *p);
    *p = v;
    return p;
}

static int comm_copy(MPI_Comm oldcomm, int keyval, void *extra, void *in, void *out, int *flag)
{
    (void)oldcomm;
    (void)keyval;
    if (extra != &extra_token)
        extra_ok = 0;
    n_copy++;
    *(int **)out = new_val(*(int *)in + 1);
    *flag = 1;
    return MPI_SUCCESS;
}

static int comm_delete(MPI_Comm comm, int keyval, void *val, void *extra)
{
    (void)comm;
    (void)keyval;
    if (extra != &extra_token)
        extra_ok = 0;
    n_delete++;
    free(val);
    return MPI_SUCCESS;
}

static int type_copy(MPI_Datatype old, int keyval, void *extra, void *in, void *out, int *flag)
{
    (void)old;
    (void)keyval;
    (void)extra;
    n_tcopy++;
    *(int **)out = new_val(*(int *)in + 100);
    *flag = 1;
    return MPI_SUCCESS;
}

static int type_delete(MPI_Datatype t, int keyval, void *val, void *extra)
{
    (void)t;
    (void)keyval;
    (void)extra;
    n_tdelete++;
    free(val);
    return MPI_SUCCESS;
}

/* Returns the int an attribute points to, or -1 when it is not set. */
static int get_comm(MPI_Comm c, int key)
{
    int *p = NULL, flag = -1;
    MPI_Comm_get_attr(c, key, &p, &flag);
    return flag ? *p : -1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    int key, key_dup, key_null;
    MPI_Comm_create_keyval(comm_copy, comm_delete, &key, &extra_token);
    MPI_Comm_create_keyval(MPI_COMM_DUP_FN, MPI_COMM_NULL_DELETE_FN, &key_dup, NULL);
    MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, MPI_COMM_NULL_DELETE_FN, &key_null, NULL);

    MPI_Comm c1, c2, c3;
    MPI_Comm_dup(MPI_COMM_WORLD, &c1);
    check(get_comm(c1, key) == -1, "attribute set before set_attr");
    MPI_Comm_set_attr(c1, key, new_val(10 + rank));
    static int shared_val = 777, null_val = 555;
    MPI_Comm_set_attr(c1, key_dup, &shared_val);
    MPI_Comm_set_attr(c1, key_null, &null_val);
    check(get_comm(c1, key) == 10 + rank, "c1 attribute %d", get_comm(c1, key));
    check(n_copy == 0 && n_delete == 0, "callbacks ran early: %d %d", n_copy, n_delete);

    /* Dup copies through comm_copy (value + 1), MPI_COMM_DUP_FN copies the
     * pointer, MPI_COMM_NULL_COPY_FN does not copy. */
    MPI_Comm_dup(c1, &c2);
    check(n_copy == 1, "copy count after first dup %d", n_copy);
    check(get_comm(c2, key) == 11 + rank, "c2 attribute %d", get_comm(c2, key));
    {
        int *p = NULL, flag = 0;
        MPI_Comm_get_attr(c2, key_dup, &p, &flag);
        check(flag && p == &shared_val, "MPI_COMM_DUP_FN attribute not copied");
        MPI_Comm_get_attr(c2, key_null, &p, &flag);
        check(!flag, "MPI_COMM_NULL_COPY_FN attribute copied");
    }
    MPI_Comm_dup(c2, &c3);
    check(n_copy == 2 && get_comm(c3, key) == 12 + rank, "c3 copy %d attr %d", n_copy,
          get_comm(c3, key));
    check(get_comm(c1, key) == 10 + rank, "c1 attribute changed to %d", get_comm(c1, key));

    /* The communicators still work. */
    int s = 0;
    MPI_Allreduce(&rank, &s, 1, MPI_INT, MPI_SUM, c3);
    check(s == size * (size - 1) / 2, "allreduce on c3 %d", s);
    /* A broadcast on each too: MANA keeps such collectives for a restart,
     * which must not hold back the delete callbacks of the frees below. */
    int b1 = rank == 0 ? 71 : 0, b3 = rank == 0 ? 73 : 0;
    MPI_Bcast(&b1, 1, MPI_INT, 0, c1);
    MPI_Bcast(&b3, 1, MPI_INT, 0, c3);
    check(b1 == 71 && b3 == 73, "bcast on c1 %d, on c3 %d", b1, b3);

    /* Replacing an attribute deletes the old value. */
    MPI_Comm_set_attr(c1, key, new_val(20 + rank));
    check(n_delete == 1 && get_comm(c1, key) == 20 + rank, "replace: deletes %d attr %d", n_delete,
          get_comm(c1, key));
    /* Explicit delete. */
    MPI_Comm_delete_attr(c2, key);
    check(n_delete == 2 && get_comm(c2, key) == -1, "delete_attr: deletes %d", n_delete);
    /* Freeing communicators deletes their attributes; c2 has none left. */
    MPI_Comm_free(&c3);
    check(n_delete == 3, "free c3: deletes %d", n_delete);
    MPI_Comm_free(&c2);
    check(n_delete == 3, "free c2: deletes %d", n_delete);
    /* Free the keyval first: attributes stay until the communicator goes. */
    MPI_Comm_free_keyval(&key);
    check(key == MPI_KEYVAL_INVALID, "free_keyval did not reset the key");
    MPI_Comm_free(&c1);
    check(n_delete == 4, "free c1: deletes %d", n_delete);
    check(n_copy == 2, "final copy count %d", n_copy);
    check(extra_ok, "extra_state not passed to callbacks");
    MPI_Comm_free_keyval(&key_dup);
    MPI_Comm_free_keyval(&key_null);

    /* Datatype attributes. */
    int tkey;
    MPI_Type_create_keyval(type_copy, type_delete, &tkey, NULL);
    MPI_Datatype t, td;
    MPI_Type_contiguous(3, MPI_INT, &t);
    MPI_Type_commit(&t);
    MPI_Type_set_attr(t, tkey, new_val(1));
    MPI_Type_dup(t, &td);
    check(n_tcopy == 1, "type copy count %d", n_tcopy);
    {
        int *p = NULL, flag = 0;
        MPI_Type_get_attr(td, tkey, &p, &flag);
        check(flag && *p == 101, "type dup attribute %d", flag ? *p : -1);
        MPI_Type_get_attr(t, tkey, &p, &flag);
        check(flag && *p == 1, "type attribute %d", flag ? *p : -1);
    }
    int buf[3] = { rank, rank + 1, rank + 2 }, rb[3] = { -1, -1, -1 };
    MPI_Sendrecv(buf, 1, td, (rank + 1) % size, 3, rb, 1, t, (rank + size - 1) % size, 3,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    int left = (rank + size - 1) % size;
    check(rb[0] == left && rb[2] == left + 2, "typed sendrecv %d %d", rb[0], rb[2]);
    MPI_Type_delete_attr(td, tkey);
    check(n_tdelete == 1, "type delete_attr count %d", n_tdelete);
    /* Free the dup first: MPICH keeps a type alive while a dup of it
     * exists, and deletes its attributes only when it really goes. */
    MPI_Type_free(&td);
    check(n_tdelete == 1, "type free without attribute count %d", n_tdelete);
    MPI_Type_free(&t);
    check(n_tdelete == 2, "type free count %d", n_tdelete);
    MPI_Type_free_keyval(&tkey);
    check(tkey == MPI_KEYVAL_INVALID, "type free_keyval did not reset the key");

    /* Predefined attribute. */
    int *tagub = NULL, flag = 0;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &tagub, &flag);
    check(flag && *tagub >= 32767, "MPI_TAG_UB %d", flag ? *tagub : -1);
    /* The largest tag is usable. */
    if (flag) {
        int x = rank, y = -1;
        MPI_Sendrecv(&x, 1, MPI_INT, (rank + 1) % size, *tagub, &y, 1, MPI_INT, left, *tagub,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        check(y == left, "message with tag MPI_TAG_UB: %d", y);
    }

    int counts[4] = { n_copy, n_delete, n_tcopy, n_tdelete }, tot[4];
    MPI_Reduce(counts, tot, 4, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("attributes on %d ranks: comm copies %d deletes %d, type copies %d deletes %d\n",
               size, tot[0], tot[1], tot[2], tot[3]);

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}
