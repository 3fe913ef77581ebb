#!/bin/sh
# Run every test program given (check(3) suites), TEST_JOBS at a time
# (default: the number of CPUs; each program starts its own daemon in its
# own mkdtemp directory, so they do not share anything).  Print each
# program's output, in the order given, once it is done, and a closing
# line "tests: N passed, N failed" summed over all of them.  Exits non-zero
# if any program failed, crashed, or printed no result.
#
# Give the longest programs first: they then overlap with the short ones.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
jobs=${TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}

# One program: its output in $dir/N.out, its exit status in $dir/N.rc.
i=0
for t in "$@"; do
	i=$((i + 1))
	printf '%s %s\n' "$i" "$t"
done | xargs -P "$jobs" -L 1 sh -c '
	s=$(date +%s)
	"$2" >"$0/$1.out" 2>&1
	echo $? >"$0/$1.rc"
	echo "-- $2 finished (status $(cat "$0/$1.rc"), $(($(date +%s) - s)) s)" >&2
' "$dir"

bad=0
i=0
for t in "$@"; do
	i=$((i + 1))
	echo "== $t"
	cat "$dir/$i.out"
	cat "$dir/$i.out" >>"$dir/all"
	grep -q "Checks: " "$dir/$i.out" || { echo "$t: printed no result"; bad=$((bad + 1)); }
	rc=$(cat "$dir/$i.rc" 2>/dev/null || echo missing)
	[ "$rc" = 0 ] || { echo "$t: exit status $rc"; bad=$((bad + 1)); }
done
# check prints "NN%: Checks: C, Failures: F, Errors: E" per suite.
set -- $(sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' "$dir/all" |
	awk '{c+=$1; f+=$2+$3} END {print c+0, f+0}')
echo "tests: $(($1 - $2)) passed, $2 failed"
[ "$2" -eq 0 ] && [ "$bad" -eq 0 ]
