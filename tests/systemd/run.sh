#!/bin/sh
# make check-systemd: protetsd under a real systemd, killed every way.
#
# Boots a real systemd as PID 1 of a systemd-nspawn container: the host's
# own /usr, read-only, on an empty tmpfs root (--volatile=yes), so nothing
# is downloaded and nothing of the host is written.  nspawn runs in a
# mount namespace of its own with a tmpfs on /run (its state never lands in
# the host's /run) and in a cgroup of its own, removed at the end.
# `make install` stages protets under $work/dest/usr/local, which the
# container sees as its /usr/local; the container's systemd loads the
# installed unit from /usr/local/lib/systemd/system.  The test then drives
# the container with `nsenter ... systemctl` and the protets CLI, kills
# daemon processes every way, and checks after each kill that the service
# is active again with every table and every entry.  Last, it checks that
# the host is as it was.  Prints "N passed, N failed"; exits 1 on failure.
#
# Root only; needs systemd-container (installed when missing).  The host's
# PID 1 must not be systemd (there, use machinectl; not supported here).
# Environment: MAKE (the make command), KEEP=1 keeps the container running
# and its directory on exit (then: sh tests/systemd/run.sh teardown DIR),
# PROTETS_CT_ROOT=DIR boots the root tree DIR instead of the host's /usr,
# with every write to it going to a tmpfs overlay (--volatile=overlay): e.g.
#   debootstrap --variant=minbase --include=systemd,dbus,libbsd0,liburcu8,\
#	libxxhash0,libinih1 bookworm DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
MAKE=${MAKE:-make}
WORKERS=3

pass=0
fail=0
t0=$(date +%s)

say() { printf '[check-systemd %s] %s\n' "$(date +%T)" "$*" >&2; }
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
notok() { fail=$((fail + 1)); echo "FAIL - $*"; }
# check DESCRIPTION EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"
	else notok "$1: expected '$2', got '$3'"; fi
}

# The cgroup hierarchies nspawn is placed in: cgroup2 alone, or (hybrid
# and legacy hosts) the name=systemd hierarchy plus the unified one.
cgroup_roots() {
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		echo /sys/fs/cgroup
		return
	fi
	[ -d /sys/fs/cgroup/systemd ] && echo /sys/fs/cgroup/systemd
	[ -f /sys/fs/cgroup/unified/cgroup.procs ] && echo /sys/fs/cgroup/unified
	return 0
}

