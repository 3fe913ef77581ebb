# mk/install.mk - installing protets, and the tests of what is installed.
# Included by the top-level Makefile after its variables (PREFIX, BINDIR,
# SBINDIR, LIBDIR, INCLUDEDIR, SYSCONFDIR, MANDIR, UNITDIR, PKGCONFIGDIR,
# VERSION, SOVERSION).
#
#   make install         PREFIX=/usr/local DESTDIR= (tools/install.sh)
#   make check-install   install into a temporary DESTDIR, build a client
#                        against it with pkg-config, run it (tests/install/)
#   make check-systemd   protetsd under a real systemd in systemd-nspawn,
#                        killed every way (tests/systemd/; root only)

# The binaries have the configuration path compiled in: install rebuilds
# them in a build directory of their own, with CONF the installed path.
INSTALL_BUILD	?= build-install
INSTALL_CONF	 = $(SYSCONFDIR)/protets.conf
# Explicit targets, not `all`: `all` also re-points ./protetsd, ./protets.
INSTALL_TARGETS	 = $(INSTALL_BUILD)/protetsd $(INSTALL_BUILD)/protets \
		   $(INSTALL_BUILD)/libprotets.a \
		   $(INSTALL_BUILD)/libprotets.so.$(SOVERSION)

.PHONY: install install-build installcheck check-install check-systemd

# A change of SYSCONFDIR (hence of the compiled-in path) rebuilds it all.
install-build:
	@if [ "$$(cat $(INSTALL_BUILD)/conf-path 2>/dev/null)" != \
	    "$(INSTALL_CONF)" ]; then \
		rm -rf $(INSTALL_BUILD); mkdir -p $(INSTALL_BUILD); \
		echo "$(INSTALL_CONF)" >$(INSTALL_BUILD)/conf-path; \
	fi
	$(MAKE) SAN= BUILD=$(INSTALL_BUILD) CONF=$(INSTALL_CONF) \
	    $(INSTALL_TARGETS)

install: install-build
	INSTALL_BUILD='$(INSTALL_BUILD)' DESTDIR='$(DESTDIR)' \
	PREFIX='$(PREFIX)' BINDIR='$(BINDIR)' SBINDIR='$(SBINDIR)' \
	LIBDIR='$(LIBDIR)' INCLUDEDIR='$(INCLUDEDIR)' \
	SYSCONFDIR='$(SYSCONFDIR)' MANDIR='$(MANDIR)' UNITDIR='$(UNITDIR)' \
	PKGCONFIGDIR='$(PKGCONFIGDIR)' VERSION='$(VERSION)' \
	SOVERSION='$(SOVERSION)' sh tools/install.sh

# The GNU coding standards call it installcheck.
installcheck: check-install

check-install: deps
	MAKE='$(MAKE)' sh tests/install/run.sh

check-systemd: deps
	MAKE='$(MAKE)' sh tests/systemd/run.sh
