# MANA-C build. `make` builds everything into build/, laid out like an
# installed tree (bin/, libexec/mana/, lib/mana/), so it runs in place.
# `make check` and `make demo` install missing Debian packages first.

BUILD   ?= build
PREFIX  ?= /usr/local
CC      := gcc
PYTHON  ?= python3
MPICC   := mpicc.mpich
MPIRUN  := mpirun.mpich
VERSION := 0.1.0

# Lazily expanded: pkg-config may only exist once `make deps` has run.
MPICH_INC = $(shell pkg-config --cflags-only-I mpich 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/mpich)
OMPI_INC  = $(shell pkg-config --cflags-only-I ompi-c 2>/dev/null || echo -I/usr/lib/x86_64-linux-gnu/openmpi/include)
OMPI_LIBS = $(shell pkg-config --libs ompi-c 2>/dev/null || echo -lmpi)

WARN     := -Wall -Wextra -Werror
# GCC 12 warns falsely on MPICH's header attributes (shared/FACTS.md).
MPI_WARN := -Wno-stringop-overflow
CFLAGS_BASE := -std=gnu11 -O2 -g $(WARN) -MMD -MP -DMANA_VERSION='"$(VERSION)"' -Iinclude -I$(BUILD)/gen -Iloader

GEN_DIR  := $(BUILD)/gen
GEN_OUT  := $(GEN_DIR)/mana_mpi_table.h $(GEN_DIR)/upper_mpi_exports.c $(GEN_DIR)/lower_mpi_table_fill.c \
            $(GEN_DIR)/mpi_exported_names.txt $(GEN_DIR)/upper_mpi_unsupported.c $(GEN_DIR)/mpi_api_list.c \
            $(GEN_DIR)/upper_mpi_records.h $(GEN_DIR)/upper_mpi_records.c $(GEN_DIR)/abi_consts.h \
            $(GEN_DIR)/abi_consts_mpich.c $(GEN_DIR)/abi_consts_ompi.c $(GEN_DIR)/lower_ompi_table.c

BIN_LAUNCH   := $(BUILD)/bin/mana-launch
BIN_LOWER    := $(BUILD)/libexec/mana/mana-lh-mpich
BIN_LOWER_OMPI := $(BUILD)/libexec/mana/mana-lh-openmpi
LIB_MANA     := $(BUILD)/lib/mana/libmana.so
STUB_DIR     := $(BUILD)/lib/mana/stub
STUBS        := $(STUB_DIR)/libmpich.so.12 $(STUB_DIR)/libmpi.so.12
# The Open MPI face (docs/mpi-wrappers.md, "The Open MPI face").
LIB_MANA_OMPI := $(BUILD)/lib/mana/libmana-ompi.so
FACE_STUB    := $(BUILD)/lib/mana/ompi/libmpi.so.40
LIBMPI40      = $(firstword $(wildcard $(shell pkg-config --variable=libdir ompi-c 2>/dev/null)/libmpi.so.40 \
                  /usr/lib/x86_64-linux-gnu/libmpi.so.40 /usr/lib64/libmpi.so.40))
OMPI_MPI_H    = $(firstword $(patsubst -I%,%,$(OMPI_INC)))/mpi.h
BIN_INSPECT  := $(BUILD)/bin/mana-inspect
BIN_RESTART  := $(BUILD)/bin/mana-restart
BIN_IMAGE_TESTGEN := $(BUILD)/tests/bin/image-testgen

LOADER_SRC := loader/elf_image.c loader/elf_map.c loader/upper_stack.c
# The lower half's sources, built once per MPI flavour (LOWER_OBJ for
# MPICH, LOWER_OMPI_OBJ for Open MPI); only the *_calls.c files and the
# generated tables differ.
LOWER_SRC  = lower-half/lower_main.c lower-half/region_registry.c lower-half/region_labeller.c \
              lower-half/proc_maps.c lower-half/brk_guard.c lower-half/mpi_adapters.c \
              lower-half/region_dump.c lower-half/upper_env_build.c lower-half/fsgsbase_probe.c lower-half/vdso_symbol.c \
              lower-half/ckpt_stop.c lower-half/ckpt_regions.c lower-half/ckpt_state.c lower-half/ckpt_write.c \
              lower-half/ckpt_thread.c lower-half/ckpt_agree.c lower-half/gap_rule.c lower-half/ckpt_restore.c \
              lower-half/mpi_rank_env.c \
              lower-half/sigsys_open.c lower-half/ckpt_files.c lower-half/machine_info.c restart/trust.c restart/manifest.c \
              restart/generation_pick.c $(COORD_CLIENT_SRC) $(LOADER_SRC) $(IMAGE_SRC)
