#!/bin/sh
# Install protets (called by `make install`, mk/install.mk, which passes
# every directory in the environment and has built the binaries in
# $INSTALL_BUILD with the installed configuration path compiled in).
#
#   $SBINDIR/protetsd  $BINDIR/protets
#   $LIBDIR/libprotets.so.$SOVERSION, libprotets.so -> it, libprotets.a
#   $INCLUDEDIR/protets.h  $PKGCONFIGDIR/protets.pc
#   $UNITDIR/protetsd.service  $SYSCONFDIR/protets.conf
#   $MANDIR/man{1,3,5,8}/...
#
# Everything goes under $DESTDIR (staging); the paths written into the
# files (unit, protets.pc, compiled-in configuration path) never contain it.
# An existing protets.conf is never overwritten: the new one is installed
# beside it as protets.conf.dist.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
: "${INSTALL_BUILD:=build-install}" "${DESTDIR:=}" "${PREFIX:=/usr/local}"
: "${BINDIR:=$PREFIX/bin}" "${SBINDIR:=$PREFIX/sbin}" "${LIBDIR:=$PREFIX/lib}"
: "${INCLUDEDIR:=$PREFIX/include}"
# The GNU convention: the configuration of a PREFIX=/usr install is in /etc.
case $PREFIX in /usr) : "${SYSCONFDIR:=/etc}" ;; *) : "${SYSCONFDIR:=$PREFIX/etc}" ;; esac
: "${MANDIR:=$PREFIX/share/man}" "${UNITDIR:=$PREFIX/lib/systemd/system}"
: "${PKGCONFIGDIR:=$LIBDIR/pkgconfig}" "${VERSION:=0.1.0}" "${SOVERSION:=0}"
b=$INSTALL_BUILD
d=$DESTDIR

for f in protetsd protets libprotets.a "libprotets.so.$SOVERSION"; do
	[ -f "$b/$f" ] || { echo "install: $b/$f not built" >&2; exit 1; }
done
case $(cat "$b/conf-path" 2>/dev/null) in
"$SYSCONFDIR/protets.conf") ;;
*)	echo "install: $b was not built for $SYSCONFDIR/protets.conf" >&2
	exit 1 ;;
esac

# Paths in protets.pc relative to ${prefix} where they are under it.
rel() {
	case $1 in
	"$PREFIX"/*) printf '${prefix}%s\n' "${1#"$PREFIX"}" ;;
	*) printf '%s\n' "$1" ;;
	esac
}

set -x
install -d "$d$BINDIR" "$d$SBINDIR" "$d$LIBDIR" "$d$INCLUDEDIR" \
	"$d$PKGCONFIGDIR" "$d$UNITDIR" "$d$SYSCONFDIR" \
	"$d$MANDIR/man1" "$d$MANDIR/man3" "$d$MANDIR/man5" "$d$MANDIR/man8"
install -m 0755 "$b/protetsd" "$d$SBINDIR/protetsd"
install -m 0755 "$b/protets" "$d$BINDIR/protets"
install -m 0755 "$b/libprotets.so.$SOVERSION" "$d$LIBDIR/libprotets.so.$SOVERSION"
ln -sf "libprotets.so.$SOVERSION" "$d$LIBDIR/libprotets.so"
install -m 0644 "$b/libprotets.a" "$d$LIBDIR/libprotets.a"
install -m 0644 client/protets.h "$d$INCLUDEDIR/protets.h"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@LIBDIR@|$(rel "$LIBDIR")|g" \
	-e "s|@INCLUDEDIR@|$(rel "$INCLUDEDIR")|g" -e "s|@VERSION@|$VERSION|g" \
	protets.pc.in >"$d$PKGCONFIGDIR/protets.pc"
chmod 0644 "$d$PKGCONFIGDIR/protets.pc"
sed -e "s|@SBINDIR@|$SBINDIR|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" \
	systemd/protetsd.service.in >"$d$UNITDIR/protetsd.service"
chmod 0644 "$d$UNITDIR/protetsd.service"
install -m 0644 man/protets.1 "$d$MANDIR/man1/protets.1"
install -m 0644 man/protets.3 "$d$MANDIR/man3/protets.3"
install -m 0644 man/protets.conf.5 "$d$MANDIR/man5/protets.conf.5"
install -m 0644 man/protetsd.8 "$d$MANDIR/man8/protetsd.8"
{ set +x; } 2>/dev/null

# The installed configuration: the repository's, with the socket and the
# pidfile in the unit's RuntimeDirectory (/run/protets), the saved tables in
# its StateDirectory (/var/lib/protets), and the fd store on (the installed
# unit is set up for it).
conf=$(mktemp)
trap 'rm -f "$conf"' EXIT
sed -e 's|^\([[:space:]]*socket[[:space:]]*=\).*|\1 /run/protets/protets.sock|' \
	-e 's|^\([[:space:]]*pidfile[[:space:]]*=\).*|\1 /run/protets/protetsd.pid|' \
	-e 's|^\([[:space:]]*state_dir[[:space:]]*=\).*|\1 /var/lib/protets|' \
	-e 's|^\([[:space:]]*fdstore[[:space:]]*=\).*|\1 yes|' \
	-e 's|so this copy keeps everything inside the checkout (run/)|this installed copy uses /run/protets|' \
	protets.conf >"$conf"
grep -q '^socket = /run/protets/protets.sock$' "$conf" &&
grep -q '^pidfile = /run/protets/protetsd.pid$' "$conf" &&
grep -q '^state_dir = /var/lib/protets$' "$conf" || {
	echo "install: protets.conf: no socket, pidfile or state_dir line to rewrite" >&2
	exit 1
}
if [ -e "$d$SYSCONFDIR/protets.conf" ] &&
    ! cmp -s "$conf" "$d$SYSCONFDIR/protets.conf"; then
	install -m 0644 "$conf" "$d$SYSCONFDIR/protets.conf.dist"
	echo "install: kept $d$SYSCONFDIR/protets.conf; new one in protets.conf.dist"
else
	install -m 0644 "$conf" "$d$SYSCONFDIR/protets.conf"
fi

# The unit runs as the system user protets (User=/Group=).  A real
# install (no DESTDIR) by root creates it, as a Debian postinst would.
if [ -z "$d" ] && [ "$(id -u)" -eq 0 ] && ! getent passwd protets >/dev/null; then
	useradd --system --user-group --home-dir /nonexistent --no-create-home \
		--shell /usr/sbin/nologin --comment "protets daemon" protets
	echo "install: created system user protets"
fi
if [ -z "$d" ] && command -v ldconfig >/dev/null && [ "$(id -u)" -eq 0 ]; then
	ldconfig
fi
echo "install: done (${d:+DESTDIR=$d }PREFIX=$PREFIX)"
