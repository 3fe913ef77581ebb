#!/bin/sh
# run.sh - `make bench`: the standard workload on protets, then on every
# peer that is installed, in one run on this machine; then the tables.
#
# Environment (mk/bench.mk sets it):
#   BENCH          the protets benchmark (build/bench/bench)
#   PROTETSD       the protetsd it starts
#   BENCH_N        keys [1000000]           BENCH_RUNS     runs [3]
#   BENCH_REDIS_N  keys for Redis [20000]: a round trip per operation
#   PEER_DIR       where the C peers were built (build/bench/peers)
#   BENCH_ONLY     space-separated subset of: protets plain lmdb ets redis
#                  python
#   PY_LIB         the Python package built (build/python/lib), PYTHON
#   BENCH_OUT      result file [$PEER_DIR/../results.txt]
#
# protets, plain and lmdb take turns: BENCH_RUNS rounds of one run each,
# so that the drift of a shared machine over the minutes of a run falls on
# all three alike (their ratios are the targets); each figure is the median
# of its rounds.  ETS and Redis run after, BENCH_RUNS runs each.
#
# stdout: every result line, "NAME PHASE VALUE" (medians).  stderr:
# progress, notes on skipped peers, and at the end the tables of
# bench/compare.sh (also written to BENCH_OUT's directory, table.md).
#
# A peer runs only when it is installed: plain always; lmdb when
# liblmdb-dev was there to build it; ets when escript (erlang-base) is
# installed; redis when libhiredis-dev was there and redis-server is.
# `make bench-peers-deps` (or BENCH_PEERS=1 make bench) installs them.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
: "${BENCH:=build/bench/bench}" "${PROTETSD:=build/protetsd}"
: "${BENCH_N:=1000000}" "${BENCH_RUNS:=3}" "${BENCH_REDIS_N:=20000}"
: "${PEER_DIR:=build/bench/peers}" "${BENCH_ONLY:=protets plain lmdb ets redis python}"
: "${PY_LIB:=build/python/lib}" "${PYTHON:=/usr/bin/python3}"
: "${BENCH_OUT:=$PEER_DIR/../results.txt}"
TABLE=$(dirname "$BENCH_OUT")/table.md

want() { case " $BENCH_ONLY " in *" $1 "*) return 0;; esac; return 1; }
note() { echo "bench: $*" >&2; }