LAUNCH_SRC := lower-half/mana_launch.c loader/app_check.c loader/elf_image.c lower-half/ckpt_launch.c lower-half/mpi_rank_env.c \
              lower-half/mpi_flavour.c \
              restart/trust.c restart/generation_pick.c restart/manifest.c
UPPER_SRC  := upper-half/ckpt_sync.c upper-half/libmana_init.c upper-half/upper_env.c upper-half/mpi_init.c upper-half/mpi_op.c \
              upper-half/signal_wrappers.c upper-half/stub_check.c upper-half/unsupported.c \
              upper-half/mpi_time.c upper-half/mpi_callbacks.c upper-half/virtual_ids.c upper-half/record_log.c \
              upper-half/mpi_blob.c upper-half/request_info.c upper-half/mpi_wrap.c upper-half/mpi_replay.c \
              upper-half/mpi_type_contents.c upper-half/thread_wrappers.c upper-half/mpi_lang.c upper-half/mpi_idup.c \
              upper-half/drain_store.c upper-half/ckpt_drain.c upper-half/u64_map.c

LOWER_OBJ  = $(patsubst %.c,$(BUILD)/obj/lower/%.o,$(LOWER_SRC) lower-half/mpich_calls.c) \
             $(BUILD)/obj/lower/gen/lower_mpi_table_fill.o
LOWER_OMPI_OBJ = $(patsubst %.c,$(BUILD)/obj/lower-ompi/%.o,$(LOWER_SRC) lower-half/ompi_abi.c lower-half/ompi_abi_calls.c) \
             $(BUILD)/obj/lower-ompi/gen/lower_ompi_table.o $(BUILD)/obj/lower-ompi/gen/abi_consts_ompi.o \
             $(BUILD)/obj/lower/gen/abi_consts_mpich.o
LAUNCH_OBJ := $(patsubst %.c,$(BUILD)/obj/launch/%.o,$(LAUNCH_SRC)) $(BUILD)/obj/launch/gen/mpi_api_list.o
IMAGE_SRC  := restart/image_codec.c restart/image_writer.c restart/image_reader.c restart/image_threads.c \
              restart/machine_record.c
IMAGE_OBJ  := $(patsubst %.c,$(BUILD)/obj/image/%.o,$(IMAGE_SRC))
ZSTD_CFLAGS = $(shell pkg-config --cflags libzstd)
ZSTD_LIBS   = $(shell pkg-config --libs libzstd) -lxxhash
UPPER_OBJ  := $(patsubst %.c,$(BUILD)/obj/upper/%.o,$(UPPER_SRC)) $(BUILD)/obj/upper/gen/upper_mpi_exports.o \
              $(BUILD)/obj/upper/gen/upper_mpi_unsupported.o $(BUILD)/obj/upper/gen/upper_mpi_records.o

.PHONY: all deps check demo bench install clean examples test-programs unit-tests check-long fuzzers faults-tree \
        check-faults

# The coordinator (mana-coordinator, mana-ckpt and their client library)
# keeps its rules beside its sources. It sets COORD_ALL (what `all`
# builds), COORD_INSTALL_BIN, COORD_CLIENT_SRC, COORD_UNIT_MODULES, COORD_MAN.
-include coordinator/coordinator.mk
all: $(BIN_LAUNCH) $(BIN_LOWER) $(BIN_LOWER_OMPI) $(LIB_MANA) $(STUBS) $(LIB_MANA_OMPI) $(FACE_STUB) $(BIN_INSPECT) $(BIN_RESTART) $(BUILD)/share/man/man1/mana-launch.1 \
     $(BUILD)/share/man/man1/mana-inspect.1 $(BUILD)/share/man/man1/mana-restart.1 $(COORD_ALL)

