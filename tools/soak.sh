#!/bin/sh
# make soak: is the suite flaky?  Run the whole `make check` SOAK_RUNS
# times in a row (default 5) while a parallel build of a copy of this
# tree loops beside it (`make clean; make -j3`), the load under which
# timing-dependent tests failed in CI and pure CPU loops showed nothing.
# Prints each run's result, then "soak: R runs, F failed" and the name
# of every test that failed; exits 1 if any run failed.  A failed run's
# whole log is kept in a directory of its own (printed).
#
#   SOAK_RUNS=N	runs (default 5)
#   SOAK_LOAD=0	no load (default 1)
#   SOAK_TARGET	what each run makes (default "check"; e.g. "check SAN=1")
set -u
cd "$(dirname "$0")/.."
runs=${SOAK_RUNS:-5}
target=${SOAK_TARGET:-check}
dir=$(mktemp -d /tmp/protets-soak.XXXXXX)
keep=""		# where failed runs' logs are kept, made on the first
loadpid=""
runpid=""

# The load runs in a session of its own, whose leader wrote its pid (the
# process group to end) to $dir/load.pid: setsid may fork, so $! is not
# always that process.  KILL: a shell running a loop in the background
# may outlive a TERM; dash's kill takes no "--".
stop_load() {
	[ -n "$loadpid" ] || return 0
	[ -s "$dir/load.pid" ] && kill -KILL "-$(cat "$dir/load.pid")" 2>/dev/null
	wait "$loadpid" 2>/dev/null
	loadpid=""
}
# A run is a process group of its own too (setsid), so that a signal to
# the soak ends the make check under way, not only the soak.
stop_run() {
	[ -n "$runpid" ] || return 0
	[ -s "$dir/run.pid" ] && kill -KILL "-$(cat "$dir/run.pid")" 2>/dev/null
	wait "$runpid" 2>/dev/null
	runpid=""
}
trap 'stop_run; stop_load; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

if [ "${SOAK_LOAD:-1}" = 1 ]; then
	# A copy of the tracked files as they are in the working tree.
	mkdir "$dir/load"
	if git rev-parse --git-dir >/dev/null 2>&1; then
		git ls-files -z | xargs -0 tar -cf - | tar -C "$dir/load" -xf -
	else
		tar --exclude='./build*' -cf - . | tar -C "$dir/load" -xf -
	fi
	setsid sh -c 'echo $$ >"$1/load.pid"; cd "$1/load" && while :; do
		make -s clean >/dev/null 2>&1
		make -s -j3 all >/dev/null 2>&1
	done' soak-load "$dir" &
	loadpid=$!
	while [ ! -s "$dir/load.pid" ]; do
		kill -0 "$loadpid" 2>/dev/null ||
		    { echo "soak: the load did not start" >&2; exit 2; }
		sleep 1
	done
	echo "soak: load: a parallel build looping in $dir/load (process group $(cat "$dir/load.pid"))"
fi

failed=0
names=""
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	start=$(date +%s)
	rm -f "$dir/run.pid"
	# In the background and waited for: a trap runs during a wait, not
	# during a foreground command.
	# shellcheck disable=SC2086 # SOAK_TARGET is words on purpose
	setsid sh -c 'echo $$ >"$1/run.pid"; shift; exec make "$@"' soak-run \
	    "$dir" $target >"$dir/run$i.log" 2>&1 &
	runpid=$!
	wait "$runpid"
	rc=$?
	runpid=""
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
	p=$(grep -E ': (exit status [0-9a-z]+|printed no result)$' "$dir/run$i.log" |
	    sed 's/:.*//' | sort -u | tr '\n' ' ')
	echo "soak: run $i: failed: ${f}${p}"
	grep -E '^[^ ]+:[0-9]+:[FE]:' "$dir/run$i.log" | sed 's/^/    /'
	[ -n "$keep" ] || keep=$(mktemp -d /tmp/protets-soak-failed.XXXXXX)
	cp "$dir/run$i.log" "$keep/run$i.log" &&
	    echo "soak: run $i: whole log in $keep/run$i.log"
	names="$names $f$p"
done
stop_load
echo "soak: $runs runs, $failed failed"
[ "$failed" -eq 0 ] || { echo "soak: failed tests:$names"; exit 1; }
