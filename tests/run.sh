#!/bin/sh
# Run every test program given (check(3) suites); print their output and a
# closing line "tests: N passed, N failed" summed over all of them.  Exits
# non-zero if any program failed, crashed, or printed no result.
log=$(mktemp)
one=$(mktemp)
trap 'rm -f "$log" "$one"' EXIT
bad=0
for t in "$@"; do
	echo "== $t"
	"$t" >"$one" 2>&1
	rc=$?
	cat "$one"
	cat "$one" >>"$log"
	grep -q "Checks: " "$one" || { echo "$t: printed no result"; bad=$((bad + 1)); }
	[ "$rc" -eq 0 ] || { echo "$t: exit status $rc"; bad=$((bad + 1)); }
done
# check prints "NN%: Checks: C, Failures: F, Errors: E" per suite.
set -- $(sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' "$log" |
	awk '{c+=$1; f+=$2+$3} END {print c+0, f+0}')
echo "tests: $(($1 - $2)) passed, $2 failed"
[ "$2" -eq 0 ] && [ "$bad" -eq 0 ]
