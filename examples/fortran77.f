C     Fortran 77 with include 'mpif.h': a 1-D halo exchange of an
C     integer field with MPI_SENDRECV, an MPI_ALLREDUCE of its sum at
C     every step, a user reduction op written in Fortran on a derived
C     datatype, a subcommunicator from MPI_COMM_SPLIT, LOGICAL,
C     CHARACTER and INTEGER*8 data, MPI_IN_PLACE, MPI_STATUS_IGNORE and
C     a status read field by field, and an MPI-1 attribute with copy
C     and delete callbacks written in Fortran. Rank 0 prints the
C     results; the last line is 'fortran77: OK' or 'fortran77: FAIL'.
C     Build: mpif77.mpich fortran77.f -o fortran77
      program f77ex
      implicit none
      include 'mpif.h'
      integer n, nsteps
      parameter (n = 16, nsteps = 6)
      integer ierr, rank, nprocs, left, right, i, step
      integer u(0:n+1), unew(n), total, expect, t
      integer status(MPI_STATUS_SIZE), cnt
      integer half, hrank, hsize, hsum
      integer pairtype, myop, pairs(2, 3), res(2, 3)
      integer*8 big, bigsum
      logical flag, allflag
      character*16 word
      integer keyval, dupcomm, attrval
      logical found
      integer fail, anyfail
      integer ncopies, ndeletes, optype
      common /f77cb/ ncopies, ndeletes, optype
      external pairop, copyfn, delfn

      fail = 0
      ncopies = 0
      ndeletes = 0
      call MPI_INIT(ierr)
      call MPI_COMM_RANK(MPI_COMM_WORLD, rank, ierr)
      call MPI_COMM_SIZE(MPI_COMM_WORLD, nprocs, ierr)
      left = mod(rank - 1 + nprocs, nprocs)
      right = mod(rank + 1, nprocs)

C     Objects made before the halo loop and used in it and after it,
C     so that a checkpoint in the loop has them to rebuild: a derived
C     datatype and a user op in Fortran, a subcommunicator, and an
C     MPI-1 attribute with Fortran copy and delete callbacks.
      call MPI_TYPE_CONTIGUOUS(2, MPI_INTEGER, pairtype, ierr)
      call MPI_TYPE_COMMIT(pairtype, ierr)
      optype = pairtype
      call MPI_OP_CREATE(pairop, .true., myop, ierr)
      call MPI_COMM_SPLIT(MPI_COMM_WORLD, mod(rank, 2), rank, half,
     &     ierr)
      call MPI_KEYVAL_CREATE(copyfn, delfn, keyval, 0, ierr)
      call MPI_ATTR_PUT(MPI_COMM_WORLD, keyval, 1000 + rank, ierr)

C     Halo exchange: u(1..n) is this rank's piece of a ring; each step
C     averages neighbours in integers, so every result is exact.
      do i = 1, n
         u(i) = (rank * n + i) * 64
      end do
      do step = 1, nsteps
         call MPI_SENDRECV(u(n), 1, MPI_INTEGER, right, 1,
     &        u(0), 1, MPI_INTEGER, left, 1, MPI_COMM_WORLD,
     &        MPI_STATUS_IGNORE, ierr)
         call MPI_SENDRECV(u(1), 1, MPI_INTEGER, left, 2,
     &        u(n+1), 1, MPI_INTEGER, right, 2, MPI_COMM_WORLD,
     &        status, ierr)
         if (status(MPI_SOURCE) .ne. right .or.
     &       status(MPI_TAG) .ne. 2) fail = 1
C        The binding handed MPI the C sentinel, not the address of the
C        common-block variable: MPI wrote nothing there.
         do i = 1, MPI_STATUS_SIZE
            if (MPI_STATUS_IGNORE(i) .ne. 0) fail = 13
         end do
         call MPI_GET_COUNT(status, MPI_INTEGER, cnt, ierr)
         if (cnt .ne. 1) fail = 2
         do i = 1, n
            unew(i) = (u(i-1) + 2 * u(i) + u(i+1)) / 4
         end do
         do i = 1, n
            u(i) = unew(i)
         end do
         t = 0
         do i = 1, n
            t = t + u(i)
         end do
C        The collective on the half before the one on the world: a
C        checkpoint asked for in the former then finds the other half
C        at the latter, not waiting for messages from this half.
         pairs(1, 1) = t
         pairs(2, 1) = u(1)
         call MPI_ALLREDUCE(pairs, res, 1, pairtype, myop, half, ierr)
         call MPI_ALLREDUCE(t, total, 1, MPI_INTEGER, MPI_SUM,
     &        MPI_COMM_WORLD, ierr)
         if (rank .eq. 0) write (*, '(A,I2,A,I10,A,2I10)')
     &        'step ', step, ' field sum ', total, ' even half ',
     &        res(1, 1), res(2, 1)
      end do

C     MPI_IN_PLACE from Fortran: the binding maps the common-block
C     variable to the C sentinel.
      t = rank + 1
      call MPI_ALLREDUCE(MPI_IN_PLACE, t, 1, MPI_INTEGER, MPI_SUM,
     &     MPI_COMM_WORLD, ierr)
      if (t .ne. nprocs * (nprocs + 1) / 2) fail = 3

