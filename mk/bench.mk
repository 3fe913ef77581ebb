# mk/bench.mk - `make bench`: the standard workload on protets and, side
# by side in the same run, on the peers of bench/peers/ that are installed
# (bench/README.md).  Included by the top-level Makefile after its
# variables (BUILD, CC, WARN, ALL_CFLAGS, ALL_LDFLAGS, PKG_LIBS, LIB_A,
# PROTETSD).
#
#   make bench               protets, then plain, lmdb, ets, redis (each
#                            only if installed), then the Python phase
#                            (bench/python.py); tables at the end
#   make bench-peers-deps    apt-get install the peers' packages
#   BENCH_PEERS=1 make bench the same, first
#   BENCH_N=200000 make bench          a quicker run
#   BENCH_ONLY="protets plain" make bench   a subset
#   make bench-erlang        the Erlang phase alone (mk/erlang.mk): the
#                            protets module beside ETS and DETS
#   make bench-tally         what counting statistics costs (callgrind)

BENCH		 = $(BUILD)/bench/bench
BENCH_N		?= 1000000
BENCH_RUNS	?= 3
BENCH_REDIS_N	?= 20000
BENCH_PEERS	?= 0
BENCH_ONLY	?= protets plain lmdb ets redis python erlang
BENCH_PEER_PKGS	 = erlang-base liblmdb-dev libhiredis-dev redis-server \
		   python3-redis
PEER_DIR	 = $(BUILD)/bench/peers
# Sub-makes read the same top-level Makefile (also under make -f).
BENCH_MAKE	 = $(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST))
PEER_CFLAGS	 = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Ibench/peers
# Deferred: a peer is built only when its library is installed, checked
# when the rule runs (after bench-peers-deps, in a sub-make).
PEER_BINS	 = $(PEER_DIR)/plain \
		   $(if $(wildcard /usr/include/lmdb.h),$(PEER_DIR)/lmdb) \
		   $(if $(wildcard /usr/include/hiredis/hiredis.h),$(PEER_DIR)/redis)

.PHONY: bench bench-peers bench-peers-deps bench-tally

$(BENCH): $(BUILD)/bench/bench.o $(LIB_A)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

# The cost of the statistics' counting (client/tally.h): the benchmark
# linked once more with the library's counting compiled out, both run
# under callgrind (bench/tally_cost.sh); BENCH_TALLY=0 skips it.
BENCH_TALLY	?= 1
NOTALLY_OBJ	 = $(LIB_SRC:%.c=$(BUILD)/notally/%.o)
BENCH_NOTALLY	 = $(BUILD)/notally/bench

$(BUILD)/notally/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DPROTETS_NO_TALLY -MMD -MP -c $< -o $@

$(BENCH_NOTALLY): $(BUILD)/bench/bench.o $(NOTALLY_OBJ)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

bench-tally: $(PROTETSD) $(BENCH) $(BENCH_NOTALLY)
	sh bench/tally_cost.sh $(BENCH) $(BENCH_NOTALLY) $(PROTETSD)

$(PEER_DIR)/plain: bench/peers/plain.c bench/peers/peer.h
	@mkdir -p $(dir $@)
	$(CC) $(PEER_CFLAGS) -o $@ $<

$(PEER_DIR)/lmdb: bench/peers/lmdb.c bench/peers/peer.h
	@mkdir -p $(dir $@)
	$(CC) $(PEER_CFLAGS) -o $@ $< -llmdb

$(PEER_DIR)/redis: bench/peers/redis.c bench/peers/peer.h
	@mkdir -p $(dir $@)
	$(CC) $(PEER_CFLAGS) -o $@ $< -lhiredis

bench-peers: $(PEER_BINS)

bench-peers-deps:
	@missing=""; for p in $(BENCH_PEER_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	        grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "bench: installing$$missing" >&2; \
	    SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	        --no-install-recommends $$missing >&2; \
	fi

# The standard workload (bench/README.md): results on stdout, one a line;
# the side-by-side tables on stderr and in $(BUILD)/bench/table.md.
bench: deps
	@if [ "$(BENCH_PEERS)" = 1 ]; then $(BENCH_MAKE) bench-peers-deps; fi
	$(BENCH_MAKE) $(PROTETSD) $(BENCH) python
	$(BENCH_MAKE) bench-peers
	BENCH=$(BENCH) PROTETSD=$(PROTETSD) BENCH_N=$(BENCH_N) \
	    BENCH_RUNS=$(BENCH_RUNS) BENCH_REDIS_N=$(BENCH_REDIS_N) \
	    PEER_DIR=$(PEER_DIR) BENCH_ONLY="$(BENCH_ONLY)" \
	    PY_LIB=$(PY_LIB) PYTHON=$(PYTHON) \
	    BENCH_OUT=$(BUILD)/bench/results.txt sh bench/run.sh
	@if echo " $(BENCH_ONLY) " | grep -q " erlang "; then \
	    $(BENCH_MAKE) bench-erlang; fi
	@if [ "$(BENCH_TALLY)" = 1 ]; then \
	    if command -v valgrind >/dev/null 2>&1; then \
	        $(BENCH_MAKE) bench-tally; \
	    else echo "bench: tally cost skipped: valgrind is not installed" >&2; fi; \
	fi
