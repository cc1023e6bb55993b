/* MPI_Comm_idup and MPI_Comm_idup_with_info across a checkpoint that
 * left them pending because a member had not posted them yet
 * (docs/checkpoint-protocol.md, "Allowed gaps"). The record log replays
 * a completed one as MPI_Comm_dup, which waits for every member: for a
 * pending one it would wait for the member that has not posted it, which
 * may be computing for minutes. So the replay skips such a record, and
 * the restart posts the idup again in its place among the communicator's
 * nonblocking collectives (repost_collectives), giving the new
 * communicator's id the communicator MPI makes now. MPI forbids the
 * application to use that communicator before the request completes, so
 * nothing else in the record log refers to it meanwhile. */
#include <mpi.h>
#include <stdint.h>

#include "crossing.h"
#include "mpi_idup.h"
#include "mpi_wrap.h"
#include "request_info.h"
#include "virtual_ids.h"

/* Where a pending idup keeps its arguments in coll_args. */
enum { IDUP_COMM, IDUP_INFO, IDUP_NEWCOMM, IDUP_WITH_INFO };

static int repost_idup(struct mana_crossing *c, struct mana_request_info *d, uint64_t *real)
{
    uint64_t r_comm, r_info;
    if (vid_real(VID_COMM, (int32_t)d->coll_args[IDUP_COMM], &r_comm) != 0)
        return MPI_ERR_COMM;
    /* The application may have freed the info since: it held hints only. */
    if (vid_real(VID_INFO, (int32_t)d->coll_args[IDUP_INFO], &r_info) != 0 &&
        vid_real(VID_INFO, (int32_t)MPI_INFO_NULL, &r_info) != 0)
        return MPI_ERR_INFO;
    MPI_Comm o_newcomm = (MPI_Comm)MPI_COMM_NULL;
    MPI_Request o_request = (MPI_Request)MPI_REQUEST_NULL;
    mana_cross_to_lower(c);
    int rc = d->coll_args[IDUP_WITH_INFO]
                 ? mana_lower->mpi.MPI_Comm_idup_with_info((MPI_Comm)r_comm, (MPI_Info)r_info, &o_newcomm, &o_request)
                 : mana_lower->mpi.MPI_Comm_idup((MPI_Comm)r_comm, &o_newcomm, &o_request);
    mana_cross_to_upper(c);
    if (rc != MPI_SUCCESS)
        return rc;
    vid_update_real(VID_COMM, (int32_t)d->coll_args[IDUP_NEWCOMM], MANA_REAL(o_newcomm));
    *real = MANA_REAL(o_request);
    return MPI_SUCCESS;
}

static int idup_live(const uint64_t *a, const int32_t *arr_n)
{
    uint64_t r;
    (void)arr_n;
    return vid_real(VID_COMM, (int32_t)a[IDUP_COMM], &r) == 0;
}

void mana_idup_describe(struct mana_request_info *d, MPI_Comm comm, MPI_Info info, int with_info, MPI_Comm newcomm)
{
    d->repost = repost_idup;
    d->live = idup_live;
    d->coll_args[IDUP_COMM] = (uint64_t)(int64_t)comm;
    d->coll_args[IDUP_INFO] = (uint64_t)(int64_t)(with_info ? info : MPI_INFO_NULL);
    d->coll_args[IDUP_NEWCOMM] = (uint64_t)(int64_t)newcomm;
    d->coll_args[IDUP_WITH_INFO] = (uint64_t)with_info;
}

/* The pending idup that makes VCOMM, or NULL. */
static const struct mana_request_info *pending_idup(int32_t vcomm)
{
    size_t cursor = 0;
    const struct mana_request_info *d;
    while ((d = mana_request_info_next(&cursor)) != NULL)
        if (d->repost == repost_idup && d->active && (int32_t)d->coll_args[IDUP_NEWCOMM] == vcomm)
            return d;
    return NULL;
}

int mana_idup_left_pending(int32_t vcomm)
{
    const struct mana_request_info *d = pending_idup(vcomm);
    return d != NULL && d->ckpt == MANA_REQ_CKPT_COLL_GAP;
}

int mana_idup_pending(int32_t vcomm)
{
    return pending_idup(vcomm) != NULL;
}
