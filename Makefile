# protets - top-level Makefile (non-recursive).
#
#   make            build protetsd, protets, libprotets (.a and .so)
#   make check      build and run every test (SAN=1: under ASan/UBSan)
#   make check-quick   the suites but the long ones (about 30 s)
#   make soak       make check SOAK_RUNS times (5) under a parallel build
#   make bench      run the standard benchmark
#   make run        install missing Debian packages, build, start protetsd
#   make install    PREFIX=/usr/local DESTDIR=
#   make check-install   install into a DESTDIR, build clients with pkg-config
#   make check-systemd   protetsd under a real systemd in systemd-nspawn
#   make fuzz-run   libFuzzer on the protocol;  make fault   the fault suite
#   make python     the Python package;  make python-install  for the user
#   make clean

PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
# The GNU convention: the configuration of a PREFIX=/usr install is in /etc.
SYSCONFDIR	?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
MANDIR		?= $(PREFIX)/share/man
UNITDIR		?= $(PREFIX)/lib/systemd/system
PKGCONFIGDIR	?= $(LIBDIR)/pkgconfig

SOVERSION	= 0
VERSION		= 0.1.0

CC		?= cc
SAN		?=
ifeq ($(SAN),1)
BUILD		?= build-san
SANFLAGS	= -fsanitize=address,undefined -fno-omit-frame-pointer \
		  -fno-sanitize-recover=undefined
else
BUILD		?= build
SANFLAGS	=
endif

# FUZZ=1: clang with libFuzzer's instrumentation (make fuzz).
ifeq ($(FUZZ),1)
BUILD		= build-fuzz
CC		= clang
SANFLAGS	= -fsanitize=fuzzer-no-link,address,undefined \
		  -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

# The configuration file the binaries read when given none.  In-tree
# builds use the repository's protets.conf; `make install` rebuilds with
# the installed path.
CONF		?= $(CURDIR)/protets.conf

PKGS		= libbsd-overlay liburcu-bp liburcu-cds libxxhash inih
# Deferred (=): pkg-config runs only when a rule needs it, so that
# `make deps` works on a machine without the packages.
PKG_CFLAGS	= $(shell pkg-config --cflags $(PKGS))
PKG_LIBS	= $(shell pkg-config --libs $(PKGS))
# The daemon alone (its HTTP /metrics listener): not the library's.
DAEMON_LIBS	= $(shell pkg-config --libs libmicrohttpd)
CHECK_CFLAGS	= $(shell pkg-config --cflags check)
CHECK_LIBS	= $(shell pkg-config --libs check)

CFLAGS		?= -O2 -g
WARN		= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
		  -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
# -fvisibility=hidden: only protets.h's functions are exported from the
# shared library (the header says so with a pragma; the version script
# client/libprotets.map names them and their version).
ALL_CFLAGS	= -std=gnu11 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARN) \
		  $(CFLAGS) $(SANFLAGS) $(INC) $(PKG_CFLAGS) \
		  -DPROTETS_CONF_PATH='"$(CONF)"'
ALL_LDFLAGS	= $(LDFLAGS) $(SANFLAGS)

# Each layer sees only what it may use, and the compiler enforces it: the
# engine (shm/) nothing above it; the protocol code shared by the library
# and the daemon (common/) the engine's public header; the library
# (client/) and the daemon (daemon/) common/ and the engine, never each
# other.  include/ holds the public header alone (a link to
# client/protets.h).  Tests, fuzzers and the benchmark see everything.
INC		= -Iclient -Icommon -Ishm -Idaemon -Iinclude
$(BUILD)/shm/%.o $(BUILD)/crash/shm/%.o: INC = -Ishm -Iinclude
$(BUILD)/common/%.o: INC = -Icommon -Iinclude
$(BUILD)/client/%.o: INC = -Iclient -Icommon -Ishm -Iinclude
$(BUILD)/daemon/%.o: INC = -Idaemon -Icommon -Ishm -Iinclude

