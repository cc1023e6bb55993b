! Fortran 90 with `use mpi`: a 2-D halo exchange on a periodic Cartesian
! grid (MPI_CART_CREATE, MPI_CART_SHIFT, a column datatype from
! MPI_TYPE_VECTOR, MPI_ISEND/MPI_IRECV/MPI_WAITALL with
! MPI_STATUSES_IGNORE), an MPI_ALLREDUCE of the field every step, a row
! subcommunicator from MPI_CART_SUB, a user reduction op in Fortran,
! MPI_BOTTOM with a datatype of absolute addresses, MPI_IN_PLACE in
! MPI_REDUCE, and an attribute whose copy and delete callbacks are
! Fortran (MPI_COMM_CREATE_KEYVAL, INTEGER(KIND=MPI_ADDRESS_KIND)
! values), and an unweighted distributed graph (MPI_UNWEIGHTED) with a
! neighbourhood collective. Rank 0 prints; the last line is 'fortran90: OK' or
! 'fortran90: FAIL (check N)'.
! Build: mpif90.mpich fortran90.f90 -o fortran90
module f90_callbacks
  implicit none
  integer :: ncopies = 0, ndeletes = 0
contains
  subroutine copy_attr(oldcomm, keyval, extra, valin, valout, flag, ierr)
    use mpi
    integer :: oldcomm, keyval, ierr
    integer(kind=MPI_ADDRESS_KIND) :: extra, valin, valout
    logical :: flag
    ncopies = ncopies + 1
    valout = valin + extra
    flag = .true.
    ierr = MPI_SUCCESS
  end subroutine copy_attr

  subroutine delete_attr(comm, keyval, val, extra, ierr)
    use mpi
    integer :: comm, keyval, ierr
    integer(kind=MPI_ADDRESS_KIND) :: val, extra
    ndeletes = ndeletes + 1
    ierr = MPI_SUCCESS
  end subroutine delete_attr

  ! A sum kept small: inout = mod(inout + in, 9973). Callers pass
  ! squares. It is associative and commutative, as MPI_Op_create's
  ! .true. promises, so every MPI reduces to the same result.
  subroutine sqsum(invec, inoutvec, len, dtype)
    integer :: len, dtype, i
    integer :: invec(len), inoutvec(len)
    do i = 1, len
      inoutvec(i) = mod(inoutvec(i) + invec(i), 9973)
    end do
  end subroutine sqsum
end module f90_callbacks

