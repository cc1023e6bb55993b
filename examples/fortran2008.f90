! Fortran 2008 with `use mpi_f08`: a 1-D halo exchange of a real field
! with MPI_Isend/MPI_Irecv and MPI_Waitall, an MPI_Allreduce of an
! integer checksum every step, a user reduction op with the mpi_f08
! interface (TYPE(C_PTR) buffers, TYPE(MPI_Datatype)), a subcommunicator
! from MPI_Comm_split, LOGICAL, CHARACTER and INTEGER(KIND=8) data,
! MPI_IN_PLACE, TYPE(MPI_Status) fields, and the handles' MPI_VAL (the
! integer handle of `use mpi`). Rank 0 prints; the last line is
! 'fortran2008: OK' or 'fortran2008: FAIL (check N)'.
! Build: mpif90.mpich fortran2008.f90 -o fortran2008
module f08_ops
  use, intrinsic :: iso_c_binding
  use mpi_f08
  implicit none
  type(MPI_Datatype) :: expected_type
  integer :: op_type_errors = 0
contains
  ! Elementwise maximum of |x|, on MPI_INTEGER.
  subroutine absmax(invec, inoutvec, len, datatype)
    type(c_ptr), value :: invec, inoutvec
    integer :: len
    type(MPI_Datatype) :: datatype
    integer, pointer :: a(:), b(:)
    integer :: i
    if (datatype /= expected_type) op_type_errors = op_type_errors + 1
    call c_f_pointer(invec, a, (/ len /))
    call c_f_pointer(inoutvec, b, (/ len /))
    do i = 1, len
      b(i) = max(abs(a(i)), abs(b(i)))
    end do
  end subroutine absmax
end module f08_ops

program fortran2008
  use mpi_f08
  use f08_ops
  implicit none
  integer, parameter :: n = 20, nsteps = 8
  integer :: rank, nprocs, left, right, i, step, fail, anyfail
  real(kind=8) :: u(0:n+1), unew(n)
  integer :: check, total, vals(3), res(3), hsum, expect
  type(MPI_Request) :: reqs(4)
  type(MPI_Status) :: status
  type(MPI_Comm) :: half
  type(MPI_Op) :: op
  logical :: flag, allflag
  character(len=12) :: word
  integer(kind=8) :: big, bigsum

  fail = 0
  call MPI_Init()
  call MPI_Comm_rank(MPI_COMM_WORLD, rank)
  call MPI_Comm_size(MPI_COMM_WORLD, nprocs)
  left = mod(rank - 1 + nprocs, nprocs)
  right = mod(rank + 1, nprocs)

  ! Made before the halo loop and used in it and after it, so that a
  ! checkpoint in the loop has them to rebuild.
  expected_type = MPI_INTEGER
  call MPI_Op_create(absmax, .true., op)
  call MPI_Comm_split(MPI_COMM_WORLD, rank / 2, -rank, half)

  do i = 1, n
    u(i) = real(mod((rank * n + i) * 37, 101), 8)
  end do
  do step = 1, nsteps
    call MPI_Irecv(u(0), 1, MPI_DOUBLE_PRECISION, left, 1, MPI_COMM_WORLD, reqs(1))
    call MPI_Irecv(u(n + 1), 1, MPI_DOUBLE_PRECISION, right, 2, MPI_COMM_WORLD, reqs(2))
    call MPI_Isend(u(n), 1, MPI_DOUBLE_PRECISION, right, 1, MPI_COMM_WORLD, reqs(3))
    call MPI_Isend(u(1), 1, MPI_DOUBLE_PRECISION, left, 2, MPI_COMM_WORLD, reqs(4))
    call MPI_Waitall(4, reqs, MPI_STATUSES_IGNORE)
    do i = 1, n
      unew(i) = 0.25d0 * u(i - 1) + 0.5d0 * u(i) + 0.25d0 * u(i + 1)
    end do
    u(1:n) = unew
    ! An integer checksum, so that the printed value is exact.
    check = 0
    do i = 1, n
      check = check + int(u(i) * 1024d0) * mod(i, 7)
    end do
    ! The pair's collective before the world's: a checkpoint asked for in
    ! the former finds the other pairs at the latter, not waiting for
    ! halo messages from this pair.
    vals(1) = check - 12345
    call MPI_Allreduce(vals, res, 1, MPI_INTEGER, op, half)
    call MPI_Allreduce(check, total, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD)
    if (rank == 0) write (*, '(A,I2,A,I12,A,I10)') 'step ', step, ' checksum ', total, ' pair absmax ', res(1)
  end do

  ! The user op with the mpi_f08 interface.
  vals = (/ rank, -2 * rank, 3 - rank /)
  call MPI_Allreduce(vals, res, 3, MPI_INTEGER, op, MPI_COMM_WORLD)
  call MPI_Op_free(op)
  if (res(1) /= nprocs - 1 .or. res(2) /= 2 * (nprocs - 1) .or. op_type_errors /= 0) fail = 1
  if (rank == 0) write (*, '(A,3I4)') 'absmax ', res

  ! The subcommunicator, and a status read through TYPE(MPI_Status).
  call MPI_Allreduce(rank, hsum, 1, MPI_INTEGER, MPI_SUM, half)
  expect = 0
  do i = (rank / 2) * 2, min(nprocs - 1, (rank / 2) * 2 + 1)
    expect = expect + i
  end do
  if (hsum /= expect) fail = 2
  call MPI_Sendrecv(rank, 1, MPI_INTEGER, right, 5, i, 1, MPI_INTEGER, left, 5, MPI_COMM_WORLD, status)
  if (i /= left .or. status%MPI_SOURCE /= left .or. status%MPI_TAG /= 5) fail = 3
  if (rank == 0) write (*, '(A,I4,A,I11)') 'pair sum ', hsum, ' world handle ', MPI_COMM_WORLD%MPI_VAL
  call MPI_Comm_free(half)

  ! LOGICAL, CHARACTER, INTEGER(KIND=8) and MPI_IN_PLACE.
  flag = mod(rank, 2) == 0
  call MPI_Allreduce(flag, allflag, 1, MPI_LOGICAL, MPI_LOR, MPI_COMM_WORLD)
  if (.not. allflag) fail = 4
  word = 'none'
  if (rank == nprocs - 1) word = 'from the end'
  call MPI_Bcast(word, len(word), MPI_CHARACTER, nprocs - 1, MPI_COMM_WORLD)
  if (word /= 'from the end') fail = 5
  big = 3_8 ** 30 * (rank + 1)
  call MPI_Allreduce(MPI_IN_PLACE, big, 1, MPI_INTEGER8, MPI_SUM, MPI_COMM_WORLD)
  bigsum = 3_8 ** 30 * (nprocs * (nprocs + 1) / 2)
  if (big /= bigsum) fail = 6
  if (rank == 0) write (*, '(A,L2,A,A,A,I20)') 'logical', allflag, ' word ', word, ' int8 ', big

  call MPI_Allreduce(fail, anyfail, 1, MPI_INTEGER, MPI_MAX, MPI_COMM_WORLD)
  if (rank == 0) then
    if (anyfail == 0) then
      write (*, '(A)') 'fortran2008: OK'
    else
      write (*, '(A,I3,A)') 'fortran2008: FAIL (check ', anyfail, ')'
    end if
  end if
  call MPI_Finalize()
  if (anyfail /= 0) stop 1
end program fortran2008