SHM_SRC		= $(wildcard shm/*.c)
COMMON_SRC	= $(wildcard common/*.c)
LIB_SRC		= client/protets.c client/table.c client/registry.c client/tally.c \
		  client/save.c $(COMMON_SRC) $(SHM_SRC)
DAEMON_SRC	= $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLI_SRC		= client/cli.c client/cli_data.c client/cli_io.c \
		  client/cli_stats.c client/cli_top.c
# The command's own libraries: jansson reads JSON records, libresolv's
# b64_ntop/b64_pton do base64 (cli_io.c).
CLI_LIBS	= $(shell pkg-config --libs jansson) -lresolv

LIB_OBJ		= $(LIB_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ	= $(DAEMON_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ		= $(CLI_SRC:%.c=$(BUILD)/%.o)

LIB_A		= $(BUILD)/libprotets.a
LIB_SO		= $(BUILD)/libprotets.so.$(SOVERSION)
PROTETSD	= $(BUILD)/protetsd
PROTETS		= $(BUILD)/protets

TEST_SRC	= $(wildcard tests/check_*.c)
# check_shm also runs as check_shm_crash: engine built with the crash hook.
# The longest first: tests/run.sh runs them side by side.
TEST_BIN	= $(BUILD)/tests/check_shm_crash $(BUILD)/tests/check_lock_crash \
		  $(BUILD)/tests/check_shards_crash \
		  $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
CRASH_OBJ	= $(SHM_SRC:%.c=$(BUILD)/crash/%.o)
# check_shm's tests, by subject, and what they share.
SHM_TEST_SRC	= tests/shmutil.c $(wildcard tests/shm_*.c)
TEST_UTIL	= $(BUILD)/tests/testutil.o

.SECONDARY:

.PHONY: all check check-quick soak bench run deps install clean fuzz fuzz-run fault protetsd protets

all: $(PROTETSD) $(PROTETS) $(LIB_A) $(LIB_SO) protetsd protets

# Convenience links so that ./protetsd and ./protets work in the checkout.
protetsd: $(PROTETSD)
	ln -sf $(PROTETSD) $@
protets: $(PROTETS)
	ln -sf $(PROTETS) $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ) client/libprotets.map
	$(CC) -shared -Wl,-soname,libprotets.so.$(SOVERSION) \
	    -Wl,--version-script=client/libprotets.map -o $@ $(LIB_OBJ) \
	    $(ALL_LDFLAGS) $(PKG_LIBS)
	ln -sf libprotets.so.$(SOVERSION) $(BUILD)/libprotets.so

$(PROTETSD): $(BUILD)/daemon/main.o $(DAEMON_OBJ) $(LIB_A)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS) $(DAEMON_LIBS)

$(PROTETS): $(CLI_OBJ) $(LIB_A)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS) $(CLI_LIBS)

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/check_%: $(BUILD)/tests/check_%.o $(TEST_UTIL) $(DAEMON_OBJ) $(LIB_A)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(CHECK_LIBS) $(PKG_LIBS) $(DAEMON_LIBS)

# The crash-point build: the engine with CRASH_POINT live, never shipped.
$(BUILD)/crash/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -DPROTETS_CRASHTEST -MMD -MP -c $< -o $@

$(BUILD)/tests/check_shm: $(SHM_TEST_SRC:%.c=$(BUILD)/%.o)
$(BUILD)/tests/check_lock $(BUILD)/tests/check_shards $(BUILD)/tests/check_owner: \
    $(BUILD)/tests/shmutil.o

$(BUILD)/tests/check_shm_crash: $(BUILD)/crash/tests/check_shm.o \
    $(SHM_TEST_SRC:%.c=$(BUILD)/crash/%.o) $(CRASH_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(CHECK_LIBS) $(PKG_LIBS)

# check_lock also runs as check_lock_crash: writers stopped at every step.
$(BUILD)/tests/check_lock_crash: $(BUILD)/crash/tests/check_lock.o \
    $(BUILD)/crash/tests/shmutil.o $(CRASH_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(CHECK_LIBS) $(PKG_LIBS)

# check_shards also runs as check_shards_crash: batches killed at every step.
$(BUILD)/tests/check_shards_crash: $(BUILD)/crash/tests/check_shards.o \
    $(BUILD)/crash/tests/shmutil.o $(CRASH_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(CHECK_LIBS) $(PKG_LIBS)

# The test command of the README and of .ci/run.
# tests/check_python.sh: the Python package's suite (mk/python.mk).
PY_CHECK	= tests/check_python.sh
check: deps
	$(MAKE) all python $(TEST_BIN)
	BUILD=$(BUILD) sh tests/run.sh $(TEST_BIN) $(PY_CHECK)
	$(if $(filter 1,$(SAN)),,$(MAKE) check-erlang)

# Every suite but the long ones (the engine's kill and model tests, the
# crash-point enumerations, the fault suite, daemon kills): about 30 s.
QUICK_BIN	= $(filter-out $(BUILD)/tests/check_shm $(BUILD)/tests/check_shm_crash \
		  $(BUILD)/tests/check_lock_crash $(BUILD)/tests/check_shards_crash \
		  $(BUILD)/tests/check_fault $(BUILD)/tests/check_daemon,$(TEST_BIN))
check-quick: deps
	$(MAKE) all python $(QUICK_BIN)
	BUILD=$(BUILD) sh tests/run.sh $(QUICK_BIN) $(PY_CHECK)
	$(if $(filter 1,$(SAN)),,$(MAKE) check-erlang)

# Is the suite flaky?  make check SOAK_RUNS times in a row (default 5)
# while a parallel build loads the machine (tools/soak.sh).
soak: deps
	sh tools/soak.sh

# The fault suite alone, as long as asked (make check runs 20 s of it).
FAULT_SECONDS	?= 300
fault: deps
	$(MAKE) all $(BUILD)/tests/check_fault
	FAULT_SECONDS=$(FAULT_SECONDS) BUILD=$(BUILD) $(BUILD)/tests/check_fault

deps:
	@sh tools/deps.sh

run: deps
	$(MAKE) all
	mkdir -p run
	exec ./protetsd -c protets.conf

# libFuzzer harnesses (fuzz/): the request parser and a worker's whole
# connection handler.  fuzz-run replays the committed corpus, then fuzzes
# each for FUZZ_SECONDS, the two side by side (one CPU each).
FUZZ_SECONDS	?= 60
FUZZERS		= build-fuzz/fuzz/fuzz_wire build-fuzz/fuzz/fuzz_conn

build-fuzz/fuzz/fuzz_%: build-fuzz/fuzz/fuzz_%.o $(DAEMON_OBJ) $(LIB_A)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) \
	    $(DAEMON_LIBS)

fuzz:
	PROTETS_FUZZ=1 sh tools/deps.sh
	$(MAKE) FUZZ=1 $(FUZZERS)

fuzz-run: fuzz
	for f in wire conn; do \
	    mkdir -p build-fuzz/corpus-$$f && \
	    { build-fuzz/fuzz/fuzz_$$f -dict=fuzz/protets.dict \
	        -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        build-fuzz/corpus-$$f fuzz/corpus/$$f \
	        >build-fuzz/fuzz_$$f.log 2>&1; \
	      echo $$? >build-fuzz/fuzz_$$f.rc; } & \
	done; wait; \
	for f in wire conn; do \
	    echo "== fuzz_$$f"; \
	    if [ "$$(cat build-fuzz/fuzz_$$f.rc)" != 0 ]; then \
	        cat build-fuzz/fuzz_$$f.log; exit 1; fi; \
	    grep -E '^(#[0-9]+ +DONE|Done|stat::)' build-fuzz/fuzz_$$f.log; \
	done

include mk/install.mk
include mk/bench.mk
include mk/python.mk
include mk/erlang.mk

clean:
	rm -rf build build-san build-fuzz build-install protetsd protets run

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