deps:
	@scripts/install-deps.sh

# --- generated MPI crossing -------------------------------------------
$(GEN_DIR)/.stamp: mpi-wrappers/gen_wrappers.py mpi-wrappers/gen_abi.py mpi-wrappers/mpi_api.txt \
                   mpi-wrappers/mpi_constants.txt mpi-wrappers/openmpi.txt
	@mkdir -p $(GEN_DIR)
	$(PYTHON) mpi-wrappers/gen_wrappers.py mpi-wrappers/mpi_api.txt $(GEN_DIR) mpi-wrappers/mpi_constants.txt \
	    mpi-wrappers/openmpi.txt
	@touch $@
$(GEN_OUT): $(GEN_DIR)/.stamp

# --- lower half: a normal program linked with the real MPICH ----------
# The region labeller runs in a SIGSYS handler on any thread, with either
# half's %fs: no stack protector there (the canary is read through %fs).
$(BUILD)/obj/lower/%.o: %.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(MPI_WARN) $(MPICH_INC) -Ilower-half -Irestart $(ZSTD_CFLAGS) -mfsgsbase -fno-stack-protector -fPIE -c $< -o $@
$(BUILD)/obj/lower/gen/%.o: $(GEN_DIR)/%.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(MPI_WARN) $(MPICH_INC) -Ilower-half -Irestart -fPIE -c $< -o $@
# -z now: no lazy symbol binding may run inside the SIGSYS handler.
# The mask calls are exported so the libraries bind to ours (sigsys_open.c).
LOWER_LINK = $(CC) -pie -Wl,-z,now -Wl,--export-dynamic-symbol=pthread_sigmask -Wl,--export-dynamic-symbol=sigprocmask \
	  -o $@ $^ -lmpich -lhwloc -lelf $(ZSTD_LIBS) -pthread
$(BIN_LOWER): $(LOWER_OBJ)
	@mkdir -p $(dir $@)
	$(LOWER_LINK)

# --- the same lower half over Open MPI ---------------------------------
# Built with Open MPI's mpi.h, so the call table's MPICH types are
# spelled out (MANA_ABI_NEUTRAL, mana/mpich_abi.h) and every call is
# translated (ompi_abi.h); abi_consts_mpich.o alone sees MPICH's mpi.h.
# The application may call the MPI-1 functions that Open MPI's mpi.h
# hides by default (they are still in libmpi.so.40): the adapters pass
# them on.
LOWER_OMPI_CFLAGS = $(CFLAGS_BASE) -DMANA_ABI_NEUTRAL -DOMPI_OMIT_MPI1_COMPAT_DECLS=0 $(OMPI_INC) -Ilower-half -Irestart $(ZSTD_CFLAGS) -mfsgsbase \
	  -fno-stack-protector -fPIE