C     The user op in Fortran on pairs (sum, max): it checks that it is
C     handed the application's datatype.
      do i = 1, 3
         pairs(1, i) = rank * i
         pairs(2, i) = mod(rank * 7 + i, 5)
      end do
      call MPI_ALLREDUCE(pairs, res, 3, pairtype, myop,
     &     MPI_COMM_WORLD, ierr)
      do i = 1, 3
         if (res(1, i) .ne. i * nprocs * (nprocs - 1) / 2) fail = 4
      end do
      if (rank .eq. 0) write (*, '(A,6I4)') 'pair op ', res
      call MPI_OP_FREE(myop, ierr)
      call MPI_TYPE_FREE(pairtype, ierr)

C     The subcommunicator: even and odd ranks.
      call MPI_COMM_RANK(half, hrank, ierr)
      call MPI_COMM_SIZE(half, hsize, ierr)
      call MPI_ALLREDUCE(rank, hsum, 1, MPI_INTEGER, MPI_SUM, half,
     &     ierr)
      expect = 0
      do i = mod(rank, 2), nprocs - 1, 2
         expect = expect + i
      end do
      if (hsum .ne. expect .or. hrank .ne. rank / 2) fail = 5
      if (rank .eq. 0) write (*, '(A,I3,A,I3)')
     &     'even half size ', hsize, ' rank sum ', hsum
      call MPI_COMM_FREE(half, ierr)

C     LOGICAL, CHARACTER and INTEGER*8.
      flag = rank .ge. 0
      call MPI_ALLREDUCE(flag, allflag, 1, MPI_LOGICAL, MPI_LAND,
     &     MPI_COMM_WORLD, ierr)
      if (.not. allflag) fail = 6
      word = 'unset'
      if (rank .eq. 0) word = 'halo-exchange'
      call MPI_BCAST(word, 16, MPI_CHARACTER, 0, MPI_COMM_WORLD, ierr)
      if (word .ne. 'halo-exchange') fail = 7
      big = 2_8 ** 40 + rank
      call MPI_ALLREDUCE(big, bigsum, 1, MPI_INTEGER8, MPI_SUM,
     &     MPI_COMM_WORLD, ierr)
      if (bigsum .ne. nprocs * 2_8 ** 40 + nprocs * (nprocs - 1) / 2)
     &     fail = 8
      if (rank .eq. 0) write (*, '(A,L2,A,A,A,I16)') 'logical',
     &     allflag, ' word ', word, ' int8 sum ', bigsum

C     The attribute: the copy callback runs in MPI_COMM_DUP, the delete
C     callback in MPI_COMM_FREE.
      call MPI_COMM_DUP(MPI_COMM_WORLD, dupcomm, ierr)
      call MPI_ATTR_GET(dupcomm, keyval, attrval, found, ierr)
      if (.not. found .or. attrval .ne. 1001 + rank) fail = 9
      call MPI_BARRIER(dupcomm, ierr)
      call MPI_COMM_FREE(dupcomm, ierr)
      if (ncopies .ne. 1 .or. ndeletes .ne. 1) fail = 10
      call MPI_ATTR_GET(MPI_COMM_WORLD, MPI_TAG_UB, attrval, found,
     &     ierr)
      if (.not. found .or. attrval .lt. 32767) fail = 11
      call MPI_ATTR_DELETE(MPI_COMM_WORLD, keyval, ierr)
      call MPI_KEYVAL_FREE(keyval, ierr)
      if (ndeletes .ne. 2) fail = 12
      if (rank .eq. 0) write (*, '(A,I3,A,I3)')
     &     'attribute copies ', ncopies, ' deletes ', ndeletes

      call MPI_ALLREDUCE(fail, anyfail, 1, MPI_INTEGER, MPI_MAX,
     &     MPI_COMM_WORLD, ierr)
      if (rank .eq. 0) then
         if (anyfail .eq. 0) then
            write (*, '(A)') 'fortran77: OK'
         else
            write (*, '(A,I3,A)') 'fortran77: FAIL (check ', anyfail,
     &           ')'
         end if
      end if
      call MPI_FINALIZE(ierr)
      if (anyfail .ne. 0) stop 1
      end

      subroutine pairop(invec, inoutvec, len, dtype)
      implicit none
      integer len, dtype, i
      integer invec(2, len), inoutvec(2, len)
      integer ncopies, ndeletes, optype
      common /f77cb/ ncopies, ndeletes, optype
      if (dtype .ne. optype) then
         write (*, '(A)') 'pairop: not the application''s datatype'
         call MPI_ABORT(0, 2, i)
      end if
      do i = 1, len
         inoutvec(1, i) = inoutvec(1, i) + invec(1, i)
         inoutvec(2, i) = max(inoutvec(2, i), invec(2, i))
      end do
      end

      subroutine copyfn(oldcomm, keyval, extra, valin, valout, flag,
     &     ierr)
      implicit none
      include 'mpif.h'
      integer oldcomm, keyval, extra, valin, valout, ierr
      logical flag
      integer ncopies, ndeletes, optype
      common /f77cb/ ncopies, ndeletes, optype
      ncopies = ncopies + 1
      valout = valin + 1
      flag = .true.
      ierr = MPI_SUCCESS
      end

      subroutine delfn(comm, keyval, val, extra, ierr)
      implicit none
      include 'mpif.h'
      integer comm, keyval, val, extra, ierr
      integer ncopies, ndeletes, optype
      common /f77cb/ ncopies, ndeletes, optype
      ndeletes = ndeletes + 1
      ierr = MPI_SUCCESS
      end
