#!/bin/sh
# Install the Debian packages protets needs to build and test, if missing.
# Used by `make run` and `make check`; a no-op when all are present.
set -e
# libjansson-dev: the CLI reads JSON records (--format json).
# python3: check_abi loads libprotets.so through ctypes; python3-dev,
# python3-setuptools, python3-pytest: the Python binding (python/) is
# built and tested by make check.  python3-prometheus-client: check_stats
# parses the metrics with a real Prometheus text parser.
# libmicrohttpd-dev: protetsd's HTTP /metrics listener (metrics_listen).
# tmux: check_stats runs protets top in an 80x24 terminal.
# erlang-base, erlang-dev, erlang-eunit: the Erlang application (erlang/):
# erlc and erl, erl_nif.h for its NIF, EUnit for its tests.
PKGS="gcc make pkg-config libc6-dev libbsd-dev liburcu-dev check libxxhash-dev libinih-dev libjansson-dev binutils python3 python3-dev python3-setuptools python3-pytest python3-prometheus-client libmicrohttpd-dev tmux erlang-base erlang-dev erlang-eunit"
# make fuzz needs clang and its libFuzzer runtime.
[ "${PROTETS_FUZZ:-0}" = 1 ] && PKGS="$PKGS clang libclang-rt-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