# ---------------------------------------------------------------- container
# Host pid of the container's PID 1 (the systemd child of nspawn).
leader() {
	_np=$(cat "$work/nspawn.pid" 2>/dev/null) || return 1
	kill -0 "$_np" 2>/dev/null || return 1
	for _c in $(cat /proc/"$_np"/task/*/children 2>/dev/null); do
		if [ "$(cat /proc/"$_c"/comm 2>/dev/null)" = systemd ]; then
			echo "$_c"
			return 0
		fi
	done
	return 1
}

# Run a command in the container (every namespace of its PID 1).
in_ct() {
	env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    LANG=C.UTF-8 SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 \
	    nsenter -t "$pid1" -m -u -i -n -p -C -r -w -- "$@"
}

prop() { in_ct systemctl show -P "$1" protetsd.service; }

boot() {
	for _cg in $(cgroup_roots); do
		mkdir "$_cg/$name" || return 1
	done
	# setsid: a session of its own; the shell writes its pid, which
	# becomes nspawn's at exec, then joins our cgroups.
	PT_CGS=$(cgroup_roots | tr '\n' ' ') PT_NAME=$name PT_WORK=$work \
	PT_ROOT=$root_args \
	setsid -f unshare --mount --propagation private -- /bin/sh -c '
		mount -t tmpfs -o mode=0755,size=16m "$PT_NAME" /run || exit 1
		for cg in $PT_CGS; do
			echo $$ >"$cg/$PT_NAME/cgroup.procs" || exit 1
		done
		echo $$ >"$PT_WORK/nspawn.pid"
		exec systemd-nspawn --quiet --register=no --keep-unit \
		    --machine="$PT_NAME" --private-network --link-journal=no \
		    --resolv-conf=off --timezone=off --console=pipe \
		    $PT_ROOT \
		    --bind-ro="$PT_WORK/dest/usr/local:/usr/local" \
		    --bind="$PT_WORK/dest/usr/local/etc:/usr/local/etc" \
		    --bind-ro="$PT_WORK/bin:/opt/protets-check" \
		    --boot systemd.mask=systemd-firstboot.service \
		    systemd.unit=basic.target' \
	    </dev/null >"$work/console.log" 2>&1
	_i=0
	while ! pid1=$(leader); do
		_i=$((_i + 1))
		[ $_i -lt 300 ] || { cat "$work/console.log" >&2; return 1; }
		sleep 0.1
	done
	# systemctl fails until PID 1 has made /run/systemd/private.
	_i=0
	while :; do
		_st=$(timeout 60 nsenter -t "$pid1" -m -u -i -n -p -C -r -w -- \
		    systemctl is-system-running --wait 2>/dev/null)
		case $_st in running|degraded) break ;; esac
		_i=$((_i + 1))
		if [ $_i -ge 300 ] || ! leader >/dev/null; then
			say "boot did not complete (${_st:-no answer})"
			cat "$work/console.log" >&2
			return 1
		fi
		sleep 0.1
	done
	[ "$_st" = running ] || in_ct systemctl --failed --no-legend >&2
	return 0
}

# Power the container off, then remove what is left: cgroups, directory.
teardown() {
	_np=$(cat "$work/nspawn.pid" 2>/dev/null)
	if [ -n "$_np" ] && kill -0 "$_np" 2>/dev/null &&
	    [ "$(cat /proc/"$_np"/comm 2>/dev/null)" = systemd-nspawn ]; then
		kill -TERM "$_np"	# nspawn: SIGRTMIN+3 to PID 1, poweroff
		_i=0
		while kill -0 "$_np" 2>/dev/null && [ $_i -lt 150 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		if kill -0 "$_np" 2>/dev/null; then
			say "poweroff timed out: killing the container"
			kill -KILL "$_np"
		fi
	fi
	for _cg in $(cgroup_roots); do
		[ -d "$_cg/$name" ] || continue
		for _i in 1 2 3 4 5 6 7 8 9 10; do
			find "$_cg/$name" -name cgroup.procs -exec cat {} + \
			    2>/dev/null | xargs -r kill -KILL 2>/dev/null
			find "$_cg/$name" -depth -type d -exec rmdir {} + \
			    2>/dev/null && break
			sleep 0.2
		done
	done
	if [ -d "$work" ]; then
		if grep -q " $work" /proc/self/mounts; then
			say "something is still mounted under $work; left it"
		else
			rm -rf --one-file-system "$work"
		fi
	fi
}

# What of the host this test could dirty: cgroups, mounts, nspawn's state
# in /run, processes.  Empty before the test; must be empty after.
host_state() {
	for _cg in $(cgroup_roots); do
		[ -e "$_cg/$name" ] && echo "cgroup $_cg/$name"
	done
	grep -e "$work" -e "$name" /proc/self/mountinfo
	[ -e /run/systemd/nspawn ] && echo "/run/systemd/nspawn"
	pgrep -a -f -- "--machine=$name"
	return 0
}

# Leftovers of a run that was SIGKILLed (no trap runs then): containers
# whose run.sh is gone, found by their cgroup (protets-ct-<pid of run.sh>).
sweep_stale() {
	for _d in $(cgroup_roots | sed 's|$|/protets-ct-*|'); do
		[ -d "$_d" ] || continue
		_n=${_d##*/}
		kill -0 "${_n#protets-ct-}" 2>/dev/null && continue
		_w=$(grep -lx "$_n" /tmp/protets-systemd.*/name 2>/dev/null)
		say "removing the leftovers of an earlier run: $_n ${_w%/name}"
		(name=$_n; work=${_w%/name}; [ -n "$_w" ] || work=/nonexistent
		 teardown)
	done
}

if [ "${1:-}" = teardown ]; then	# after KEEP=1
	work=$2
	name=$(cat "$work/name")
	teardown
	exit 0
fi

# -------------------------------------------------------------------- setup
if [ "$(id -u)" -ne 0 ]; then
	echo "check-systemd: must run as root"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ -d /run/systemd/system ]; then
	echo "check-systemd: the host runs systemd; this test is for hosts" \
	    "whose PID 1 is not systemd (use machinectl there)"
	echo "0 passed, 1 failed"
	exit 1
