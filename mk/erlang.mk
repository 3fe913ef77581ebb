# mk/erlang.mk - the Erlang application (erlang/, issue #22): the protets
# module and its NIF, built into an OTP library directory
# $(BUILD)/erlang/lib/protets/{ebin,priv} (ERL_LIBS=$(BUILD)/erlang/lib),
# and its EUnit tests.  Included by the top-level Makefile after its
# variables (BUILD, CC, ALL_CFLAGS, ALL_LDFLAGS, PKG_LIBS, LIB_A).
#
#   make erlang          build the application
#   make check-erlang    build it and run erlang/test/ (needs the daemon)
#
# The NIF links libprotets statically (the objects of $(LIB_A), built
# -fPIC), with every symbol but nif_init hidden: the .so in priv/ then
# works wherever the application is copied (a release, ERL_LIBS), with no
# rpath into the build tree and no libprotets.so to install beside it.
# Under SAN=1 it is not built: the BEAM does not load the ASan runtime.

ERL_ROOT	 = $(shell erl -noshell -eval 'io:put_chars(code:root_dir()), halt().')
ERL_INC		 = $(ERL_ROOT)/usr/include
ERL_LIB		 = $(BUILD)/erlang/lib/protets
ERL_EBIN	 = $(ERL_LIB)/ebin
ERL_NIF		 = $(ERL_LIB)/priv/protets_nif.so
ERL_NIF_SRC	 = $(wildcard erlang/c_src/*.c)
ERL_NIF_OBJ	 = $(ERL_NIF_SRC:%.c=$(BUILD)/%.o)
ERL_BEAMS	 = $(patsubst erlang/src/%.erl,$(ERL_EBIN)/%.beam,$(wildcard erlang/src/*.erl))
ERL_TEST_DIR	 = $(BUILD)/erlang/test
ERL_TESTS	 = $(patsubst erlang/test/%.erl,$(ERL_TEST_DIR)/%.beam,$(wildcard erlang/test/*.erl))
ERLC		 = erlc +warnings_as_errors +debug_info

.PHONY: erlang check-erlang

erlang: $(ERL_NIF) $(ERL_BEAMS) $(ERL_EBIN)/protets.app

$(BUILD)/erlang/c_src/%.o: erlang/c_src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ierlang/c_src -Iinclude -I$(ERL_INC) -MMD -MP -c $< -o $@

$(ERL_NIF): $(ERL_NIF_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $(ERL_NIF_OBJ) $(LIB_A) -Wl,--exclude-libs,ALL \
	    $(ALL_LDFLAGS) $(PKG_LIBS) -lm

$(ERL_EBIN)/%.beam: erlang/src/%.erl
	@mkdir -p $(dir $@)
	$(ERLC) -o $(dir $@) $<

$(ERL_EBIN)/protets.app: erlang/src/protets.app.src
	@mkdir -p $(dir $@)
	cp $< $@

$(ERL_TEST_DIR)/%.beam: erlang/test/%.erl $(ERL_BEAMS)
	@mkdir -p $(dir $@)
	$(ERLC) -pa $(ERL_EBIN) -o $(dir $@) $<

# The suite starts its own daemons ($(PROTETSD)) in /tmp/protets-test.*.
check-erlang: all erlang $(ERL_TESTS)
	PROTETS_BUILD=$(CURDIR)/$(BUILD) ERL_LIBS=$(CURDIR)/$(BUILD)/erlang/lib \
	    erl -noshell -pa $(ERL_TEST_DIR) -eval \
	    'case eunit:test(protets_tests, [verbose]) of ok -> halt(0); _ -> halt(1) end.'

# The Erlang phase of `make bench`: protets beside ETS and DETS, one
# Erlang process (erlang/bench/protets_bench.erl); BENCH_ERL_N keys.
BENCH_ERL_N	?= 200000
ERL_BENCH_DIR	 = $(BUILD)/erlang/bench

$(ERL_BENCH_DIR)/protets_bench.beam: erlang/bench/protets_bench.erl $(ERL_BEAMS)
	@mkdir -p $(dir $@)
	$(ERLC) -pa $(ERL_EBIN) -o $(dir $@) $<

.PHONY: bench-erlang
bench-erlang: $(PROTETSD) erlang $(ERL_BENCH_DIR)/protets_bench.beam
	PROTETSD=$(CURDIR)/$(PROTETSD) erl -noshell -pa $(ERL_EBIN) \
	    -pa $(ERL_BENCH_DIR) -eval \
	    'protets_bench:main(["-n", "$(BENCH_ERL_N)", "-r", "$(BENCH_RUNS)"]).'