REDIS_PID=
REDIS_DIR=
cleanup() {
	if [ -n "$REDIS_PID" ]; then
		kill "$REDIS_PID" 2>/dev/null || true
		wait "$REDIS_PID" 2>/dev/null || true
	fi
	[ -n "$REDIS_DIR" ] && rm -rf "$REDIS_DIR"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$(dirname "$BENCH_OUT")"
: >"$BENCH_OUT"
# Run a program; each result line goes to stdout and to RUN_OUT (the
# result file, or the rounds' raw file) as it comes.  A failure is noted
# and fails the run at the end.
FAILED=
RUN_OUT=$BENCH_OUT
run() {
	name=$1
	shift
	rcf=$(mktemp)
	{ rc=0; "$@" || rc=$?; echo $rc >"$rcf"; } | tee -a "$RUN_OUT"
	rc=$(cat "$rcf")
	rm -f "$rcf"
	if [ "$rc" != 0 ]; then
		note "$name failed (exit $rc)"
		FAILED="$FAILED $name"
	fi
}

# The median of each NAME PHASE over the rounds (peer.h's choice: the
# middle one of the sorted values, the upper one of two).
medians() {
	awk '{ k = $1 " " $2; if (!(k in n)) o[++no] = k; v[k, ++n[k]] = $3 }
	END {
		for (i = 1; i <= no; i++) {
			k = o[i]
			for (a = 1; a <= n[k]; a++)
				for (b = a + 1; b <= n[k]; b++)
					if (v[k, b] + 0 < v[k, a] + 0) {
						t = v[k, a]; v[k, a] = v[k, b]
						v[k, b] = t
					}
			print k, v[k, int(n[k] / 2) + 1]
		}
	}' "$1"
}

RAW=$(mktemp)
RUN_OUT=$RAW
if [ -x "$PEER_DIR/lmdb" ] || ! want lmdb; then :; else
	note "lmdb skipped: liblmdb-dev is not installed"
fi
r=0
while [ $r -lt "$BENCH_RUNS" ]; do
	r=$((r + 1))
	note "round $r/$BENCH_RUNS: protets, plain, lmdb"
	if want protets; then
		run protets "$BENCH" -n "$BENCH_N" -r 1 -d "$PROTETSD"
	fi
	if want plain; then
		run plain "$PEER_DIR/plain" -n "$BENCH_N" -r 1
	fi
	if want lmdb && [ -x "$PEER_DIR/lmdb" ]; then
		# tmpfs, MDB_NOSYNC | MDB_WRITEMAP | MDB_NOMETASYNC (lmdb.c).
		run lmdb "$PEER_DIR/lmdb" -n "$BENCH_N" -r 1 /dev/shm
	fi
done >/dev/null
RUN_OUT=$BENCH_OUT
medians "$RAW" | tee -a "$BENCH_OUT"
rm -f "$RAW"

if want ets; then
	if command -v escript >/dev/null 2>&1; then
		run ets escript "$HERE/peers/ets.escript" -n "$BENCH_N" \
		    -r "$BENCH_RUNS"
	else
		note "ets skipped: erlang-base is not installed"
	fi
fi

# Redis: a private server on a Unix socket in a temporary directory, no
# persistence; unpinned, then server and client on CPU 0, then the server
# on CPU 0 and the client on CPU 1.
redis_up() {
	REDIS_DIR=$(mktemp -d /tmp/protets-bench-redis.XXXXXX)
	redis-server --port 0 --unixsocket "$REDIS_DIR/sock" \
	    --unixsocketperm 700 --save '' --appendonly no \
	    --daemonize no --dir "$REDIS_DIR" \
	    --logfile "$REDIS_DIR/log" >/dev/null 2>&1 &
	REDIS_PID=$!
	i=0
	while [ ! -S "$REDIS_DIR/sock" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$REDIS_PID" 2>/dev/null; then
			note "redis-server did not start (see $REDIS_DIR/log)"
			return 1
		fi
		sleep 0.1
	done
}

if want redis; then
	if [ ! -x "$PEER_DIR/redis" ]; then
		note "redis skipped: libhiredis-dev is not installed"
	elif ! command -v redis-server >/dev/null 2>&1; then
		note "redis skipped: redis-server is not installed"
	elif ! redis_up; then
		FAILED="$FAILED redis"
	else
		R="$PEER_DIR/redis -n $BENCH_REDIS_N -r $BENCH_RUNS $REDIS_DIR/sock"
		run redis $R redis
		if command -v taskset >/dev/null 2>&1 &&
		    [ "$(nproc)" -ge 2 ]; then
			taskset -apc 0 "$REDIS_PID" >/dev/null
			run redis_samecpu taskset -c 0 $R redis_samecpu
			run redis_crosscpu taskset -c 1 $R redis_crosscpu
		fi
		cleanup
		REDIS_PID= REDIS_DIR=
	fi
fi

# Python (issue 17): one Python process through the protets package,
# beside a dict, Manager().dict() and redis-py (bench/python.py; those
# two on BENCH_REDIS_N keys: a round trip per operation).
if want python; then
	if [ ! -f "$PY_LIB/protets/__init__.py" ]; then
		note "python skipped: the package is not built (make python)"
	else
		run python env PYTHONPATH="$PY_LIB" "$PYTHON" "$HERE/python.py" \
		    -n "$BENCH_N" -r "$BENCH_RUNS" -d "$PROTETSD" \
		    -m "$BENCH_REDIS_N" --redis-n "$BENCH_REDIS_N"
	fi
fi

sh "$HERE/compare.sh" "$BENCH_OUT" >"$TABLE"
note "results: $BENCH_OUT, tables: $TABLE"
cat "$TABLE" >&2
if [ -n "$FAILED" ]; then
	note "failed:$FAILED"
	exit 1
fi