fi
if ! command -v systemd-nspawn >/dev/null; then
	say "installing systemd-container"
	export DEBIAN_FRONTEND=noninteractive
	# No recommends: libnss-mymachines would edit /etc/nsswitch.conf.
	{ apt-get update -qq &&
	    apt-get install -y -qq --no-install-recommends systemd-container
	} >&2 || { echo "0 passed, 1 failed"; exit 1; }
fi

if [ -n "${PROTETS_CT_ROOT:-}" ]; then
	[ -x "$PROTETS_CT_ROOT/lib/systemd/systemd" ] || {
		echo "check-systemd: $PROTETS_CT_ROOT: no systemd in it"
		echo "0 passed, 1 failed"
		exit 1
	}
	root_args="-D $PROTETS_CT_ROOT --volatile=overlay"
else
	root_args="-D / --volatile=yes"
fi
[ "${KEEP:-0}" = 1 ] || sweep_stale
work=$(mktemp -d /tmp/protets-systemd.XXXXXX)
chmod 0755 "$work"
name=protets-ct-$$
host_before=$(host_state)
echo "$name" >"$work/name"
pid1=
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then
		say "kept: $work (container $name, PID 1 = host pid $pid1);" \
		    "sh tests/systemd/run.sh teardown $work"
	else
		teardown
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

say "make install DESTDIR=$work/dest PREFIX=/usr/local"
if ! $MAKE -C "$top" install DESTDIR="$work/dest" PREFIX=/usr/local \
    INSTALL_BUILD="$work/build" >"$work/install.log" 2>&1; then
	tail -30 "$work/install.log"
	notok "make install"
	echo "$pass passed, $fail failed"
	exit 1
fi
ok "make install DESTDIR=... PREFIX=/usr/local"

# A client of the installed library that keeps a table mapped through
# every restart; static, as the container has no ld.so.cache for
# /usr/local/lib.
mkdir "$work/bin"
if ${CC:-cc} -static -Wall -Werror -o "$work/bin/holder" \
    "$top/tests/systemd/holder.c" $(PKG_CONFIG_PATH=$work/dest/usr/local/lib/pkgconfig \
    pkg-config --define-variable=prefix="$work/dest/usr/local" \
    --static --cflags --libs protets) 2>"$work/holder.log"; then
	ok "holder.c built with pkg-config --static ... protets"
else
	cat "$work/holder.log"
	notok "holder.c built with pkg-config --static ... protets"
fi

tb=$(date +%s)
if ! boot; then
	notok "boot systemd in systemd-nspawn"
	echo "$pass passed, $fail failed"
	exit 1
fi
ok "systemd $(in_ct systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') is PID 1 of the container ($(($(date +%s) - tb)) s)"

# The unit runs as this system user.
in_ct useradd --system --user-group --home-dir /nonexistent \
    --no-create-home --shell /usr/sbin/nologin protets
check "useradd -r protets" 0 $?
in_ct systemctl daemon-reload
check "the container loads the installed unit" \
    /usr/local/lib/systemd/system/protetsd.service "$(prop FragmentPath)"