$(BUILD)/obj/lower-ompi/%.o: %.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(LOWER_OMPI_CFLAGS) -c $< -o $@
$(BUILD)/obj/lower-ompi/gen/%.o: $(GEN_DIR)/%.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(LOWER_OMPI_CFLAGS) -Wno-deprecated-declarations -c $< -o $@
$(BIN_LOWER_OMPI): $(LOWER_OMPI_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -pie -Wl,-z,now -Wl,--export-dynamic-symbol=pthread_sigmask -Wl,--export-dynamic-symbol=sigprocmask \
	  -o $@ $^ $(OMPI_LIBS) -lhwloc -lelf $(ZSTD_LIBS) -pthread

# --- mana-launch -------------------------------------------------------
$(BUILD)/obj/launch/%.o: %.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(MPICH_INC) -Impi-wrappers -Ilower-half -Irestart -c $< -o $@
$(BUILD)/obj/launch/gen/%.o: $(GEN_DIR)/%.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -Impi-wrappers -c $< -o $@
$(BIN_LAUNCH): $(LAUNCH_OBJ) $(IMAGE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lelf $(ZSTD_LIBS) -pthread

# --- upper half: libmana.so and the stubs ------------------------------
# Built without stack protector: crossings change %fs mid-function.
UPPER_CFLAGS = $(CFLAGS_BASE) $(MPI_WARN) $(MPICH_INC) -Iupper-half -fPIC -mfsgsbase -fno-stack-protector
$(BUILD)/obj/upper/%.o: %.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(UPPER_CFLAGS) -c $< -o $@
$(BUILD)/obj/upper/gen/%.o: $(GEN_DIR)/%.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(UPPER_CFLAGS) -c $< -o $@
$(LIB_MANA): $(UPPER_OBJ) upper-half/libmana.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libmana.so -Wl,--version-script=upper-half/libmana.map -Wl,-z,now \
	    -Wl,--no-undefined -o $@ $(UPPER_OBJ)
$(STUB_DIR)/%: upper-half/stub_libmpich.c $(LIB_MANA)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -fPIC -shared -Wl,-soname,$* -Wl,--no-as-needed -o $@ $< -L$(BUILD)/lib/mana -lmana

# --- upper half, Open MPI face: libmana-ompi.so and libmpi.so.40 -------
# libmana's objects with every MPI name renamed mana_mpich_* (the face
# calls them; the application binds to the face's MPI_x), and the face:
# generated adapters (gen_face.py, from libmpi.so.40's own exports and
# sizes), its runtime, and the value tables of the Open MPI lower half.
FACE_GEN := $(GEN_DIR)/face_ompi_table.c $(GEN_DIR)/face_ompi_objects.c
$(GEN_DIR)/libmpi40.syms:
	@mkdir -p $(dir $@)
	nm -D -S --defined-only $(LIBMPI40) > $@.tmp && mv $@.tmp $@
$(GEN_DIR)/.face-stamp: mpi-wrappers/gen_face.py mpi-wrappers/gen_wrappers.py mpi-wrappers/gen_abi.py \
                        mpi-wrappers/mpi_api.txt mpi-wrappers/openmpi.txt $(GEN_DIR)/libmpi40.syms
	$(PYTHON) mpi-wrappers/gen_face.py mpi-wrappers/mpi_api.txt mpi-wrappers/openmpi.txt $(GEN_DIR)/libmpi40.syms \
	    $(OMPI_MPI_H) $(GEN_DIR)
	@touch $@
$(FACE_GEN): $(GEN_DIR)/.face-stamp
UPPER_RENAMED_OBJ := $(patsubst $(BUILD)/obj/upper/%,$(BUILD)/obj/upper-renamed/%,$(UPPER_OBJ))
FACE_OBJ := $(BUILD)/obj/face/upper-half/face_ompi.o $(BUILD)/obj/face/lower-half/ompi_abi.o \
            $(BUILD)/obj/face/gen/face_ompi_table.o $(BUILD)/obj/face/gen/face_ompi_objects.o \
            $(BUILD)/obj/face/gen/abi_consts_ompi.o $(BUILD)/obj/face-mpich/gen/abi_consts_mpich.o
FACE_CFLAGS = $(CFLAGS_BASE) -DMANA_ABI_NEUTRAL -DOMPI_OMIT_MPI1_COMPAT_DECLS=0 $(OMPI_INC) -Ilower-half -Iupper-half \
              -fPIC -fno-stack-protector -Wno-deprecated-declarations
$(GEN_DIR)/face_rename.txt: $(UPPER_OBJ)
	nm -g $(UPPER_OBJ) | awk 'NF >= 2 && $$NF ~ /^P?MPI/ { print $$NF, "mana_mpich_" $$NF }' | sort -u > $@
$(BUILD)/obj/upper-renamed/%.o: $(BUILD)/obj/upper/%.o $(GEN_DIR)/face_rename.txt
	@mkdir -p $(dir $@)
	objcopy --redefine-syms=$(GEN_DIR)/face_rename.txt $< $@
$(BUILD)/obj/face/%.o: %.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(FACE_CFLAGS) -c $< -o $@
$(BUILD)/obj/face/gen/%.o: $(GEN_DIR)/%.c $(GEN_DIR)/.stamp $(GEN_DIR)/.face-stamp
	@mkdir -p $(dir $@)
	$(CC) $(FACE_CFLAGS) -c $< -o $@
$(BUILD)/obj/face-mpich/gen/%.o: $(GEN_DIR)/%.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(UPPER_CFLAGS) -c $< -o $@
$(LIB_MANA_OMPI): $(UPPER_RENAMED_OBJ) $(FACE_OBJ) upper-half/libmana-ompi.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libmana-ompi.so -Wl,--version-script=upper-half/libmana-ompi.map -Wl,-z,now \
	    -Wl,--no-undefined -o $@ $(UPPER_RENAMED_OBJ) $(FACE_OBJ)
$(FACE_STUB): upper-half/stub_libmpich.c $(LIB_MANA_OMPI)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -fPIC -shared -Wl,-soname,libmpi.so.40 -Wl,--no-as-needed -o $@ $< \
	    -L$(BUILD)/lib/mana -lmana-ompi

# --- checkpoint image: format, writer, reader; mana-inspect ------------
$(BUILD)/obj/image/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -Irestart -Ilower-half $(ZSTD_CFLAGS) -c $< -o $@
# --threads decodes the thread records as the restart does.
INSPECT_SRC := restart/mana_inspect.c restart/inspect_threads.c lower-half/ckpt_state.c lower-half/ckpt_files.c
$(BIN_INSPECT): $(patsubst %.c,$(BUILD)/obj/image/%.o,$(INSPECT_SRC)) $(IMAGE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ZSTD_LIBS) -pthread
RESTART_SRC := restart/mana_restart.c restart/manifest.c restart/trust.c lower-half/ckpt_launch.c lower-half/mpi_rank_env.c \
               lower-half/mpi_flavour.c restart/generation_pick.c
$(BUILD)/obj/restart/%.o: %.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(MPICH_INC) -Ilower-half -Irestart -c $< -o $@
$(BIN_RESTART): $(patsubst %.c,$(BUILD)/obj/restart/%.o,$(RESTART_SRC)) $(IMAGE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ZSTD_LIBS) -pthread
$(BIN_IMAGE_TESTGEN): $(BUILD)/obj/image/restart/image_testgen.o $(IMAGE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ZSTD_LIBS) -pthread

$(BUILD)/share/man/man1/%.1: docs/man/%.1
	@mkdir -p $(dir $@)
	cp $< $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# --- examples and test programs, built like users build theirs --------
EXAMPLES := $(basename $(notdir $(wildcard examples/*.c)))
EXAMPLE_BINS := $(addprefix $(BUILD)/examples/,$(EXAMPLES))
EXAMPLE_FLAGS_threads_pthreads := -pthread
EXAMPLE_FLAGS_signals_in_mpi := -pthread
EXAMPLE_FLAGS_threads_openmp := -fopenmp
EXAMPLE_FLAGS_halves_apart := -pthread
# The Fortran (mpif.h, `use mpi`, `use mpi_f08`) and C++ examples, built
# with MPICH's compiler wrappers and no flags of MANA's, when the
# compilers are installed (scripts/install-deps.sh installs them).
MPIF77 := mpif77.mpich
MPIF90 := mpif90.mpich
MPICXX := mpicxx.mpich
HAVE_FORTRAN := $(shell command -v gfortran >/dev/null 2>&1 && command -v $(MPIF90) >/dev/null 2>&1 && echo yes)
HAVE_CXX := $(shell command -v g++ >/dev/null 2>&1 && command -v $(MPICXX) >/dev/null 2>&1 && echo yes)
ifeq ($(HAVE_FORTRAN),yes)
EXAMPLE_BINS += $(addprefix $(BUILD)/examples/,$(basename $(notdir $(wildcard examples/*.f examples/*.f90))))
endif
ifeq ($(HAVE_CXX),yes)
EXAMPLE_BINS += $(addprefix $(BUILD)/examples/,$(basename $(notdir $(wildcard examples/*.cpp))))
endif
# The C examples again, built with Open MPI's wrapper and no flags of
# MANA's: the Open MPI face's programs (tests/integration/ompi_face_*.sh).
MPICC_OMPI := mpicc.openmpi
HAVE_OMPI_CC := $(shell command -v $(MPICC_OMPI) >/dev/null 2>&1 && echo yes)
ifeq ($(HAVE_OMPI_CC),yes)
EXAMPLES_OMPI := $(EXAMPLES)
EXAMPLE_BINS += $(addprefix $(BUILD)/examples-ompi/,$(EXAMPLES_OMPI))
endif
examples: $(EXAMPLE_BINS)
$(BUILD)/examples-ompi/%: examples/%.c examples/example_check.h
	@mkdir -p $(dir $@)
	$(MPICC_OMPI) -std=gnu11 -O2 $(WARN) $(MPI_WARN) -Wno-stringop-overread -Wno-deprecated-declarations $(EXAMPLE_FLAGS_$*) -o $@ $<
$(BUILD)/examples/%: examples/%.c examples/example_check.h
	@mkdir -p $(dir $@)
	$(MPICC) -std=gnu11 -O2 $(WARN) $(MPI_WARN) $(EXAMPLE_FLAGS_$*) -o $@ $<
# Each Fortran example builds in its own directory: gfortran writes the
# .mod files of a program's modules into the current one.
$(BUILD)/examples/%: examples/%.f
	@mkdir -p $(BUILD)/obj/examples/$*
	cd $(BUILD)/obj/examples/$* && $(MPIF77) -O2 -o $(abspath $@) $(abspath $<)
$(BUILD)/examples/%: examples/%.f90
	@mkdir -p $(BUILD)/obj/examples/$*
	cd $(BUILD)/obj/examples/$* && $(MPIF90) -O2 -o $(abspath $@) $(abspath $<)
$(BUILD)/examples/%: examples/%.cpp examples/example_check.h
	@mkdir -p $(dir $@)
	$(MPICXX) -O2 $(WARN) $(MPI_WARN) -o $@ $<

TEST_PROGS := $(basename $(notdir $(wildcard tests/integration/progs/*.c)))
TEST_PROG_BINS := $(addprefix $(BUILD)/tests/progs/,$(TEST_PROGS))
# Stress programs (issue 6): each aims at one hard MPI case and checks its
# own results; built like the examples, run by tests/integration/stress_*.sh.
STRESS_PROGS := $(basename $(notdir $(wildcard tests/stress/*.c)))
STRESS_BINS := $(addprefix $(BUILD)/tests/stress/,$(STRESS_PROGS))
ifeq ($(HAVE_FORTRAN),yes)
TEST_PROG_BINS += $(addprefix $(BUILD)/tests/progs/,$(basename $(notdir $(wildcard tests/integration/progs/*.f90))))
endif
test-programs: $(TEST_PROG_BINS) $(STRESS_BINS) $(BIN_IMAGE_TESTGEN)
$(BUILD)/tests/stress/%: tests/stress/%.c examples/example_check.h
	@mkdir -p $(dir $@)
	$(MPICC) -std=gnu11 -O2 $(WARN) $(MPI_WARN) -o $@ $<
$(BUILD)/tests/progs/%: tests/integration/progs/%.c
	@mkdir -p $(dir $@)
	$(MPICC) -std=gnu11 -O2 $(WARN) $(MPI_WARN) -pthread -o $@ $< -ldl
$(BUILD)/tests/progs/%: tests/integration/progs/%.f90
	@mkdir -p $(BUILD)/obj/progs/$*
	cd $(BUILD)/obj/progs/$* && $(MPIF90) -O2 -o $(abspath $@) $(abspath $<)

# --- unit tests (Check), plain and with AddressSanitizer + UBSan --------
UNIT_TESTS := $(basename $(notdir $(wildcard tests/unit/check_*.c)))
UNIT_MODULES := loader/elf_image.c loader/elf_map.c loader/upper_stack.c loader/app_check.c \
                lower-half/region_registry.c lower-half/proc_maps.c lower-half/upper_env_build.c \
                lower-half/vdso_symbol.c
UNIT_MODULES += $(IMAGE_SRC) upper-half/virtual_ids.c upper-half/record_log.c upper-half/u64_map.c $(COORD_UNIT_MODULES) \
                upper-half/mpi_blob.c upper-half/request_info.c lower-half/sigsys_open.c lower-half/ckpt_files.c \
                lower-half/ckpt_state.c restart/trust.c upper-half/drain_store.c lower-half/gap_rule.c
UNIT_CFLAGS = -std=gnu11 -O1 -g $(WARN) $(MPI_WARN) $(MPICH_INC) -Iinclude -I$(GEN_DIR) -Iloader -Ilower-half -Irestart \
              $(ZSTD_CFLAGS) $(shell pkg-config --cflags check)
UNIT_LIBS = $(shell pkg-config --libs check) -lelf $(ZSTD_LIBS) -lz
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
unit-tests: $(addprefix $(BUILD)/tests/unit/,$(UNIT_TESTS) check_ompi_abi) \
            $(addprefix $(BUILD)/tests/unit-san/,$(UNIT_TESTS) check_ompi_abi)
# The Open MPI lower half's translation, against Open MPI's mpi.h; its
# MPICH side is the generated table built with MPICH's.
OMPI_UNIT_SRC = tests/unit/ompi/check_ompi_abi.c lower-half/ompi_abi.c $(GEN_DIR)/abi_consts_ompi.c
OMPI_UNIT_CFLAGS = -std=gnu11 -O1 -g $(WARN) -DMANA_ABI_NEUTRAL $(OMPI_INC) -Iinclude -I$(GEN_DIR) -Ilower-half \
                   -Irestart $(shell pkg-config --cflags check)
$(BUILD)/tests/unit/check_ompi_abi: $(OMPI_UNIT_SRC) $(BUILD)/obj/lower/gen/abi_consts_mpich.o
	@mkdir -p $(dir $@)
	$(CC) $(OMPI_UNIT_CFLAGS) -o $@ $^ $(OMPI_LIBS) $(shell pkg-config --libs check)
$(BUILD)/tests/unit-san/check_ompi_abi: $(OMPI_UNIT_SRC) $(BUILD)/obj/lower/gen/abi_consts_mpich.o
	@mkdir -p $(dir $@)
	$(CC) $(OMPI_UNIT_CFLAGS) $(SAN) -o $@ $^ $(OMPI_LIBS) $(shell pkg-config --libs check)
$(BUILD)/tests/unit/%: tests/unit/%.c $(UNIT_MODULES) $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(UNIT_MODULES) $(UNIT_LIBS)
$(BUILD)/tests/unit-san/%: tests/unit/%.c $(UNIT_MODULES) $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $(SAN) -o $@ $< $(UNIT_MODULES) $(UNIT_LIBS)

# --- fuzzers (libFuzzer, Debian's clang): every parser of untrusted bytes
# One harness per parser in tests/fuzz/fuzz_<parser>.c, seeds in
# tests/fuzz/corpus/<parser>/ (docs/fuzzing.md). The modules are built
# once, instrumented, with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (the
# image reader then takes every checksum as good), and every harness
# links them all, as the unit tests do UNIT_MODULES.
FUZZ_CC := clang
FUZZERS := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_MODULES := $(IMAGE_SRC) restart/manifest.c restart/trust.c $(COORD_PROTO_SRC) lower-half/ckpt_state.c lower-half/ckpt_files.c
FUZZ_CFLAGS = -std=gnu11 -O1 -g $(WARN) -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
              -Iinclude -I$(GEN_DIR) -Ilower-half -Irestart -Icoordinator $(ZSTD_CFLAGS)
FUZZ_OBJ := $(patsubst %.c,$(BUILD)/obj/fuzz/%.o,$(FUZZ_MODULES))
.SECONDARY: $(FUZZ_OBJ)
# Seconds each fuzzer runs in `make check-long` (a few in `make check`).
FUZZ_SECONDS ?= 120
fuzzers: $(addprefix $(BUILD)/tests/fuzz/,$(FUZZERS))
$(BUILD)/obj/fuzz/%.o: %.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link -c $< -o $@
$(BUILD)/tests/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(ZSTD_LIBS) -pthread

# --- the fault-injection test tree (tests/faults/, docs/reliability.md) -
# build/faults/ is build/ with the lower half and the coordinator built
# with MANA_TEST_FAULTS, so MANA_TEST_FAULT can kill, stop or fail them at
# named points (include/mana/test_faults.h). Only the files holding such
# points are compiled twice; the other programs are copies (each finds
# its siblings from its own path), lib/mana a link. Never installed.
FAULTS_TREE := $(BUILD)/faults
FAULT_LOWER_SRC := lower-half/ckpt_thread.c lower-half/ckpt_write.c lower-half/lower_main.c restart/image_writer.c
FAULT_LOWER_OBJ = $(filter-out $(patsubst %.c,$(BUILD)/obj/lower/%.o,$(FAULT_LOWER_SRC)),$(LOWER_OBJ)) \
                  $(patsubst %.c,$(BUILD)/obj/lower-faults/%.o,$(FAULT_LOWER_SRC) lower-half/test_faults.c)
FAULT_COORD_OBJ = $(BUILD)/obj/coord-faults/coordinator/coordinator.o $(BUILD)/obj/coord-faults/lower-half/test_faults.o \
                  $(COORD_OBJ_DIR)/restart/trust.o $(COORD_CLIENT_OBJ)
FAULTS_COPIED := $(addprefix $(FAULTS_TREE)/bin/,mana-launch mana-restart mana-ckpt mana-inspect)
faults-tree: $(FAULTS_TREE)/libexec/mana/mana-lh-mpich $(FAULTS_TREE)/bin/mana-coordinator $(FAULTS_COPIED) \
             $(FAULTS_TREE)/lib/mana
$(BUILD)/obj/lower-faults/%.o: %.c $(GEN_DIR)/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -DMANA_TEST_FAULTS $(MPI_WARN) $(MPICH_INC) -Ilower-half -Irestart $(ZSTD_CFLAGS) -mfsgsbase \
	  -fno-stack-protector -fPIE -c $< -o $@
$(FAULTS_TREE)/libexec/mana/mana-lh-mpich: $(FAULT_LOWER_OBJ)
	@mkdir -p $(dir $@)
	$(LOWER_LINK)
$(BUILD)/obj/coord-faults/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -DMANA_TEST_FAULTS -Icoordinator -Irestart -c $< -o $@
$(FAULTS_TREE)/bin/mana-coordinator: $(FAULT_COORD_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^
$(FAULTS_TREE)/bin/%: $(BUILD)/bin/%
	@mkdir -p $(dir $@)
	cp -f $< $@
$(FAULTS_TREE)/lib/mana: $(LIB_MANA) $(STUBS)
	@mkdir -p $(dir $@)
	ln -sfn ../../lib/mana $@

# --- the two commands of the README ------------------------------------
check: deps
	@$(MAKE) --no-print-directory all examples test-programs unit-tests fuzzers faults-tree
	@tests/run-tests.sh

# The whole fault matrix (tests/faults/, docs/reliability.md); `make
# check` runs a sample of it.
check-faults: deps
	@$(MAKE) --no-print-directory all test-programs faults-tree
	@tests/run-tests.sh --faults

# The long tests (tests/run-long.sh): each fuzzer for FUZZ_SECONDS,
# ROUNDS rounds of random checkpoints over every example and stress
# program (200 checkpoints with the default 4), and the soak
# (tests/long/soak.sh: SOAK_SECONDS, 600 by default, of 4 ranks holding
# SOAK_MIB MiB each, 1024 by default, checkpointed every 15 s), and, as
# root, a job through a chain of Slurm time limits and one preempted by
# a higher partition (tests/long/slurm_*.sh, docs/slurm.md).
check-long: deps
	@$(MAKE) --no-print-directory all examples test-programs fuzzers
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run-long.sh

demo: deps
	@$(MAKE) --no-print-directory all examples
	@examples/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run-bench.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/mana $(DESTDIR)$(PREFIX)/lib/mana/stub \
	    $(DESTDIR)$(PREFIX)/lib/mana/ompi $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN_LAUNCH) $(BIN_INSPECT) $(BIN_RESTART) $(COORD_INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BIN_LOWER) $(BIN_LOWER_OMPI) $(DESTDIR)$(PREFIX)/libexec/mana/
	install -m 755 $(LIB_MANA) $(LIB_MANA_OMPI) $(DESTDIR)$(PREFIX)/lib/mana/
	install -m 755 $(STUBS) $(DESTDIR)$(PREFIX)/lib/mana/stub/
	install -m 755 $(FACE_STUB) $(DESTDIR)$(PREFIX)/lib/mana/ompi/
	install -m 644 docs/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf $(BUILD)
