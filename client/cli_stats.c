/*
 * cli_stats.c - protets stats and metrics: the daemon's and the tables'
 * statistics (protets_daemon_stats_get, protets_stats_get), as "key:
 * value" lines for humans, or in the Prometheus text format (metrics.c).
 *
 * Exit status as the other commands (cli_fail): 0, 1 no such table, 2 a
 * bad operand, 3 daemon unreachable, 4 permission denied, 5 other errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_stats.h"
#include "escape.h"
#include "metrics.h"

/* "2026-12-07 11:00:00.123 UTC", or "never" for 0. */
static const char *
cs_time(uint64_t ms, char *buf, size_t sz)
{
	struct tm	tm;
	time_t		s = (time_t)(ms / 1000);

	if (ms == 0 || gmtime_r(&s, &tm) == NULL)
		return "never";
	snprintf(buf, sz, "%04d-%02d-%02d %02d:%02d:%02d.%03u UTC",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
	return buf;
}

static int
cs_table(protets_t *p, const char *name)
{
	protets_stats	 s;
	char		 nb[4 * PROTETS_NAME_MAX + 1], tb[64];
	int		 rc;

	if ((rc = protets_stats_get(p, name, &s)) != 0)
		return cli_fail(escape_line(name, nb, sizeof(nb)), rc);
	printf("name: %s\n", escape_line(s.info.name, nb, sizeof(nb)));
	printf("type: %s\n", protets_type_name(s.info.type));
	printf("entries: %llu\n", (unsigned long long)s.info.entries);
	printf("bytes_used: %llu\n", (unsigned long long)s.info.bytes_used);
	printf("bytes_size: %llu\n", (unsigned long long)s.info.bytes_size);
	printf("inserts: %llu\n", (unsigned long long)s.inserts);
	printf("deletes: %llu\n", (unsigned long long)s.deletes);
	printf("lookup_hits: %llu\n", (unsigned long long)s.lookup_hits);
	printf("lookup_misses: %llu\n", (unsigned long long)s.lookup_misses);
	printf("counter_updates: %llu\n",
	    (unsigned long long)s.counter_updates);
	printf("efull: %llu\n", (unsigned long long)s.efull);
	printf("lock_waits: %llu\n", (unsigned long long)s.lock_waits);
	printf("lock_timeouts: %llu\n", (unsigned long long)s.lock_timeouts);
	printf("recoveries: %llu\n", (unsigned long long)s.recoveries);
	printf("rollbacks: %llu\n", (unsigned long long)s.rollbacks);
	printf("last_recovery: %s\n", cs_time(s.last_recovery_ms, tb,
	    sizeof(tb)));
	printf("last_recovery_pid: %d\n", (int)s.last_recovery_pid);
	return 0;
}

/* "get=3 info=1": the non-zero counts of v, named by name(i). */
static void
cs_kinds(const char *key, const uint64_t *v, unsigned n,
    const char *(*name)(unsigned))
{
	unsigned	i, any = 0;

	printf("%s:", key);
	for (i = 0; i < n; i++)
		if (v[i] != 0 && name(i) != NULL) {
			printf(" %s=%llu", name(i), (unsigned long long)v[i]);
			any = 1;
		}
	printf("%s\n", any ? "" : " none");
}

static int
cs_daemon(protets_t *p)
{
	protets_daemon_stats	 d;
	char			 tb[64];
	int			 rc;

	if ((rc = protets_daemon_stats_get(p, &d)) != 0)
		return cli_fail("stats", rc);
	printf("uptime_s: %llu\n", (unsigned long long)(d.uptime_ms / 1000));
	printf("worker_restarts: %llu\n",
	    (unsigned long long)d.worker_restarts);
	printf("monitor_restarts: %llu\n",
	    (unsigned long long)d.monitor_restarts);
	printf("handoffs: %llu\n", (unsigned long long)d.handoffs);
	printf("handoff_segments: %llu\n",
	    (unsigned long long)d.handoff_segments);
	printf("connections: %llu\n", (unsigned long long)d.connections);
	cs_kinds("requests", d.requests, PROTETS_STATS_REQUESTS,
	    metrics_req_name);
	cs_kinds("errors", d.errors, PROTETS_STATS_ERRORS, metrics_err_name);
	printf("snapshots: %llu\n", (unsigned long long)d.snapshots);
	printf("snapshot_tables_saved: %llu\n",
	    (unsigned long long)d.snapshot_saved);
	printf("snapshot_tables_failed: %llu\n",
	    (unsigned long long)d.snapshot_failed);
	printf("snapshot_last: %s\n", cs_time(d.snapshot_last_time, tb,
	    sizeof(tb)));
	printf("snapshot_last_ms: %llu\n",
	    (unsigned long long)d.snapshot_last_ms);
	return 0;
}

void
cli_stats_check(int argc, char **argv)
{
	(void)argv;
	if (argc > 2) {
		fprintf(stderr, "protets: stats takes [NAME]; too many given "
		    "(protets --help for usage)\n");
		exit(2);
	}
}

int
cli_stats(protets_t *p, int argc, char **argv)
{
	return argc == 2 ? cs_table(p, argv[1]) : cs_daemon(p);
}

int
cli_metrics(protets_t *p, int argc, char **argv)
{
	int	rc;

	(void)argc;
	(void)argv;
	if ((rc = metrics_write(p, stdout)) != 0)
		return cli_fail("metrics", rc);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "protets: metrics: %s\n", strerror(errno));
		return 5;
	}
	return 0;
}
