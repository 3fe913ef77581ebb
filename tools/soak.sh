#!/bin/sh
# make soak: is the suite flaky?  Run the whole `make check` SOAK_RUNS
# times in a row (default 5) while a parallel build of a copy of this
# tree loops beside it (`make clean; make -j3`), the load under which
# timing-dependent tests failed in CI and pure CPU loops showed nothing.
# Prints each run's result, then "soak: R runs, F failed" and the name
# of every test that failed; exits 1 if any run failed.
#
#   SOAK_RUNS=N	runs (default 5)
#   SOAK_LOAD=0	no load (default 1)
#   SOAK_TARGET	what each run makes (default "check"; e.g. "check SAN=1")
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${SOAK_RUNS:-5}
target=${SOAK_TARGET:-check}
dir=$(mktemp -d /tmp/protets-soak.XXXXXX)
loadpid=""

# The load runs in a session of its own, whose leader wrote its pid (the
# process group to end) to $dir/load.pid: setsid may fork, so $! is not
# always that process.
stop_load() {
	[ -n "$loadpid" ] || return 0
	# KILL: a shell running a loop in the background may outlive a TERM.
	[ -s "$dir/load.pid" ] && kill -KILL "-$(cat "$dir/load.pid")" 2>/dev/null
	wait "$loadpid" 2>/dev/null
	loadpid=""
}
trap 'stop_load; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

if [ "${SOAK_LOAD:-1}" = 1 ]; then
	# A copy of the tracked files as they are in the working tree.
	mkdir "$dir/load"
	if git rev-parse --git-dir >/dev/null 2>&1; then
		git ls-files -z | xargs -0 tar -cf - | tar -C "$dir/load" -xf -
	else
		tar --exclude='./build*' -cf - . | tar -C "$dir/load" -xf -
	fi
	# Its own process group, so that stop_load ends make and compilers.
	setsid sh -c 'echo $$ >"$1/load.pid"; cd "$1/load" && while :; do
		make -s clean >/dev/null 2>&1
		make -s -j3 all >/dev/null 2>&1
	done' soak-load "$dir" &
	loadpid=$!
	while [ ! -s "$dir/load.pid" ]; do sleep 0.1; done
	echo "soak: load: a parallel build looping in $dir/load (process group $(cat "$dir/load.pid"))"
fi

failed=0
names=""
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	start=$(date +%s)
	# shellcheck disable=SC2086 # SOAK_TARGET is words on purpose
	make $target >"$dir/run$i.log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	summary=$(grep -E '^tests: [0-9]+ passed, [0-9]+ failed' "$dir/run$i.log" |
	    tail -n 1)
	if [ "$rc" -eq 0 ]; then
		echo "soak: run $i: ok in ${secs} s (${summary:-no summary})"
		continue
	fi
	failed=$((failed + 1))
	echo "soak: run $i: FAILED (status $rc) in ${secs} s (${summary:-no summary})"
	# check(3)'s failure lines (file:line:F|E:suite:test:...), and the
	# runner's lines for programs that crashed or printed nothing.
	f=$(grep -E '^[^ ]+:[0-9]+:[FE]:[^:]*:[^:]+:' "$dir/run$i.log" |
	    awk -F: '{print $5}' | sort -u | tr '\n' ' ')
	p=$(grep -E ': (exit status [0-9]+|printed no result)$' "$dir/run$i.log" |
	    sed 's/:.*//' | sort -u | tr '\n' ' ')
	echo "soak: run $i: failed: ${f}${p}"
	grep -E '^[^ ]+:[0-9]+:[FE]:' "$dir/run$i.log" | sed 's/^/    /'
	cp "$dir/run$i.log" "/tmp/protets-soak-run$i.log" &&
	    echo "soak: run $i: whole log in /tmp/protets-soak-run$i.log"
	names="$names $f$p"
done
stop_load
echo "soak: $runs runs, $failed failed"
[ "$failed" -eq 0 ] || { echo "soak: failed tests:$names"; exit 1; }
