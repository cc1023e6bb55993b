/* The stub libmpich.so.12 (and libmpi.so.12): what the application's
 * DT_NEEDED entry finds in the upper half instead of the real MPICH. It
 * only pulls in libmana.so, which already exports every MPI function;
 * the marker lets tests and tools tell it from the real library. */
const char mana_stub_marker[] = "MANA stub of the MPICH ABI library";
