#!/usr/bin/env bash
# The Open MPI face exports what libmpi.so.40 does (issue 11, acceptance
# 3): every MPI function (MPI_x, PMPI_x, MPIX_x, OMPI_C_x) and every
# predefined object Open MPI's mpi.h names, the objects with libmpi.so.40's
# sizes (an application copies them by R_X86_64_COPY relocations). And an
# application built for an MPI ABI MANA has no face for is refused, naming
# the library it needs (acceptance 5).
source "$(dirname "$0")/../lib.sh"
LIB=$BUILD/lib/mana/libmana-ompi.so
real=$(for d in $(pkg-config --variable=libdir ompi-c 2>/dev/null) /usr/lib/x86_64-linux-gnu; do
  [ -e "$d/libmpi.so.40" ] && echo "$d/libmpi.so.40" && break; done)
if [ -z "$real" ]; then
  skip "face exports: libmpi.so.40 is not installed"
else
  api() { nm -D --defined-only "$1" | awk '$2 ~ /[TW]/ && $3 ~ /^(P?MPIX?_|OMPI_C_)/ { print $3 }' | sort; }
  api "$real" >"$WORK/real.fn"
  api "$LIB" >"$WORK/face.fn"
  missing=$(comm -23 "$WORK/real.fn" "$WORK/face.fn")
  if [ -z "$missing" ] && [ "$(wc -l <"$WORK/real.fn")" -gt 800 ]; then
    ok "the face exports every MPI function of libmpi.so.40 ($(wc -l <"$WORK/real.fn"))"
  else
    not_ok "the face lacks functions of libmpi.so.40: $(echo $missing | head -c 400)"
  fi
  H=$(dirname "$(mpicc.openmpi -showme:incdirs 2>/dev/null | awk '{print $1}')/x")/mpi.h
  objs=$(grep -oE 'OMPI_DECLSPEC[[:space:]]+extern[^;()]*;' "$H" | sed -E 's/.*[ *]([A-Za-z_][A-Za-z0-9_]*);/\1/' | sort -u)
  sizes() { nm -D -S --defined-only "$1" | awk 'NF == 4 { print $4, $2 }' | sort; }
  sizes "$real" >"$WORK/real.sz"
  sizes "$LIB" >"$WORK/face.sz"
  bad= n=0
  for o in $objs; do
    r=$(awk -v o="$o" '$1 == o { print $2 }' "$WORK/real.sz")
    [ -n "$r" ] || continue
    n=$((n + 1))
    f=$(awk -v o="$o" '$1 == o { print $2 }' "$WORK/face.sz")
    [ "$r" = "$f" ] || bad="$bad $o(real $r, face ${f:-none})"
  done
  if [ -z "$bad" ] && [ $n -gt 90 ]; then
    ok "the face exports every predefined object of Open MPI's mpi.h ($n) with libmpi.so.40's size"
  else
    not_ok "predefined objects missing or of another size:$bad"
  fi
fi

# Another MPI's ABI: a program that needs libmpi.so.60 (built here against
# a stand-in library of that soname).
mkdir -p "$WORK/other"
echo 'int MPI_Init(int *c, char ***v) { (void)c; (void)v; return 0; }' >"$WORK/other/lib.c"
gcc -shared -fPIC -Wl,-soname,libmpi.so.60 -o "$WORK/other/libmpi.so.60" "$WORK/other/lib.c"
printf 'int MPI_Init(int *, char ***);\nint main(int c, char **v) { return MPI_Init(&c, &v); }\n' >"$WORK/other/app.c"
gcc -o "$WORK/other/app" "$WORK/other/app.c" -L"$WORK/other" -l:libmpi.so.60
out=$("$MANA_LAUNCH" "$WORK/other/app" 2>&1)
rc=$?
if [ $rc -eq 126 ] && grep -q "needs libmpi.so.60" <<<"$out"; then
  ok "a program built for another MPI's ABI is refused (exit 126), naming libmpi.so.60"
else
  not_ok "a program needing libmpi.so.60: exit $rc, '$out'"
fi
