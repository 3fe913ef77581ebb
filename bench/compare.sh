#!/bin/sh
# compare.sh - the README's tables from benchmark result lines.
#
#   sh bench/compare.sh [RESULTS...]	(stdin when no file is given)
#
# Reads "NAME PHASE VALUE" lines (protets, plain, ets, ets_ordered_set,
# lmdb, redis, redis_samecpu, redis_crosscpu, py_protets, py_dict,
# py_manager, py_redis; other lines are ignored) and prints three Markdown
# tables: the phases side by side, in operations per second, the targets
# of issue 4, each with its measured ratio and "met" or "MISSED" ("n/a"
# when a figure is absent: that peer or phase did not run), and the
# Python phase with the targets of issue 17.
#
# The raw key+value bytes of an entry are 14 + 32 = 46.
awk '
function fmt(v) {
	if (v == "") return "—"
	if (v >= 1e6) return sprintf("%.2f M", v / 1e6)
	if (v >= 1e3) return sprintf("%.0f k", v / 1e3)
	return sprintf("%.0f", v)
}
NF == 3 && $3 ~ /^[0-9.]+$/ { r[$1, $2] = $3; seen[$1] = 1 }
# One target: "protets PHASE >= K x OTHER PHASE2".
function ratio(desc, ph, k, other, ph2, self,    a, b, q) {
	a = r[self == "" ? "protets" : self, ph]; b = r[other, ph2]
	if (a == "" || b == "" || b == 0) {
		printf("| %s | ≥ %.1f× | n/a | n/a |\n", desc, k)
		return
	}
	q = a / b
	printf("| %s | ≥ %.1f× | %.2f× | %s |\n", desc, k, q,
	    q >= k ? "met" : "MISSED")
}
END {
	np = split("insert lookup_hit lookup_miss counter lookup_hit_2proc " \
	    "delete ordered_set_insert ordered_set_lookup_hit " \
	    "ordered_set_lookup_miss ordered_set_scan ordered_set_counter " \
	    "ordered_set_lookup_hit_2proc ordered_set_delete " \
	    "ordered_set_insert_random ordered_set_delete_random bag_insert " \
	    "bag_lookup_hit lookup_hit_readonly lookup_miss_readonly", P)
	nc = 0
	split("protets plain ets ets_ordered_set lmdb redis redis_samecpu " \
	    "redis_crosscpu", all)
	for (i = 1; i <= 8; i++)
		if (all[i] in seen) C[++nc] = all[i]
	line = "| phase |"; sep = "|---|"
	for (i = 1; i <= nc; i++) {
		line = line " " C[i] " |"; sep = sep "---:|"
	}
	print line; print sep
	for (j = 1; j <= np; j++) {
		ph = P[j]; line = "| " ph " |"; any = 0
		for (i = 1; i <= nc; i++) {
			v = r[C[i], ph]
			# ETS ordered_set rows: its phases of the same name.
			if (C[i] == "ets_ordered_set") {
				v = ""
				if (ph ~ /^ordered_set_/)
					v = r[C[i], substr(ph, 13)]
			}
			if (v != "") any = 1
			line = line " " fmt(v) " |"
		}
		if (any) print line
	}
	# protets-only rows: the other columns stay empty.
	pad = ""
	for (i = 2; i <= nc; i++) pad = pad " |"
	if (r["protets", "bytes_per_entry"] != "")
		printf("| bytes per entry | %.1f (%.2f× the 46 raw) |%s\n",
		    r["protets", "bytes_per_entry"],
		    r["protets", "bytes_per_entry"] / 46, pad)
	if (r["protets", "ordered_set_bytes_per_entry"] != "")
		printf("| ordered_set bytes per entry | %.1f (%.2f× the 46 raw) " \
		    "|%s\n", r["protets", "ordered_set_bytes_per_entry"],
		    r["protets", "ordered_set_bytes_per_entry"] / 46, pad)
	if (r["protets", "recovery_ms_p99"] != "")
		printf("| recovery_ms | p50 %s, p99 %s |%s\n",
		    r["protets", "recovery_ms_p50"],
		    r["protets", "recovery_ms_p99"], pad)
	# Two writers at once (bench.c, bench_write_concurrency): the
	# aggregate, against one process, and the ceiling of the machine.
	if (r["protets", "wc1_counter_2proc"] != "") {
		print ""
		print "| two writers at once | insert | counter |"
		print "|---|---:|---:|"
		printf("| one process alone (insert, counter) | %s | %s |\n",
		    fmt(r["protets", "insert"]), fmt(r["protets", "counter"]))
		if (r["protets", "wc16_counter_1proc"] != "")
			printf("| one process alone, write_concurrency 16 " \
			    "| %s | %s |\n",
			    fmt(r["protets", "wc16_insert_1proc"]),
			    fmt(r["protets", "wc16_counter_1proc"]))
		split("wc1 wc16 wc0", W)
		split("one table, write_concurrency 1|one table, " \
		    "write_concurrency 16|two tables, one each", D, "|")
		for (i = 1; i <= 3; i++)
			printf("| two processes, %s | %s | %s |\n", D[i],
			    fmt(r["protets", W[i] "_insert_2proc"]),
			    fmt(r["protets", W[i] "_counter_2proc"]))
		if (r["protets", "cpu_1proc"] > 0)
			printf("| CPU alone (xorshift64), two processes / one " \
			    "| %.2f× | |\n",
			    r["protets", "cpu_2proc"] / r["protets", "cpu_1proc"])
	}
	print ""
	print "| target (issue 4) | wanted | measured | |"
	print "|---|---:|---:|---|"
	ratio("lookup_hit vs plain", "lookup_hit", 0.8, "plain", "lookup_hit")
	ratio("lookup_hit vs ETS", "lookup_hit", 3, "ets", "lookup_hit")
	ratio("lookup_hit vs LMDB", "lookup_hit", 2, "lmdb", "lookup_hit")
	ratio("lookup_hit_2proc vs own lookup_hit", "lookup_hit_2proc", 1.9,
	    "protets", "lookup_hit")
	ratio("insert vs ETS", "insert", 2, "ets", "insert")
	ratio("insert vs LMDB", "insert", 1.5, "lmdb", "insert")
	ratio("delete vs LMDB", "delete", 4, "lmdb", "delete")
	ratio("counter vs ETS", "counter", 1.5, "ets", "counter")
	ratio("ordered_set lookup_hit vs ETS ordered_set",
	    "ordered_set_lookup_hit", 3, "ets_ordered_set", "lookup_hit")
	m = r["protets", "bytes_per_entry"]
	if (m == "")
		print "| memory vs raw 46 bytes | ≤ 2.0× | n/a | n/a |"
	else
		printf("| memory vs raw 46 bytes | ≤ 2.0× | %.2f× | %s |\n",
		    m / 46, m / 46 <= 2 ? "met" : "MISSED")
	m = r["protets", "recovery_ms_p99"]
	if (m == "")
		print "| recovery_ms p99 | < 10 ms | n/a | n/a |"
	else
		printf("| recovery_ms p99 | < 10 ms | %s ms | %s |\n", m,
		    m < 10 ? "met" : "MISSED")
	if (!seen["py_protets"])
		exit
	print ""
	print "| Python, one process | protets | dict | Manager().dict() | redis-py |"
	print "|---|---:|---:|---:|---:|"
	split("insert lookup_hit lookup_miss counter", Q)
	for (i = 1; i <= 4; i++)
		printf("| %s | %s | %s | %s | %s |\n", Q[i],
		    fmt(r["py_protets", Q[i]]), fmt(r["py_dict", Q[i]]),
		    fmt(r["py_manager", Q[i]]), fmt(r["py_redis", Q[i]]))
	print ""
	print "| target (issue 17) | wanted | measured | |"
	print "|---|---:|---:|---|"
	m = r["py_protets", "lookup_hit"]
	printf("| Python lookup_hit | ≥ 1.5 M/s | %s | %s |\n", fmt(m),
	    m >= 1500000 ? "met" : "MISSED")
	ratio("Python lookup_hit vs Manager().dict()", "lookup_hit", 50,
	    "py_manager", "lookup_hit", "py_protets")
	ratio("Python insert vs Manager().dict()", "insert", 50,
	    "py_manager", "insert", "py_protets")
}' "$@"
