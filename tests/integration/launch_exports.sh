#!/usr/bin/env bash
# libmana exports every function of the API list (MPI_x and PMPI_x), so
# coverage cannot shrink silently; and a call to an unsupported function
# stops the whole job at the call, naming it.
source "$(dirname "$0")/../lib.sh"
names=$BUILD/gen/mpi_exported_names.txt
lib=$BUILD/lib/mana/libmana.so

nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort >"$WORK/exports"
{ cat "$names"; sed 's/^/P/' "$names"; } | sort >"$WORK/wanted"
missing=$(comm -23 "$WORK/wanted" "$WORK/exports" | wc -l)
comm -23 "$WORK/wanted" "$WORK/exports" | head -5 | sed 's/^/# not exported: /'
check "every listed MPI function is exported as MPI_ and PMPI_ ($(wc -l <"$names") functions)" test "$missing" -eq 0
# MPII_*: MPICH's hooks for its Fortran and C++ binding libraries (mpi_lang.c).
extra=$(grep -vE '^P?MPIX?_|^MPII_' "$WORK/exports" | grep -vxE 'sigaction|signal|bsd_signal|sigprocmask|pthread_sigmask|pthread_create|MPIR_Dup_fn' | tr '\n' ' ')
check "libmana exports nothing else (${extra:-none})" test -z "$extra"
wrapped=$(grep -cE '^(pass|upper|both|upper-only) ;' "$TOP/mpi-wrappers/mpi_api.txt")
check "at least 330 functions fully wrapped ($wrapped)" test "$wrapped" -ge 330

# The message is checked on a singleton: under mpirun, MPI_Abort may tear
# the job down before the launcher has forwarded every rank's stderr.
timeout "$JOB_TIMEOUT" "$MANA_LAUNCH" "$BUILD/tests/progs/calls_unsupported" >"$WORK/out" 2>"$WORK/err"
rc=$?
check "unsupported call stops the program (exit $rc)" test "$rc" -ne 0
check "unsupported call is named" grep -q "MANA: MPI_Open_port is not supported" "$WORK/err"
check "nothing runs past the unsupported call" bash -c "! grep -q 'after the unsupported call' '$WORK/out'"
check "ordinary MPI before it worked" grep -q "before the unsupported call" "$WORK/out"
run_mana 2 "$BUILD/tests/progs/calls_unsupported" >"$WORK/out2" 2>"$WORK/err2"
rc=$?
check "unsupported call aborts a 2-rank job (exit $rc)" test "$rc" -ne 0
check "no rank of the job runs past the unsupported call" bash -c "! grep -q 'after the unsupported call' '$WORK/out2'"

# The same from Fortran: MPICH's Fortran binding reaches libmana's
# unsupported MPI_File_open, which names it and ends the job.
fprog=$BUILD/tests/progs/calls_unsupported_fortran
if [ -x "$fprog" ]; then
  (cd "$WORK" && timeout "$JOB_TIMEOUT" "$MANA_LAUNCH" "$fprog") >"$WORK/fout" 2>"$WORK/ferr"
  rc=$?
  check "unsupported call from Fortran stops the program (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
  check "unsupported call from Fortran is named" grep -q "MANA: MPI_File_open is not supported" "$WORK/ferr"
  check "nothing runs past the unsupported call from Fortran" bash -c "! grep -q 'after the unsupported call' '$WORK/fout'"
  check "ordinary MPI from Fortran before it worked" grep -q "before the unsupported call" "$WORK/fout"
  (cd "$WORK" && run_mana 2 "$fprog") >"$WORK/fout2" 2>"$WORK/ferr2"
  rc=$?
  check "unsupported call from Fortran aborts a 2-rank job (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
  check "no Fortran rank runs past the unsupported call" bash -c "! grep -q 'after the unsupported call' '$WORK/fout2'"
else
  skip "unsupported call from Fortran: $fprog not built (no gfortran with mpif90.mpich)"
fi

# --list-mpi agrees with the API list and with what libmana exports.
"$MANA_LAUNCH" --list-mpi >"$WORK/list" 2>&1
listed=$(grep -cE '^  MPIX?_' "$WORK/list")
check "--list-mpi lists every function ($listed of $(wc -l <"$names"))" test "$listed" -eq "$(wc -l <"$names")"
unsupported=$(grep -cE '^(unsupported|mana-only) ;' "$TOP/mpi-wrappers/mpi_api.txt")
check "--list-mpi counts agree with the API list" \
  grep -qx "$listed functions: $((listed - unsupported)) supported, $unsupported not supported" "$WORK/list"
