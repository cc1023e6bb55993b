! Calls a function MANA does not support (MPI-IO's MPI_FILE_OPEN) from
! Fortran after some ordinary MPI: as from C, the job must stop at that
! call, naming it.
program calls_unsupported_fortran
  use mpi
  implicit none
  integer :: ierr, rank, fh
  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Barrier(MPI_COMM_WORLD, ierr)
  write (*, '(A,I0,A)') 'rank ', rank, ' before the unsupported call'
  flush (6)
  call MPI_File_open(MPI_COMM_WORLD, 'unsupported.dat', MPI_MODE_RDONLY, MPI_INFO_NULL, fh, ierr)
  write (*, '(A,I0,A)') 'rank ', rank, ' after the unsupported call'
  call MPI_Finalize(ierr)
end program calls_unsupported_fortran
