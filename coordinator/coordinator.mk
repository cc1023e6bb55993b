# The coordinator: mana-coordinator, mana-ckpt, the ranks' client library
# and the fake rank the tests use. Included by the top Makefile after its
# variables (BUILD, CC, CFLAGS_BASE, WARN).
#
#   COORD_ALL           what `make all` builds
#   COORD_INSTALL_BIN   the two commands `make install` installs
#   COORD_CLIENT_SRC    what the lower half links to talk to the coordinator
#   COORD_UNIT_MODULES  compiled into every Check unit test
#   COORD_MAN           the man pages under $(BUILD)/share/man/man1

# Included before the top Makefile's `all`: keep `all` the default goal.
COORD_SAVED_GOAL := $(.DEFAULT_GOAL)

COORD_PROTO_SRC  := coordinator/coord_proto.c
COORD_CLIENT_SRC := coordinator/coord_client.c $(COORD_PROTO_SRC)
# Empty: tests/unit/check_coord_proto.c includes coord_proto.c itself, so
# it builds with or without this list.
COORD_UNIT_MODULES :=

COORD_OBJ_DIR := $(BUILD)/obj/coord
COORD_CLIENT_OBJ := $(patsubst %.c,$(COORD_OBJ_DIR)/%.o,$(COORD_CLIENT_SRC))

BIN_COORDINATOR := $(BUILD)/bin/mana-coordinator
BIN_CKPT        := $(BUILD)/bin/mana-ckpt
BIN_FAKE_RANK   := $(BUILD)/tests/bin/coord-fake-rank
COORD_MAN := $(BUILD)/share/man/man1/mana-coordinator.1 $(BUILD)/share/man/man1/mana-ckpt.1

COORD_INSTALL_BIN := $(BIN_COORDINATOR) $(BIN_CKPT)
COORD_ALL := $(COORD_INSTALL_BIN) $(BIN_FAKE_RANK) $(COORD_MAN)

$(COORD_OBJ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -Icoordinator -Irestart -c $< -o $@

$(BIN_COORDINATOR): $(COORD_OBJ_DIR)/coordinator/coordinator.o $(COORD_OBJ_DIR)/restart/trust.o $(COORD_CLIENT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^

$(BIN_CKPT): $(COORD_OBJ_DIR)/coordinator/mana_ckpt.o $(COORD_CLIENT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^

$(BIN_FAKE_RANK): $(COORD_OBJ_DIR)/coordinator/coord_fake_rank.o $(COORD_CLIENT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ -lxxhash

.DEFAULT_GOAL := $(COORD_SAVED_GOAL)
