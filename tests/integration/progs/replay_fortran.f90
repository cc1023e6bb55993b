! The Fortran side of the record log's replay (replay_objects.sh): makes
! objects whose rebuilding depends on MPICH's Fortran binding hooks, has
! MANA replay them (MPI_PCONTROL(99) with MANA_DEBUG=replay), then uses
! them: attributes of two keyvals with Fortran callbacks (one created
! with MPI_COMM_CREATE_KEYVAL, one with MPI_KEYVAL_CREATE and freed while
! its attribute stays), a user op in Fortran on a derived datatype, and
! a distributed graph made with MPI_UNWEIGHTED. The output must equal
! the native run's, where MPI_PCONTROL does nothing.
module replay_cb
  implicit none
  integer :: copies = 0, deletes = 0, old_copies = 0, old_deletes = 0
contains
  subroutine copy_new(comm, keyval, extra, valin, valout, flag, ierr)
    use mpi
    integer :: comm, keyval, ierr
    integer(kind=MPI_ADDRESS_KIND) :: extra, valin, valout
    logical :: flag
    copies = copies + 1
    valout = valin * 10 + extra
    flag = .true.
    ierr = MPI_SUCCESS
  end subroutine copy_new

  subroutine delete_new(comm, keyval, val, extra, ierr)
    use mpi
    integer :: comm, keyval, ierr
    integer(kind=MPI_ADDRESS_KIND) :: val, extra
    deletes = deletes + 1
    ierr = MPI_SUCCESS
  end subroutine delete_new

  subroutine copy_old(comm, keyval, extra, valin, valout, flag, ierr)
    use mpi
    integer :: comm, keyval, extra, valin, valout, ierr
    logical :: flag
    old_copies = old_copies + 1
    valout = valin + 1
    flag = .true.
    ierr = MPI_SUCCESS
  end subroutine copy_old

  subroutine delete_old(comm, keyval, val, extra, ierr)
    use mpi
    integer :: comm, keyval, val, extra, ierr
    old_deletes = old_deletes + 1
    ierr = MPI_SUCCESS
  end subroutine delete_old

  subroutine minmax(invec, inoutvec, len, dtype)
    integer :: len, dtype, i
    integer :: invec(2, len), inoutvec(2, len)
    do i = 1, len
      inoutvec(1, i) = min(inoutvec(1, i), invec(1, i))
      inoutvec(2, i) = max(inoutvec(2, i), invec(2, i))
    end do
  end subroutine minmax
end module replay_cb

program replay_fortran
  use mpi
  use replay_cb
  implicit none
  integer :: ierr, rank, nprocs, c1, c2, knew, kold, pairtype, op, ring
  integer :: nbrs(2), got(2), pair(2), res(2), indeg, outdeg
  integer(kind=MPI_ADDRESS_KIND) :: extra, val
  logical :: found, weighted

  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, nprocs, ierr)
  call MPI_Comm_dup(MPI_COMM_WORLD, c1, ierr)
  extra = 3
  call MPI_Comm_create_keyval(copy_new, delete_new, knew, extra, ierr)
  val = rank + 1
  call MPI_Comm_set_attr(c1, knew, val, ierr)
  call MPI_Keyval_create(copy_old, delete_old, kold, 0, ierr)
  call MPI_Attr_put(c1, kold, 100 + rank, ierr)
  call MPI_Keyval_free(kold, ierr)
  call MPI_Type_contiguous(2, MPI_INTEGER, pairtype, ierr)
  call MPI_Type_commit(pairtype, ierr)
  call MPI_Op_create(minmax, .true., op, ierr)
  nbrs = (/ mod(rank - 1 + nprocs, nprocs), mod(rank + 1, nprocs) /)
  call MPI_Dist_graph_create_adjacent(MPI_COMM_WORLD, 2, nbrs, MPI_UNWEIGHTED, 2, nbrs, MPI_UNWEIGHTED, &
                                      MPI_INFO_NULL, .false., ring, ierr)

  call MPI_Pcontrol(99)

  call MPI_Comm_dup(c1, c2, ierr)
  call MPI_Comm_get_attr(c2, knew, val, found, ierr)
  if (rank == 0) write (*, '(A,L2,I6)') 'copied new-style attribute', found, val
  call MPI_Comm_free(c2, ierr)
  call MPI_Comm_free(c1, ierr)
  call MPI_Comm_free_keyval(knew, ierr)
  if (rank == 0) write (*, '(A,4I3)') 'copies, deletes (new, old)', copies, deletes, old_copies, old_deletes
  pair = (/ rank, 10 * rank /)
  call MPI_Allreduce(pair, res, 1, pairtype, op, MPI_COMM_WORLD, ierr)
  if (rank == 0) write (*, '(A,2I4)') 'user op on a pair type', res
  call MPI_Dist_graph_neighbors_count(ring, indeg, outdeg, weighted, ierr)
  call MPI_Neighbor_allgather(rank, 1, MPI_INTEGER, got, 1, MPI_INTEGER, ring, ierr)
  if (rank == 0) write (*, '(A,2I3,A,L2,2I3)') 'ring degrees', indeg, outdeg, ' weighted', weighted, got
  call MPI_Op_free(op, ierr)
  call MPI_Type_free(pairtype, ierr)
  call MPI_Comm_free(ring, ierr)
  call MPI_Finalize(ierr)
end program replay_fortran
