#!/bin/sh
# bench/tally_cost.sh BENCH BENCH_NOTALLY PROTETSD - what the statistics'
# counting costs the hot paths (issue 18: at most 3%), as instructions per
# operation: `bench -c` of the build with counting and of the same tree
# built with it compiled out (-DPROTETS_NO_TALLY), each under callgrind,
# collecting insert, lookup_hit and update_counter (bench/README.md,
# "Profiling"; instruction counts do not depend on the machine's load).
# Prints "protets tally_cost_PHASE BEFORE AFTER PERCENT" per phase and a
# verdict line; exits 1 if a phase lost more than 3%.
set -e
BENCH=$1 NOTALLY=$2 PROTETSD=$3
N=${TALLY_N:-200000}
TMP=$(mktemp -d /tmp/protets-tally.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# instructions per op of the three phases, "insert lookup counter"
per_op() {
	valgrind --tool=callgrind --callgrind-out-file="$TMP/$2.out" \
	    --toggle-collect=phase_insert_keys --toggle-collect=cg_lookup_hit \
	    --toggle-collect=phase_counter \
	    "$1" -c -n "$N" -d "$PROTETSD" >"$TMP/$2.log" 2>&1
	callgrind_annotate --inclusive=yes "$TMP/$2.out" 2>/dev/null |
	    awk -v n="$N" '
		/bench\.c:phase_insert_keys / { gsub(",", "", $1); i = $1 / n }
		/bench\.c:cg_lookup_hit / { gsub(",", "", $1); l = $1 / n }
		/bench\.c:phase_counter / { gsub(",", "", $1); c = $1 / n }
		END { printf "%.1f %.1f %.1f\n", i, l, c }'
}

echo "bench: tally cost, callgrind, N = $N (two runs of about a minute)" >&2
set -- $(per_op "$NOTALLY" off) $(per_op "$BENCH" on)
awk -v i0="$1" -v l0="$2" -v c0="$3" -v i1="$4" -v l1="$5" -v c1="$6" '
	function line(name, a, b) {
		p = (b - a) * 100 / a
		printf "protets tally_cost_%s %.1f %.1f %+.2f%%\n", name, a, b, p
		if (p > 3) bad = bad " " name
	}
	BEGIN {
		line("insert", i0, i1)
		line("lookup_hit", l0, l1)
		line("counter", c0, c1)
		if (bad != "") {
			print "protets tally_cost MISSED (over 3%):" bad
			exit 1
		}
		print "protets tally_cost met (each phase within 3%)"
	}'