# ------------------------------------------------------------------ helpers
# Wait until the service is active and running with every daemon process
# up; with a pid argument, also until the main pid differs from it.
wait_up() {
	_old=${1:-}
	_i=0
	while [ $_i -lt 200 ]; do
		_m=$(prop MainPID)
		if [ "$(prop ActiveState)/$(prop SubState)" = active/running ] &&
		    [ "$_m" != 0 ] && [ "$_m" != "$_old" ] &&
		    [ "$(in_ct protets procs 2>/dev/null | wc -l)" -eq \
		    $((WORKERS + 2)) ]; then
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# Pid of the first daemon process in role ROLE, from `protets procs`.
role_pid() { in_ct protets procs | awk -v r="$1" '$1 == r { print $2; exit }'; }

# Wait until `protets procs` shows no process with pid $1 and the whole
# set is up again (a killed worker or monitor was replaced).
wait_replaced() {
	_i=0
	while [ $_i -lt 200 ]; do
		_p=$(in_ct protets procs 2>/dev/null)
		if [ "$(echo "$_p" | wc -l)" -eq $((WORKERS + 2)) ] &&
		    ! echo "$_p" | awk '{ print $2 }' | grep -qx "$1" &&
		    [ "$(prop ActiveState)" = active ]; then
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# The data set: made once through the CLI in the container, and its
# expected dump (sorted) per table on the host.
TABLES="alpha beta gamma empty"
make_data() {
	in_ct /bin/sh -c '
		set -e
		protets get alpha --access public >/dev/null
		protets get beta --type bag >/dev/null
		protets get gamma --type duplicate_bag --access private >/dev/null
		protets get empty --size 1048576 >/dev/null
		i=1
		while [ $i -le 300 ]; do
			protets insert alpha "key $i" "value of $i"
			i=$((i + 1))
		done
		i=1
		while [ $i -le 50 ]; do
			protets insert beta "k$i" red
			protets insert beta "k$i" blue
			protets insert gamma "g$i" same
			protets insert gamma "g$i" same
			i=$((i + 1))
		done
		protets delete alpha "key 7"
		protets insert alpha "key 8" "replaced"
	'
	mkdir -p "$work/want"
	i=1
	while [ $i -le 300 ]; do
		case $i in
		7) ;;
		8) printf 'key 8\treplaced\n' ;;
		*) printf 'key %d\tvalue of %d\n' $i $i ;;
		esac
		i=$((i + 1))
	done | LC_ALL=C sort >"$work/want/alpha"
	i=1
	while [ $i -le 50 ]; do
		printf 'k%d\tred\nk%d\tblue\n' $i $i
		i=$((i + 1))
	done | LC_ALL=C sort >"$work/want/beta"
	i=1
	while [ $i -le 50 ]; do
		printf 'g%d\tsame\ng%d\tsame\n' $i $i
		i=$((i + 1))
	done | LC_ALL=C sort >"$work/want/gamma"
	: >"$work/want/empty"
}

# verify WHEN: one check that every table is listed, with every entry
# (dump) and the right count.
verify() {
	_bad=
	_ls=$(in_ct protets ls 2>&1 | cut -f1 | LC_ALL=C sort | tr '\n' ' ')
	[ "$_ls" = "alpha beta empty gamma " ] || _bad="$_bad ls: '$_ls';"
	for _t in $TABLES; do
		in_ct protets dump "$_t" 2>&1 | LC_ALL=C sort >"$work/got"
		cmp -s "$work/got" "$work/want/$_t" ||
		    _bad="$_bad $_t: dump differs ($(wc -l <"$work/got") lines, $(head -1 "$work/got"));"
		_n=$(in_ct protets count "$_t" 2>&1)
		[ "$_n" = "$(wc -l <"$work/want/$_t" | tr -d ' ')" ] ||
		    _bad="$_bad $_t: count '$_n';"
	done
	if [ -z "$_bad" ]; then
		ok "$1: 4 tables, every entry present (dump, count)"
	else
		notok "$1:$_bad"
	fi
}

# After a restart of the whole service: up again with a new main pid,
# every table recovered from the fd store, and said so in STATUS=.
after_restart() {
	if wait_up "$2"; then
		ok "$1: service active again, new main pid $(prop MainPID)"
	else
		notok "$1: service not active again (ActiveState $(prop ActiveState)/$(prop SubState), Result $(prop Result))"
		return
	fi
	_s=$(prop StatusText)
	case $_s in
	*"4 tables recovered"*) ok "$1: STATUS=$_s" ;;
	*) notok "$1: STATUS= does not say '4 tables recovered': '$_s'" ;;
	esac
	holder_write "$1"
	verify "$1"
	check "$1: fd store holds the 4 segments and the catalog" 5 \
	    "$(prop NFileDescriptorStore)"
}