program fortran90
  use mpi
  use f90_callbacks
  implicit none
  integer, parameter :: nx = 6, ny = 5, nsteps = 8
  integer :: ierr, rank, nprocs, cart, dims(2), coords(2), crank
  logical :: periods(2), remain(2)
  integer :: north, south, west, east, coltype, reqs(8), step, i, j
  integer :: u(0:nx+1, 0:ny+1), unew(nx, ny), total, local, fail, anyfail
  integer :: row, rowsize, rowsum, myop, sq, expect
  integer :: keyval, dupcomm
  integer(kind=MPI_ADDRESS_KIND) :: extra, val, addr(2)
  logical :: found
  integer :: blocks(2), types(2), abstype, a, b(3)
  integer :: status(MPI_STATUS_SIZE)
  integer :: ring, nbrs(2), indeg, outdeg, srcs(2), dsts(2), got(2)
  logical :: weighted

  fail = 0
  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, nprocs, ierr)
  dims = 0
  call MPI_Dims_create(nprocs, 2, dims, ierr)
  periods = .true.
  call MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, .false., cart, ierr)
  call MPI_Comm_rank(cart, crank, ierr)
  call MPI_Cart_coords(cart, crank, 2, coords, ierr)
  call MPI_Cart_shift(cart, 0, 1, west, east, ierr)
  call MPI_Cart_shift(cart, 1, 1, south, north, ierr)
  ! A row of the local array (fixed j, i = 1..nx) is contiguous; a
  ! column (fixed i) is strided by nx+2.
  call MPI_Type_vector(ny, 1, nx + 2, MPI_INTEGER, coltype, ierr)
  call MPI_Type_commit(coltype, ierr)

  ! Made before the halo loop and used in it and after it, so that a
  ! checkpoint in the loop has them to rebuild: the ranks of one grid row
  ! (MPI_CART_SUB), a user op in Fortran, and an attribute on the grid's
  ! communicator with Fortran callbacks.
  remain = (/ .true., .false. /)
  call MPI_Cart_sub(cart, remain, row, ierr)
  call MPI_Op_create(sqsum, .true., myop, ierr)
  extra = 5
  call MPI_Comm_create_keyval(copy_attr, delete_attr, keyval, extra, ierr)
  val = 100 + rank
  call MPI_Comm_set_attr(cart, keyval, val, ierr)
  nbrs = (/ mod(rank - 1 + nprocs, nprocs), mod(rank + 1, nprocs) /)
  call MPI_Dist_graph_create_adjacent(MPI_COMM_WORLD, 2, nbrs, MPI_UNWEIGHTED, 2, nbrs, MPI_UNWEIGHTED, &
                                      MPI_INFO_NULL, .false., ring, ierr)

  u = 0
  do j = 1, ny
    do i = 1, nx
      u(i, j) = 16 * ((coords(1) * nx + i) + 3 * (coords(2) * ny + j))
    end do
  end do
  do step = 1, nsteps
    call MPI_Irecv(u(0, 1), 1, coltype, west, 1, cart, reqs(1), ierr)
    call MPI_Irecv(u(nx + 1, 1), 1, coltype, east, 2, cart, reqs(2), ierr)
    call MPI_Irecv(u(1, 0), nx, MPI_INTEGER, south, 3, cart, reqs(3), ierr)
    call MPI_Irecv(u(1, ny + 1), nx, MPI_INTEGER, north, 4, cart, reqs(4), ierr)
    call MPI_Isend(u(nx, 1), 1, coltype, east, 1, cart, reqs(5), ierr)
    call MPI_Isend(u(1, 1), 1, coltype, west, 2, cart, reqs(6), ierr)
    call MPI_Isend(u(1, ny), nx, MPI_INTEGER, north, 3, cart, reqs(7), ierr)
    call MPI_Isend(u(1, 1), nx, MPI_INTEGER, south, 4, cart, reqs(8), ierr)
    call MPI_Waitall(8, reqs, MPI_STATUSES_IGNORE, ierr)
    ! The C sentinel reached MPI, not this common-block variable.
    if (any(MPI_STATUSES_IGNORE /= 0)) fail = 7
    do j = 1, ny
      do i = 1, nx
        unew(i, j) = (4 * u(i, j) + u(i - 1, j) + u(i + 1, j) + u(i, j - 1) + u(i, j + 1)) / 8
      end do
    end do
    u(1:nx, 1:ny) = unew
    local = 0
    do j = 1, ny
      do i = 1, nx
        local = local + u(i, j) * mod(i + j, 3)
      end do
    end do
    ! The row's collective before the grid's: a checkpoint asked for in
    ! the former finds the other rows at the latter, not waiting for
    ! halo messages from this row.
    call MPI_Allreduce(mod(local, 1000)**2, sq, 1, MPI_INTEGER, myop, row, ierr)
    call MPI_Allreduce(local, total, 1, MPI_INTEGER, MPI_SUM, cart, ierr)
    if (rank == 0) write (*, '(A,I2,A,I10,A,I5)') 'step ', step, ' weighted field sum ', total, &
                                                  ' row squares ', sq
  end do
  call MPI_Type_free(coltype, ierr)

  ! The row, and the user op over the whole job.
  call MPI_Comm_size(row, rowsize, ierr)
  call MPI_Allreduce(crank, rowsum, 1, MPI_INTEGER, MPI_SUM, row, ierr)
  sq = 0
  call MPI_Allreduce((rank + 1)**2, sq, 1, MPI_INTEGER, myop, MPI_COMM_WORLD, ierr)
  call MPI_Op_free(myop, ierr)
  if (rowsize /= dims(1)) fail = 1
  if (rank == 0) write (*, '(A,I3,A,I6)') 'row size ', rowsize, ' user op ', sq
  call MPI_Comm_free(row, ierr)

  ! MPI_BOTTOM: a datatype of absolute addresses of two variables.
  a = -1
  b = -1
  if (rank == 0) then
    a = 42
    b = (/ 7, 8, 9 /)
  end if
  call MPI_Get_address(a, addr(1), ierr)
  call MPI_Get_address(b, addr(2), ierr)
  blocks = (/ 1, 3 /)
  types = MPI_INTEGER
  call MPI_Type_create_struct(2, blocks, addr, types, abstype, ierr)
  call MPI_Type_commit(abstype, ierr)
  call MPI_Bcast(MPI_BOTTOM, 1, abstype, 0, MPI_COMM_WORLD, ierr)
  call MPI_Type_free(abstype, ierr)
  if (a /= 42 .or. any(b /= (/ 7, 8, 9 /))) fail = 2

  ! MPI_IN_PLACE at the root of a reduce.
  local = rank * rank
  if (rank == 0) then
    call MPI_Reduce(MPI_IN_PLACE, local, 1, MPI_INTEGER, MPI_SUM, 0, MPI_COMM_WORLD, ierr)
    expect = 0
    do i = 0, nprocs - 1
      expect = expect + i * i
    end do
    if (local /= expect) fail = 3
  else
    call MPI_Reduce(local, total, 1, MPI_INTEGER, MPI_SUM, 0, MPI_COMM_WORLD, ierr)
  end if

  ! The unweighted ring: its neighbours, and a neighbourhood allgather.
  call MPI_Dist_graph_neighbors_count(ring, indeg, outdeg, weighted, ierr)
  call MPI_Dist_graph_neighbors(ring, 2, srcs, MPI_UNWEIGHTED, 2, dsts, MPI_UNWEIGHTED, ierr)
  call MPI_Neighbor_allgather(rank, 1, MPI_INTEGER, got, 1, MPI_INTEGER, ring, ierr)
  if (indeg /= 2 .or. outdeg /= 2 .or. weighted .or. any(srcs /= nbrs) .or. any(got /= nbrs)) fail = 8
  if (rank == 0) write (*, '(A,2I3,A,L2)') 'ring neighbours ', got, ' weighted', weighted
  call MPI_Comm_free(ring, ierr)

  ! The attribute's copy callback, and a status read back.
  call MPI_Comm_dup(cart, dupcomm, ierr)
  call MPI_Comm_get_attr(dupcomm, keyval, val, found, ierr)
  if (.not. found .or. val /= 105 + rank) fail = 4
  call MPI_Sendrecv(rank, 1, MPI_INTEGER, mod(rank + 1, nprocs), 9, &
                    i, 1, MPI_INTEGER, mod(rank - 1 + nprocs, nprocs), 9, dupcomm, status, ierr)
  if (i /= mod(rank - 1 + nprocs, nprocs) .or. status(MPI_SOURCE) /= i .or. status(MPI_TAG) /= 9) fail = 5
  call MPI_Comm_free(dupcomm, ierr)
  call MPI_Comm_free_keyval(keyval, ierr)
  call MPI_Comm_free(cart, ierr)
  if (ncopies /= 1 .or. ndeletes /= 2) fail = 6
  if (rank == 0) write (*, '(A,I3,A,I3)') 'attribute copies ', ncopies, ' deletes ', ndeletes

  call MPI_Allreduce(fail, anyfail, 1, MPI_INTEGER, MPI_MAX, MPI_COMM_WORLD, ierr)
  if (rank == 0) then
    if (anyfail == 0) then
      write (*, '(A)') 'fortran90: OK'
    else
      write (*, '(A,I3,A)') 'fortran90: FAIL (check ', anyfail, ')'
    end if
  end if
  call MPI_Finalize(ierr)
  if (anyfail /= 0) stop 1
end program fortran90
