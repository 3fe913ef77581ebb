# mk/python.mk - the Python package (python/, issue 17): a C extension over
# libprotets, built with Debian's python3 and python3-setuptools (no pip,
# no download, no build isolation).  Included by the top-level Makefile
# after its variables (BUILD, WARN, CFLAGS, SANFLAGS, LIB_A).
#
#   make python            build the package into $(BUILD)/python/lib
#   make python-check      build it and run its pytest suite from there
#                          (make check runs it as tests/check_python.sh)
#   make python-install    build it and copy it into the user's
#                          site-packages (python3 -m site --user-site)
#   make python-uninstall  remove it from there
#
# The extension links $(BUILD)/libprotets.a in (python/setup.py says why),
# so the module carries the configuration path of that build: a checkout's
# module reads the checkout's protets.conf, as ./protets does;
# $PROTETS_SOCKET or $PROTETS_CONF point it elsewhere.
#
# PEP 668: Debian's python3 is "externally managed", which bars pip from
# its site-packages, not a copy into the user's: python-install copies the
# package directory, no more (no pip, no egg, nothing else touched).

PYTHON		?= /usr/bin/python3
PY_LIB		 = $(BUILD)/python/lib
PY_STAMP	 = $(BUILD)/python/stamp
PY_SRC		 = $(wildcard python/src/protets/*.py python/src/protets/*.[ch] \
		   python/src/protets/*.pyi) python/setup.py python/pyproject.toml

.PHONY: python python-check python-install python-uninstall

python: $(PY_STAMP)

$(PY_STAMP): $(PY_SRC) $(LIB_A) include/protets.h
	@mkdir -p $(BUILD)/python
	cd python && PROTETS_BUILD='$(abspath $(BUILD))' \
	    PROTETS_CFLAGS='$(WARN) $(CFLAGS) $(SANFLAGS)' \
	    PROTETS_LDFLAGS='$(SANFLAGS)' \
	    $(PYTHON) -W ignore setup.py -q build --force \
	    --build-base '$(abspath $(BUILD))/python/setup' \
	    --build-lib '$(abspath $(PY_LIB))'
	touch $@

python-check: deps
	$(MAKE) all python
	BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/check_python.sh

python-install: deps
	$(MAKE) python
	@dest=$$($(PYTHON) -m site --user-site) && mkdir -p "$$dest" && \
	rm -rf "$$dest/protets" && cp -R $(PY_LIB)/protets "$$dest/" && \
	echo "python: protets installed in $$dest/protets"

python-uninstall:
	@dest=$$($(PYTHON) -m site --user-site) && rm -rf "$$dest/protets" && \
	echo "python: $$dest/protets removed"
