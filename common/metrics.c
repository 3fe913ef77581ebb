/*
 * metrics.c - see metrics.h.
 *
 * The daemon's counts come from one DSTATS request, the tables' from LIST
 * and one STATS request each (served by the table's worker).  Every family
 * gets its HELP and TYPE lines once, its samples after: the format wants a
 * family's samples together.  Label values escape backslash, double quote
 * and newline as the format says, and any byte that is not printable
 * ASCII as the text \xHH (a table name may hold any byte but NUL and '/').
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "wire.h"

/* Requests by op (common/wire.h, enum wire_op), 0: unknown. */
static const char *const mt_reqs[] = {
	"unknown", "get", "drop", "info", "list", "procs", "repair",
	"setaccess", "resize", "holders", "stats", "dstats"
};
_Static_assert(sizeof(mt_reqs) / sizeof(mt_reqs[0]) == WIRE_OP_MAX + 1,
    "a name for every request");

static const char *const mt_errs[] = {
	"notfound", "exists", "einval", "eacces", "efull", "etoobig",
	"ecorrupt", "eformat", "eproto", "eversion", "econnect", "ebusy",
	"erange", "elimit", "eagain", "edaemon", "elocked", "efile",
	"emismatch", "estale"
};
_Static_assert(sizeof(mt_errs) / sizeof(mt_errs[0]) ==
    PROTETS_ERRMAX - PROTETS_ERRMIN + 1, "a name for every error code");

const char *
metrics_req_name(unsigned i)
{
	return i < sizeof(mt_reqs) / sizeof(mt_reqs[0]) ? mt_reqs[i] : NULL;
}

const char *
metrics_err_name(unsigned i)
{
	if (i == PROTETS_STATS_ERRORS - 1)
		return "system";
	return i < sizeof(mt_errs) / sizeof(mt_errs[0]) ? mt_errs[i] : NULL;
}

/* The tables, as LIST gave them, then their stats. */
struct mt_tables {
	protets_stats	*v;
	size_t		 n, cap;
};

static int
mt_add(const protets_info *in, void *arg)
{
	struct mt_tables	*ts = arg;
	protets_stats		*nv;

	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? 2 * ts->cap : 16;
		if ((nv = reallocarray(ts->v, ts->cap, sizeof(*nv))) == NULL)
			return ENOMEM;
		ts->v = nv;
	}
	memset(&ts->v[ts->n], 0, sizeof(ts->v[0]));
	ts->v[ts->n++].info = *in;
	return 0;
}

