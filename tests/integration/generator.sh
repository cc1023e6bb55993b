#!/usr/bin/env bash
# The wrapper generator: known output for a small API list (so a change to
# the templates is seen), and file:line errors for bad input.
source "$(dirname "$0")/../lib.sh"
gen=$TOP/mpi-wrappers/gen_wrappers.py
fixtures=$TOP/tests/integration/fixtures

mkdir -p "$WORK/out"
if python3 "$gen" "$fixtures/gen_api_small.txt" "$WORK/out" 2>"$WORK/err"; then
  for f in upper_mpi_exports.c upper_mpi_records.c lower_mpi_table_fill.c; do
    check "generated $f matches the reference" cmp -s "$WORK/out/$f" "$fixtures/gen_expected_$f"
  done
  check "variadic upper-only function has no table entry" bash -c "! grep -q Pcontrol '$WORK/out/mana_mpi_table.h'"
  check "Comm_rank translates its communicator" grep -q 'vid_real(VID_COMM, comm, &r_comm)' "$WORK/out/upper_mpi_exports.c"
  check "Group_range_incl records its ranges" grep -q 'mana_blob_put_array(&b, ranges' "$WORK/out/upper_mpi_records.c"
  check "Irecv describes its request" grep -q '.kind = MANA_REQ_RECV' "$WORK/out/upper_mpi_exports.c"
  check "a nonblocking collective keeps its arguments, to be posted again after a restart" \
    grep -q 'd.repost = repost_MPI_Ialltoallw;' "$WORK/out/upper_mpi_exports.c"
  check "its repost translates its arrays of handles anew" \
    grep -q 'r_sendtypes = mana_wrap_handles_in(VID_DATATYPE, (const int32_t \*)sendtypes, n_sendtypes, NULL' \
    "$WORK/out/upper_mpi_exports.c"
  check "a rooted collective whose ghost would be over 64 KiB takes an arrival barrier before it" \
    awk '/^int MPI_Bcast\(/ { in_bcast = 1 } in_bcast && /mana_ghost_large\(&c, comm, / { g = NR }
         in_bcast && /mana_lower->mpi.MPI_Ibcast\(/ { i = NR; in_bcast = 0 } END { exit !(g && i && g < i) }' \
    "$WORK/out/upper_mpi_exports.c"
  check "MPI_Comm_idup is described so that a restart posts it again instead of replaying it" \
    grep -q 'mana_idup_describe(&d, comm, MPI_INFO_NULL, 0, \*newcomm);' "$WORK/out/upper_mpi_exports.c"
  check "a collective constructor's barrier comes before its handles are translated" \
    awk '/mana_coll_barrier\(&c, comm_old\)/ { b = NR } /vid_real\(VID_COMM, comm_old, &r_comm_old\)/ { t = NR }
         END { exit !(b && t && b < t) }' "$WORK/out/upper_mpi_exports.c"

  check "unsupported function is generated as such" grep -q 'mana_unsupported("MPI_Win_fence")' "$WORK/out/upper_mpi_unsupported.c"
  check "weights are handed to the lower MPI through the sentinel map" \
    grep -q 'mana_weights_real(sourceweights)' "$WORK/out/upper_mpi_exports.c"
  check "weights are recorded as data or as their sentinel" \
    grep -q 'mana_blob_put_weights(&b, destweights' "$WORK/out/upper_mpi_records.c"
  check "an MPIX function returning MPI_Fint or int is generated as unsupported" \
    bash -c "grep -q 'MPI_Fint MPI_File_c2f(MPI_File file)' '$WORK/out/upper_mpi_unsupported.c' && grep -q 'mana_unsupported(\"MPIX_Comm_revoke\")' '$WORK/out/upper_mpi_unsupported.c'"
else
  not_ok "generator failed on the small API list"; sed 's/^/#   /' "$WORK/err"
fi

# The Open MPI lower half's adapters and constant tables.
mkdir -p "$WORK/ompi"
if python3 "$gen" "$fixtures/gen_api_small.txt" "$WORK/ompi" "$fixtures/gen_constants_small.txt" \
     "$fixtures/gen_openmpi_small.txt" 2>"$WORK/err"; then
  for f in lower_ompi_table.c abi_consts_ompi.c; do
    check "generated $f matches the reference" cmp -s "$WORK/ompi/$f" "$fixtures/gen_expected_$f"
  done
  check "a rank crosses through the rank group" grep -q 'abi_value_in(ABI_G_RANK, dest)' "$WORK/ompi/lower_ompi_table.c"
  check "a constant Open MPI lacks gets no Open MPI value" grep -q '0, /\* absent \*/' "$WORK/ompi/abi_consts_ompi.c"
  check "an absent function fails at the call" \
    grep -q 'abi_absent("MPI_Dist_graph_create_adjacent")' "$WORK/ompi/lower_ompi_table.c"
else
  not_ok "generator failed on the small API list with the Open MPI lists"; sed 's/^/#   /' "$WORK/err"
fi
bad_ompi() { # NAME FILE(constants|openmpi) LINE PATTERN
  cp "$fixtures/gen_constants_small.txt" "$WORK/c.txt"
  cp "$fixtures/gen_openmpi_small.txt" "$WORK/o.txt"
  printf '%s\n' "$3" >"$WORK/$2"
  expect_status "generator rejects $1" 1 "$4" python3 "$gen" "$fixtures/gen_api_small.txt" "$WORK/ompi" \
    "$WORK/c.txt" "$WORK/o.txt"
}
bad_ompi "a constants line without a kind" c.txt "comm : MPI_COMM_NULL" "c.txt:1: expected '<group> handle"
bad_ompi "a constant that is not an MPI name" c.txt "comm handle : comm_world" "'comm_world' is not an MPI constant"
bad_ompi "a constants list without a handle group" c.txt "rank value : MPI_ANY_SOURCE" "the handle group 'comm' is missing"
bad_ompi "an Open MPI line of an unknown function" o.txt "absent MPI_Nothing" "o.txt:1: MPI_Nothing is not in the API list"
bad_ompi "an Open MPI line of an unknown kind" o.txt "maybe MPI_Send" "o.txt:1: expected 'absent NAME"

bad() { # NAME LINE PATTERN
  printf '%s\n' "$2" >"$WORK/bad.txt"
  expect_status "generator rejects $1" 1 "bad.txt:1: $3" python3 "$gen" "$WORK/bad.txt" "$WORK/out"
}
bad "an unknown kind" "magic ; int MPI_Send(int a)" "unknown kind 'magic'"
bad "a line without a kind" "int MPI_Send(int a)" "expected '<how> ; <prototype>'"
bad "a non-prototype" "pass ; MPI_Send" "not a prototype"
bad "a crossing variadic function" "pass ; int MPI_Pcontrol(const int level, ...)" "variadic MPI_Pcontrol must be upper-only"
bad "a parameter without a name" "pass ; int MPI_Barrier(MPI_Comm)" "cannot find the parameter name"
bad "an unknown annotation" "pass ; int MPI_Barrier(MPI_Comm comm) ; magic(comm)" "unknown annotation 'magic"
bad "an annotation of a missing parameter" "pass ; int MPI_Barrier(MPI_Comm comm) ; in(com)" \
  "annotation names 'com', which is not a parameter"
bad "an array of handles without its length" \
  "pass ; int MPI_Startall(int count, MPI_Request array_of_requests[])" "MPI_Startall: array of handles 'array_of_requests' needs len"
bad "a recorded input array without its length" \
  "pass ; int MPI_Group_incl(MPI_Group group, int n, const int ranks[], MPI_Group *newgroup)" "MPI_Group_incl is recorded: input array 'ranks' needs len"
printf 'pass ; int MPI_Barrier(MPI_Comm comm)\npass ; int MPI_Barrier(MPI_Comm comm)\n' >"$WORK/dup.txt"
expect_status "generator rejects a duplicate" 1 "dup.txt:2: MPI_Barrier is listed twice" python3 "$gen" "$WORK/dup.txt" "$WORK/out"
bad "recorded weights without their length" \
  "pass ; int MPI_Dist_graph_create_adjacent(MPI_Comm comm_old, int indegree, const int sources[], const int sourceweights[], int outdegree, const int destinations[], const int destweights[], MPI_Info info, int reorder, MPI_Comm *comm_dist_graph) ; len(sources)=indegree len(destinations)=outdegree len(destweights)=outdegree" \
  "MPI_Dist_graph_create_adjacent is recorded: weights 'sourceweights' needs len"
