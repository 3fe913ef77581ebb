#!/bin/sh
# make check-install: what `make install` installs, used as a user would.
#
# Installs into a temporary DESTDIR with PREFIX=/opt/protets-check, checks
# the layout and the generated files, builds tests/install/client.c against
# the installed library with nothing but `pkg-config ... protets` (shared,
# and fully static with --static), runs both and the installed CLI against
# a daemon started from the installed protetsd, and checks that the man
# pages render without a warning.  Prints "N passed, N failed"; exits 1 on
# failure.  Environment: MAKE (the make command), CC.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
MAKE=${MAKE:-make}
CC=${CC:-cc}
PREFIX=/opt/protets-check

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
notok() { fail=$((fail + 1)); echo "FAIL - $*"; }
# check DESCRIPTION EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"
	else notok "$1: expected '$2', got '$3'"; fi
}
# t DESCRIPTION COMMAND...: passes when the command succeeds.
t() {
	_d=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$_d"
	else notok "$_d"; sed 's/^/    /' "$tmp/out" | head -20; fi
}

tmp=$(mktemp -d /tmp/protets-install.XXXXXX)
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
d=$tmp/dest
P=$d$PREFIX

# mandoc(1), the manual linter, is a Debian package of its own.
if ! command -v mandoc >/dev/null && [ "$(id -u)" -eq 0 ]; then
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends mandoc; } >/dev/null 2>&1
fi

# ------------------------------------------------------------------ install
t0=$(date +%s)
if $MAKE -C "$top" install DESTDIR="$d" PREFIX=$PREFIX \
    INSTALL_BUILD="$tmp/build" >"$tmp/install.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=$PREFIX ($(($(date +%s) - t0)) s)"
else
	notok "make install"
	tail -20 "$tmp/install.log"
	echo "$pass passed, $fail failed"
	exit 1
fi

for f in sbin/protetsd:755 bin/protets:755 lib/libprotets.so.0:755 \
    lib/libprotets.a:644 include/protets.h:644 lib/pkgconfig/protets.pc:644 \
    lib/systemd/system/protetsd.service:644 etc/protets.conf:644 \
    share/man/man1/protets.1:644 share/man/man3/protets.3:644 \
    share/man/man5/protets.conf.5:644 share/man/man8/protetsd.8:644; do
	check "installed ${f%:*} mode ${f#*:}" "${f#*:}" \
	    "$(stat -c %a "$P/${f%:*}" 2>&1)"
done
check "lib/libprotets.so -> libprotets.so.0" libprotets.so.0 \
    "$(readlink "$P/lib/libprotets.so")"
check "soname" "libprotets.so.0" \
    "$(readelf -d "$P/lib/libprotets.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
check "nothing installed outside PREFIX" "" \
    "$(find "$d" ! -type d ! -path "$P/*")"
t "no DESTDIR in the installed text files" \
    sh -c "! grep -rl '$tmp' '$P/lib/systemd' '$P/lib/pkgconfig' '$P/etc' '$P/share'"

# The configuration path compiled into the binaries: the installed one.
check "protetsd's compiled-in configuration" "$PREFIX/etc/protets.conf" \
    "$("$P/sbin/protetsd" -h 2>&1 | sed -n 's/.*default \(.*\))$/\1/p')"
t "protets's compiled-in configuration" \
    sh -c "'$P/bin/protets' -h | grep -q ' $PREFIX/etc/protets.conf'"
t "installed protets.conf checks (protetsd -n)" \
    "$P/sbin/protetsd" -n -c "$P/etc/protets.conf"
for kv in "socket = /run/protets/protets.sock" \
    "pidfile = /run/protets/protetsd.pid" "fdstore = yes"; do
	t "installed protets.conf: $kv" grep -qx "$kv" "$P/etc/protets.conf"
done
check "installed protets.conf has the repository's keys" \
    "$(sed -n 's/^\([a-z_]*\) *=.*/\1/p' "$top/protets.conf")" \
    "$(sed -n 's/^\([a-z_]*\) *=.*/\1/p' "$P/etc/protets.conf")"

# The unit, with its paths filled in.
u=$P/lib/systemd/system/protetsd.service
t "unit: no @VARIABLE@ left" sh -c "! grep -n '@[A-Z]*@' '$u'"
t "unit: ExecStart" grep -qx \
    "ExecStart=$PREFIX/sbin/protetsd -c $PREFIX/etc/protets.conf" "$u"
for kv in Type=notify NotifyAccess=all FileDescriptorStoreMax=4096 \
    Restart=on-failure User=protets; do
	t "unit: $kv" grep -qx "$kv" "$u"
done

# ------------------------------------------------------------- pkg-config
pc() {
	PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config \
	    --define-variable=prefix="$P" "$@" protets
}
check "pkg-config --modversion" \
    "$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*//p' "$top/Makefile")" \
    "$(pc --modversion 2>&1)"
check "pkg-config --cflags --libs" "-I$P/include -L$P/lib -lprotets" \
    "$(pc --cflags --libs 2>&1 | sed 's/ -I\/usr[^ ]*//g; s/ *$//')"