/* Bytes of the valid UTF-8 sequence at p (not a control), 0: none. */
static size_t
mt_utf8(const unsigned char *p)
{
	size_t	n, i;

	if (*p >= 0x20 && *p < 0x7f)
		return 1;
	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* overlong, surrogates, past U+10FFFF */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/*
 * A table name as a label value, one to one: valid UTF-8 as it is, '"'
 * and a newline as the format escapes them; a backslash as two
 * backslashes, and any other byte (a control, invalid UTF-8) as a
 * backslash, 'x' and two hex digits.  So a name holding the text "\xc3"
 * and one holding the byte 0xc3 are two series, not one.
 */
static void
mt_label(FILE *f, const char *s)
{
	const unsigned char	*p;
	size_t			 n;

	for (p = (const unsigned char *)s; *p != '\0'; p += n) {
		n = 1;
		if (*p == '\\')
			fputs("\\\\\\\\", f);
		else if (*p == '"')
			fputs("\\\"", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else if ((n = mt_utf8(p)) != 0)
			fwrite(p, 1, n, f);
		else {
			fprintf(f, "\\\\x%02x", *p);
			n = 1;
		}
	}
}

static void
mt_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample of name for each table; field: an offset in protets_stats. */
enum mt_kind { MT_U64, MT_SECONDS_MS, MT_PID };

struct mt_tmetric {
	const char	*name;
	const char	*type;
	const char	*help;
	size_t		 off;
	enum mt_kind	 kind;
};

#define MT_F(f)		offsetof(protets_stats, f)
static const struct mt_tmetric mt_tmetrics[] = {
	{ "protets_table_inserts_total", "counter", "Entries inserted.",
	    MT_F(inserts), MT_U64 },
	{ "protets_table_deletes_total", "counter",
	    "Deletes that succeeded (select_delete: entries).",
	    MT_F(deletes), MT_U64 },
	{ "protets_table_lookup_hits_total", "counter",
	    "Lookups that found the key.", MT_F(lookup_hits), MT_U64 },
	{ "protets_table_lookup_misses_total", "counter",
	    "Lookups that did not find the key.", MT_F(lookup_misses),
	    MT_U64 },
	{ "protets_table_counter_updates_total", "counter",
	    "update_counter calls that succeeded.", MT_F(counter_updates),
	    MT_U64 },
	{ "protets_table_efull_total", "counter",
	    "Writes refused because the table was full.", MT_F(efull),
	    MT_U64 },
	{ "protets_table_lock_waits_total", "counter",
	    "Writers that found the write lock held.", MT_F(lock_waits),
	    MT_U64 },
	{ "protets_table_lock_timeouts_total", "counter",
	    "Writers that gave up waiting for the lock.",
	    MT_F(lock_timeouts), MT_U64 },
	{ "protets_table_recoveries_total", "counter",
	    "Write locks taken over from a dead holder.", MT_F(recoveries),
	    MT_U64 },
	{ "protets_table_rollbacks_total", "counter",
	    "Half-done writes of a dead holder undone.", MT_F(rollbacks),
	    MT_U64 },
	{ "protets_table_last_recovery_timestamp_seconds", "gauge",
	    "When the last dead holder was taken over (0: never).",
	    MT_F(last_recovery_ms), MT_SECONDS_MS },
	{ "protets_table_last_recovery_pid", "gauge",
	    "The pid of the last dead holder taken over (0: none).",
	    MT_F(last_recovery_pid), MT_PID },
	{ "protets_table_entries", "gauge", "Entries in the table.",
	    MT_F(info.entries), MT_U64 },
	{ "protets_table_bytes_used", "gauge",
	    "Bytes allocated to entries and index.", MT_F(info.bytes_used),
	    MT_U64 },
	{ "protets_table_bytes_size", "gauge",
	    "The table's segment size, its maximum.", MT_F(info.bytes_size),
	    MT_U64 },
};

static void
mt_tables(FILE *f, const struct mt_tables *ts)
{
	const struct mt_tmetric	*m;
	const unsigned char	*b;
	size_t			 i, k;
	uint64_t		 v;

	for (k = 0; k < sizeof(mt_tmetrics) / sizeof(mt_tmetrics[0]); k++) {
		m = &mt_tmetrics[k];
		mt_family(f, m->name, m->type, m->help);
		for (i = 0; i < ts->n; i++) {
			b = (const unsigned char *)&ts->v[i] + m->off;
			if (m->kind == MT_PID) {
				pid_t	pid;

				memcpy(&pid, b, sizeof(pid));
				v = (uint64_t)pid;
			} else
				memcpy(&v, b, sizeof(v));
			fprintf(f, "%s{table=\"", m->name);
			mt_label(f, ts->v[i].info.name);
			if (m->kind == MT_SECONDS_MS)
				fprintf(f, "\"} %llu.%03llu\n",
				    (unsigned long long)(v / 1000),
				    (unsigned long long)(v % 1000));
			else
				fprintf(f, "\"} %llu\n", (unsigned long long)v);
		}
	}
}

static void
mt_one(FILE *f, const char *name, const char *type, const char *help,
    uint64_t v)
{
	mt_family(f, name, type, help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void
mt_daemon(FILE *f, const protets_daemon_stats *d)
{
	unsigned	i;

	mt_one(f, "protets_worker_restarts_total", "counter",
	    "Workers restarted after they died.", d->worker_restarts);
	mt_one(f, "protets_monitor_restarts_total", "counter",
	    "Monitors restarted after they died.", d->monitor_restarts);
	mt_one(f, "protets_handoffs_total", "counter",
	    "Restarted workers given their tables by the monitor.",
	    d->handoffs);
	mt_one(f, "protets_handoff_segments_total", "counter",
	    "Tables so handed.", d->handoff_segments);
	mt_one(f, "protets_connections_total", "counter",
	    "Client connections accepted.", d->connections);
	mt_one(f, "protets_snapshots_total", "counter",
	    "Snapshots begun.", d->snapshots);
	mt_one(f, "protets_snapshot_tables_saved_total", "counter",
	    "Tables written by snapshots.", d->snapshot_saved);
	mt_one(f, "protets_snapshot_tables_failed_total", "counter",
	    "Tables a snapshot could not save.", d->snapshot_failed);
	mt_family(f, "protets_snapshot_last_duration_seconds", "gauge",
	    "How long the last snapshot took.");
	fprintf(f, "protets_snapshot_last_duration_seconds %llu.%03llu\n",
	    (unsigned long long)(d->snapshot_last_ms / 1000),
	    (unsigned long long)(d->snapshot_last_ms % 1000));
	mt_family(f, "protets_snapshot_last_timestamp_seconds", "gauge",
	    "When the last snapshot ended (0: none yet).");
	fprintf(f, "protets_snapshot_last_timestamp_seconds %llu.%03llu\n",
	    (unsigned long long)(d->snapshot_last_time / 1000),
	    (unsigned long long)(d->snapshot_last_time % 1000));
	mt_family(f, "protets_uptime_seconds", "gauge",
	    "Since protetsd started (an upgrade starts it again).");
	fprintf(f, "protets_uptime_seconds %llu.%03llu\n",
	    (unsigned long long)(d->uptime_ms / 1000),
	    (unsigned long long)(d->uptime_ms % 1000));
	mt_family(f, "protets_requests_total", "counter",
	    "Requests answered, by kind.");
	for (i = 0; i < PROTETS_STATS_REQUESTS; i++)
		if (metrics_req_name(i) != NULL)
			fprintf(f, "protets_requests_total{request=\"%s\"} "
			    "%llu\n", metrics_req_name(i),
			    (unsigned long long)d->requests[i]);
	mt_family(f, "protets_errors_total", "counter",
	    "Requests answered with an error, by error.");
	for (i = 0; i < PROTETS_STATS_ERRORS; i++)
		if (metrics_err_name(i) != NULL)
			fprintf(f, "protets_errors_total{error=\"%s\"} %llu\n",
			    metrics_err_name(i),
			    (unsigned long long)d->errors[i]);
}

int
metrics_write(protets_t *p, FILE *f)
{
	protets_daemon_stats	 d;
	struct mt_tables	 ts = { NULL, 0, 0 };
	char			 name[PROTETS_NAME_MAX + 1];
	size_t			 i, j;
	int			 rc;

	if ((rc = protets_daemon_stats_get(p, &d)) != 0 ||
	    (rc = protets_list(p, mt_add, &ts)) != 0) {
		free(ts.v);
		return rc;
	}
	for (i = j = 0; i < ts.n; i++) {
		memcpy(name, ts.v[i].info.name, sizeof(name));
		if ((rc = protets_stats_get(p, name, &ts.v[j])) == 0)
			j++;
		else if (rc != PROTETS_NOTFOUND && rc != PROTETS_EACCES) {
			free(ts.v);	/* not dropped, not made private */
			return rc;
		}
	}
	ts.n = j;
	mt_daemon(f, &d);
	mt_tables(f, &ts);
	free(ts.v);
	return 0;
}
