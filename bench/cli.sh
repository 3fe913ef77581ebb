#!/bin/sh
# cli.sh - the protets command's records from a pipe: how many a second
# `insert NAME -` (tsv, json), `delete NAME -` and `dump --format` move.
# Starts its own protetsd in a temporary directory, stops it by its pid.
#
#   sh bench/cli.sh [N]      N records (2000000), keys "key%08d" (11
#                            bytes), values "value%08d" (13 bytes)
# Environment: BUILD (build).  Prints "PHASE SECONDS RECORDS/S" lines.
set -eu

N=${1:-2000000}
B=${BUILD:-build}
DIR=$(mktemp -d /tmp/protets-bench-cli.XXXXXX)
printf '[daemon]\nsocket = sock\npidfile = pid\nworkers = 2\n[tables]\ndefault_size = 1G\nmax_size = 1G\n' \
    >"$DIR/conf"
"$B/protetsd" -d -c "$DIR/conf" >"$DIR/log" 2>&1 &
DPID=$!
trap 'kill $DPID 2>/dev/null; wait $DPID 2>/dev/null; rm -rf "$DIR"' EXIT
P="$B/protets -s $DIR/sock"
until $P procs >/dev/null 2>&1; do
	kill -0 $DPID || { cat "$DIR/log"; exit 1; }
	sleep 0.1
done
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
    printf "key%08d\tvalue%08d\n", i, i }' >"$DIR/in.tsv"

# phase command...: the seconds the command took, and N / seconds
phase() {
	name=$1
	shift
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	echo "$name $t0 $t1 $N" | awk '{ s = $3 - $2;
	    printf "%-18s %6.2f s %10.0f records/s\n", $1, s, $4 / s }'
}

$P get t >/dev/null
$P get j >/dev/null
phase insert-tsv sh -c "cat '$DIR/in.tsv' | $P insert t -"
phase dump-raw sh -c "$P dump t >/dev/null"
phase dump-tsv sh -c "$P dump t --format tsv >/dev/null"
phase dump-json sh -c "$P dump t --format json >'$DIR/out.json'"
phase insert-json sh -c "cat '$DIR/out.json' | $P insert --format json j -"
phase delete-tsv sh -c "cut -f1 '$DIR/in.tsv' | $P delete t -"
test "$($P count j)" = "$N"
test "$($P count t)" = 0