t "pkg-config --static --libs: the private libraries" sh -c \
    "PKG_CONFIG_PATH='$P/lib/pkgconfig' pkg-config --static --libs protets |
    grep -- '-lprotets .*-lbsd' | grep -- -lurcu-bp | grep -- -lurcu-cds |
    grep -- -lxxhash | grep -q -- -linih"
t "cc client.c \$(pkg-config --cflags --libs protets)" sh -c \
    "$CC -Wall -Werror -o '$tmp/client' '$top/tests/install/client.c' \
    $(pc --cflags --libs)"
check "the shared client needs libprotets.so.0" libprotets.so.0 \
    "$(readelf -d "$tmp/client" 2>&1 | sed -n 's/.*(NEEDED).*\[\(libprotets[^]]*\)\]/\1/p')"
t "cc -static client.c \$(pkg-config --static --cflags --libs protets)" \
    sh -c "$CC -static -Wall -Werror -o '$tmp/client-static' \
    '$top/tests/install/client.c' $(pc --static --cflags --libs)"
t "the static client needs no shared library" sh -c \
    "! readelf -d '$tmp/client-static' | grep -q NEEDED"

# ------------------------------------ run against the installed protetsd
cat >"$tmp/protets.conf" <<EOF
[daemon]
socket = sock
pidfile = protetsd.pid
workers = 2
[tables]
default_size = 1M
EOF
"$P/sbin/protetsd" -c "$tmp/protets.conf" >"$tmp/daemon.log" 2>&1 &
dpid=$!
i=0
while [ ! -S "$tmp/sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
export PROTETS_SOCKET="$tmp/sock"
# Up when the supervisor, the monitor and both workers answer.
i=0
while [ "$("$P/bin/protets" procs 2>/dev/null | wc -l)" -ne 4 ] &&
    [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check "installed protetsd runs (procs)" 4 \
    "$("$P/bin/protets" procs 2>&1 | wc -l)"
check "shared client resolves libprotets.so.0 in DESTDIR" \
    "$P/lib/libprotets.so.0" \
    "$(LD_LIBRARY_PATH=$P/lib ldd "$tmp/client" | awk '$1 == "libprotets.so.0" { print $3 }')"
check "shared client: insert, lookup, count" "alice=42 1" \
    "$(LD_LIBRARY_PATH=$P/lib "$tmp/client" sessions alice 42 2>&1)"
check "static client: insert, lookup, count" "bob=7 2" \
    "$("$tmp/client-static" sessions bob 7 2>&1)"
check "installed protets dump sees both" "alice	42 bob	7" \
    "$("$P/bin/protets" dump sessions 2>&1 | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
check "installed protets reads the socket from \$PROTETS_CONF" "sessions" \
    "$(env -u PROTETS_SOCKET PROTETS_CONF="$tmp/protets.conf" \
    "$P/bin/protets" ls 2>&1 | cut -f1)"
env -u PROTETS_SOCKET PROTETS_CONF="$tmp/nonexistent" "$P/bin/protets" ls \
    >/dev/null 2>&1
check "\$PROTETS_CONF naming no file: exit status 3 (unreachable)" 3 $?
kill "$dpid"
wait "$dpid"
check "installed protetsd stops on SIGTERM with status 0" 0 $?
dpid=

# -------------------------------------------------------------- man pages
for m in man1/protets.1 man3/protets.3 man5/protets.conf.5 man8/protetsd.8; do
	f=$P/share/man/$m
	if command -v mandoc >/dev/null; then
		t "mandoc -Tlint -Wwarning $m" mandoc -Tlint -Wwarning "$f"
	else
		notok "mandoc -Tlint $m: mandoc is not installed (apt-get install mandoc)"
	fi
	groff -mandoc -Tutf8 -ww -z "$f" >"$tmp/groff" 2>&1
	check "groff -mandoc -ww $m: no warning" "" "$(cat "$tmp/groff")"
	check "man -l $m renders a NAME section" 1 \
	    "$(MANWIDTH=80 man -l "$f" 2>/dev/null | grep -c '^NAME$')"
done
# The pages cover what they document.
missing=
for k in $(sed -n 's/^\([a-z_]*\) *=.*/\1/p' "$top/protets.conf"); do
	grep -q "^\.It Cm $k " "$top/man/protets.conf.5" || missing="$missing $k"
done
check "protets.conf(5) documents every key of protets.conf" "" "$missing"
missing=
for f in $(sed -n 's/^[a-z_ ]*[ *]\(protets_[a-z_]*\)(.*/\1/p' \
    "$top/client/protets.h" | sort -u); do
	grep -q "^\.Fn $f " "$top/man/protets.3" || missing="$missing $f"
done
check "protets(3) documents every function of protets.h" "" "$missing"
missing=
for c in $(sed -n 's/^protets \[-s SOCKET\] \([a-z-]*\).*/\1/p' "$top/README.md"); do
	grep -q "^\.Cm $c\$" "$top/man/protets.1" || missing="$missing $c"
done
check "protets(1) documents every command of README.md" "" "$missing"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