# The holder: started once the tables exist, it maps alpha and keeps the
# mapping; holder_write WHEN makes it write an entry through that mapping,
# which the daemon (a new one, after a restart) must then see.
holder_start() {
	mkfifo "$work/holder.in"
	in_ct /opt/protets-check/holder alpha <"$work/holder.in" \
	    >"$work/holder.out" 2>&1 &
	hpid=$!
	exec 3>"$work/holder.in"
	_i=0
	while ! grep -q . "$work/holder.out" && [ $_i -lt 100 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	check "a client maps alpha and keeps the mapping" mapped \
	    "$(head -1 "$work/holder.out")"
}
held=0
holder_write() {
	held=$((held + 1))
	if ! kill -0 "$hpid" 2>/dev/null; then	# no SIGPIPE for us
		notok "$1: the client holding alpha is gone"
		return
	fi
	echo "held-$held by-holder-$held" >&3
	_i=0
	while ! grep -q -e "^ok held-$held\$" -e "^error held-$held:" \
	    "$work/holder.out" && [ $_i -lt 100 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	_r=$(grep -e "^ok held-$held\$" -e "^error held-$held:" "$work/holder.out")
	if [ "$_r" = "ok held-$held" ]; then
		ok "$1: the client's mapping from before still writes"
		printf 'held-%d\tby-holder-%d\n' $held $held >>"$work/want/alpha"
		LC_ALL=C sort -o "$work/want/alpha" "$work/want/alpha"
	else
		notok "$1: the client's mapping from before: '$_r'"
	fi
}

journal() {
	say "journal of protetsd.service (last 40 lines):"
	in_ct journalctl -q -u protetsd.service -n 40 --no-pager >&2
}

# ---------------------------------------------------------------- scenarios
ts=$(date +%s)
in_ct timeout 60 systemctl start protetsd.service
check "systemctl start protetsd (Type=notify: returns after READY=1)" 0 $?
wait_up || journal
check "active (running)" active/running "$(prop ActiveState)/$(prop SubState)"
check "runs as the protets user" protets \
    "$(in_ct stat -c %U "/proc/$(prop MainPID)")"
make_data
check "tables and entries made with the CLI" 0 $?
verify "after start"
check "fd store holds one fd per table, and the catalog" 5 \
    "$(prop NFileDescriptorStore)"
sec=$(in_ct systemd-analyze security --no-pager protetsd.service 2>&1 |
    sed -n 's/.*Overall exposure level for protetsd.service: //p')
check "systemd-analyze security: exposure $sec, at most 2.0" yes \
    "$(echo "$sec" | awk '$1 + 0 > 0 && $1 <= 2.0 { print "yes" }')"
holder_start

# 1. One worker alone (the owner of alpha): the supervisor replaces it and
# the monitor hands it back its tables; systemd sees nothing.
main=$(prop MainPID)
w=$(in_ct protets ls | awk -F'\t' '$1 == "alpha" { print $6 }')
in_ct /bin/sh -c "kill -9 $w"
if wait_replaced "$w"; then ok "kill -9 worker $w: replaced"
else notok "kill -9 worker $w: not replaced"; fi
check "kill -9 worker: same main pid, no restart" "$main/0" \
    "$(prop MainPID)/$(prop NRestarts)"
holder_write "kill -9 worker"
verify "kill -9 worker"

# 2. The monitor alone.
m=$(role_pid monitor)
in_ct /bin/sh -c "kill -9 $m"
if wait_replaced "$m"; then ok "kill -9 monitor $m: replaced"
else notok "kill -9 monitor $m: not replaced"; fi
check "kill -9 monitor: same main pid, no restart" "$main/0" \
    "$(prop MainPID)/$(prop NRestarts)"
holder_write "kill -9 monitor"
verify "kill -9 monitor"

# 3. Every process at once, three times: only systemd's fd store is left
# holding the segments.  A CLI loop runs throughout: the library redials
# for connect_timeout_ms (5 s), longer than a restart, so no command may
# fail with "daemon unreachable".
in_ct /bin/sh -c 'while [ ! -e /tmp/cli-stop ]; do
	protets count alpha >/dev/null 2>>/tmp/cli-err || true
	echo x >>/tmp/cli-n
done' &
clipid=$!
for n in 1 2 3; do
	main=$(prop MainPID)
	in_ct systemctl kill -s KILL protetsd.service
	after_restart "systemctl kill -s KILL ($n)" "$main"
done
in_ct touch /tmp/cli-stop
wait "$clipid"
check "NRestarts after 3 kills of the whole service" 3 "$(prop NRestarts)"
echo "# CLI commands through the 3 kills: $(in_ct cat /tmp/cli-n | wc -l)"
check "a CLI loop through the 3 kills: no command failed" "" \
    "$(in_ct cat /tmp/cli-err 2>/dev/null)"

# 4. The supervisor (main pid) alone: its children follow it
# (PR_SET_PDEATHSIG), systemd restarts the service.
main=$(prop MainPID)
in_ct /bin/sh -c "kill -9 $main"
after_restart "kill -9 supervisor $main" "$main"

# 5. A worker (the owner of beta) and the monitor in one kill(1): only
# the fd store still holds that worker's tables.
main=$(prop MainPID)
w=$(in_ct protets ls | awk -F'\t' '$1 == "beta" { print $6 }')
m=$(role_pid monitor)
in_ct /bin/sh -c "kill -9 $w $m"
# The daemon may recover in place, or exit for systemd to restart it with
# the store: either way every process is new and every entry is there.
if wait_replaced "$w" && wait_replaced "$m"; then
	ok "kill -9 worker $w + monitor $m: replaced"
else
	notok "kill -9 worker $w + monitor $m: not replaced"
fi
sleep 1		# a restart may be on its way: let it settle
wait_up || notok "kill -9 worker + monitor: service not up"
echo "# kill -9 worker + monitor: NRestarts $(prop NRestarts), main pid" \
    "$main -> $(prop MainPID)"
holder_write "kill -9 worker + monitor"
verify "kill -9 worker + monitor"
check "kill -9 worker + monitor: fd store holds the 4 segments + catalog" 5 \
    "$(prop NFileDescriptorStore)"

# 6. systemctl restart: systemd keeps the store across a restart job.
main=$(prop MainPID)
in_ct timeout 60 systemctl restart protetsd.service
check "systemctl restart" 0 $?
after_restart "systemctl restart" "$main"

# 6b. A live upgrade: SIGUSR2 to the service (the children ignore it) execs
# the binary at protetsd's path in place: the same main pid, no restart,
# every table, and the client's mapping writes on.
main=$(prop MainPID)
restarts=$(prop NRestarts)
wpid=$(role_pid worker)
in_ct systemctl kill -s USR2 protetsd.service
_i=0
while [ $_i -lt 200 ] && ! { in_ct journalctl -q -u protetsd.service \
    --no-pager 2>/dev/null | grep -q 'upgraded in place' &&
    [ "$(in_ct protets procs 2>/dev/null | wc -l)" -eq $((WORKERS + 2)) ] &&
    [ "$(role_pid worker)" != "$wpid" ]; }; do
	sleep 0.1
	_i=$((_i + 1))
done
check "SIGUSR2: upgraded in place, workers back" 1 \
    "$(in_ct journalctl -q -u protetsd.service --no-pager 2>/dev/null |
    grep -c 'upgraded in place')"
check "SIGUSR2: the same main pid" "$main" "$(prop MainPID)"
check "SIGUSR2: no service restart" "$restarts" "$(prop NRestarts)"
check "SIGUSR2: active (running)" active/running \
    "$(prop ActiveState)/$(prop SubState)"
holder_write "SIGUSR2"
verify "SIGUSR2"
check "SIGUSR2: fd store holds the 4 segments and the catalog" 5 \
    "$(prop NFileDescriptorStore)"

# 7. A table dropped is removed from the store too (FDSTOREREMOVE=1).
in_ct protets get scratch >/dev/null
check "a fifth table: fd store holds 5 + the catalog" 6 \
    "$(prop NFileDescriptorStore)"
in_ct protets drop scratch
check "drop: fd store back to 4 + the catalog" 5 \
    "$(prop NFileDescriptorStore)"

# 8. A typo in protets.conf.  A reload fails visibly (ExecReload= checks
# the file first) and changes nothing; then the whole service is killed
# while the file is bad: ExecStartPre= fails at every attempt, the unit
# must not reach its start limit (a failed unit's store is emptied) and
# keeps the tables in the store until the file is fixed.
conf="$work/dest/usr/local/etc/protets.conf"
cp "$conf" "$work/protets.conf.good"
sed -i 's/^\[daemon\]$/[daemon]\nsocket_mod = 0666/' "$conf"
grep -q '^socket_mod = 0666$' "$conf"
check "a typo in protets.conf (socket_mod)" 0 $?
in_ct timeout 60 systemctl reload protetsd.service 2>/dev/null
check "systemctl reload with the typo: exits non-zero" yes \
    "$([ $? -ne 0 ] && echo yes)"
check "after the failed reload: active (running)" active/running \
    "$(prop ActiveState)/$(prop SubState)"
# (the CLI reads the same file: it ignores what is not its own)
verify "after the failed reload"
n0=$(prop NRestarts)
in_ct systemctl kill -s KILL protetsd.service
# More failed starts than the old StartLimitBurst= (30): no failed state.
_i=0
while [ "$(prop NRestarts)" -lt $((n0 + 35)) ] &&
    [ "$(prop ActiveState)" != failed ] && [ $_i -lt 600 ]; do
	sleep 0.1
	_i=$((_i + 1))
done
echo "# the typo: $(($(prop NRestarts) - n0)) failed starts," \
    "ActiveState $(prop ActiveState)/$(prop SubState)"
check "kill with the typo: $((n0 + 35)) starts or more, never failed" yes \
    "$([ "$(prop NRestarts)" -ge $((n0 + 35)) ] &&
    [ "$(prop ActiveState)" != failed ] && echo yes)"
check "kill with the typo: the fd store still holds 4 segments + catalog" 5 \
    "$(prop NFileDescriptorStore)"
in_ct journalctl -q -u protetsd.service --no-pager 2>/dev/null |
    grep -q socket_mod
check "the journal names the bad key" 0 $?
main=$(prop MainPID)
cp "$work/protets.conf.good" "$conf"
after_restart "the file fixed" "$main"
check "KillMode" mixed "$(prop KillMode)"

# 9. stop, then start: systemd 252 empties the store on stop (there is no
# FileDescriptorStorePreserve= before 254); the stop saved every table to
# the state directory (/var/lib/protets), and the start loads them.
tables_before=$(in_ct protets ls 2>&1 | cut -f1-4)	# not the worker
held_before=$(in_ct journalctl -q -u protetsd.service --no-pager 2>/dev/null |
    grep -c 'holding its')
in_ct systemctl stop protetsd.service
check "systemctl stop: inactive" inactive "$(prop ActiveState)"
# KillMode=mixed: the supervisor stops its children, workers first
check "no stop or restart logged a child killed by signal 15" 0 \
    "$(in_ct journalctl -q -u protetsd.service --no-pager 2>/dev/null |
    grep -c 'killed by signal 15')"
check "the stop logged no worker's segments held for a successor" \
    "$held_before" "$(in_ct journalctl -q -u protetsd.service --no-pager \
    2>/dev/null | grep -c 'holding its')"
check "systemctl stop: fd store emptied" 0 "$(prop NFileDescriptorStore)"
in_ct timeout 60 systemctl start protetsd.service
wait_up
check "start after stop: active" active/running \
    "$(prop ActiveState)/$(prop SubState)"
check "start after stop: the same tables, from the state directory" \
    "$tables_before" "$(in_ct protets ls 2>&1 | cut -f1-4)"
in_ct protets count alpha >/dev/null 2>&1
check "start after stop: protets count alpha exits 0" 0 $?
check "start after stop: STATUS= says where the tables came from" 1 \
    "$(prop StatusText | grep -c 'recovered from the state directory')"
check "start after stop: the fd store holds them again, and the catalog" \
    "$(($(in_ct protets ls | wc -l) + 1))" "$(prop NFileDescriptorStore)"

exec 3>&-	# EOF: the holder exits
wait "$hpid"
check "the holder exits cleanly" 0 $?

[ "$fail" -eq 0 ] || journal
in_ct systemctl stop protetsd.service
say "scenarios took $(($(date +%s) - ts)) s"

# ----------------------------------------------------------------- teardown
if [ "${KEEP:-0}" != 1 ]; then
	trap - EXIT
	teardown
	if [ -e "$work" ]; then notok "teardown: $work still there"
	else ok "teardown: container, cgroups and $work removed"; fi
	host_after=$(host_state)
	if [ "$host_before" = "$host_after" ]; then
		ok "host as before (cgroups, /run, mounts, nspawn processes)"
	else
		notok "host not as before: $host_after"
	fi
fi
say "took $(($(date +%s) - t0)) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
