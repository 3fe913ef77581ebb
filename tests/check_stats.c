/*
 * check_stats.c - statistics (issue 18, items 6 and 7): a table's
 * operation counts as the library folds them into its segment (exact
 * after protets_close, behind by less than TBL_TALLY_FOLD operations per
 * thread before), from many threads on one handle, on a sharded table,
 * from threads that ended (and their blocks reused), in forked children;
 * EFULL answers; the daemon's counts of restarts, handoffs, requests and
 * errors, snapshots; protets stats, and protets metrics parsed by a real
 * Prometheus text parser (Debian's python3-prometheus-client, through
 * tests/metrics_check.py), and failing; protets top in tmux, and the
 * terminal it gives back on every way out.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "layout.h"
#include "wire.h"
#include "testutil.h"

static struct td	d;
static char		cli[PATH_MAX];
static char		out[1 << 20];

static void
setup(void)
{
	td_start(&d, 2, "snapshot_interval = 1\nstate_dir = state", NULL);
	tu_bin("protets", cli, sizeof(cli));
}

static char	tmux_sock[64];
static int	tmux(const char *fmt, const char *arg);

static void
teardown(void)
{
	if (tmux_sock[0] != '\0')	/* a test's tmux server, if it failed */
		(void)tmux("kill-server%s", "");
	td_stop(&d);
}

static protets_stats
stats_of(protets_t *p, const char *name)
{
	protets_stats	s;

	ck_assert_int_eq(protets_stats_get(p, name, &s), 0);
	return s;
}

static uint64_t
ops_of(const protets_stats *s)
{
	return s->inserts + s->deletes + s->lookup_hits + s->lookup_misses +
	    s->counter_updates;
}

/*
 * One thread's counts: exact once the handle is closed; before, what the
 * folds at every 256th call carried (the batch of 10 is one call).
 */
START_TEST(test_table_counts)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = tu_get(p, "t", PROTETS_PUBLIC);
	protets_kv	 kv[10];
	protets_stats	 s;
	char		 k[32][10], key[32], buf[64];
	size_t		 n;
	int		 i;

	s = stats_of(p, "t");
	ck_assert_uint_eq(ops_of(&s), 0);
	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(protets_insert(t, key, strlen(key), "v", 1),
		    0);
	}
	for (i = 0; i < 10; i++) {
		snprintf(k[i], sizeof(k[i]), "b%d", i);
		kv[i] = (protets_kv){ k[i], strlen(k[i]), "w", 1 };
	}
	ck_assert_int_eq(protets_insert_many(t, kv, 10), 0);	/* call 301 */
	for (i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "k%d", i % 300);
		ck_assert_int_eq(protets_lookup(t, key, strlen(key), buf,
		    sizeof(buf), &n), 0);
	}
	for (i = 0; i < 200; i++)
		ck_assert_int_eq(protets_lookup(t, "nokey", 5, buf,
		    sizeof(buf), &n), PROTETS_NOTFOUND);
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(protets_update_counter(t, "c", 1, 1,
		    &(protets_counter_opts){ .has_default = 1 }, NULL), 0);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(protets_delete(t, key, strlen(key)), 0);
	}
	/* 1071 calls: folded at the 256th, ..., the 1024th */
	s = stats_of(p, "t");
	ck_assert_uint_eq(ops_of(&s), 1024 + 9);
	protets_close(t);
	s = stats_of(p, "t");
	ck_assert_uint_eq(s.inserts, 310);
	ck_assert_uint_eq(s.lookup_hits, 500);
	ck_assert_uint_eq(s.lookup_misses, 200);
	ck_assert_uint_eq(s.counter_updates, 50);
	ck_assert_uint_eq(s.deletes, 20);
	ck_assert_uint_eq(s.efull, 0);
	ck_assert_uint_eq(s.recoveries, 0);
	ck_assert_uint_eq(s.info.entries, 300 + 10 + 1 - 20);
	protets_disconnect(p);
}
END_TEST

#define NTHR	4
#define NLOOK	5000

struct thr {
	protets_table_t	*t;
	int		 own;	/* a handle of its own, or the shared one */
};

static void *
thr_main(void *arg)
{
	struct thr	*a = arg;
	char		 key[32], buf[64];
	size_t		 n;
	int		 i;

	for (i = 0; i < NLOOK; i++) {
		snprintf(key, sizeof(key), "k:%d", i % 100);
		if (protets_lookup(a->t, key, strlen(key), buf, sizeof(buf),
		    &n) != 0 || protets_insert(a->t, key, strlen(key), "v",
		    1) != 0)
			return (void *)1;
	}
	if (a->own)
		protets_close(a->t);
	return NULL;
}

/*
 * Threads counting on one shared handle and on handles of their own, on
 * a table of 4 shards: every operation in the figures once all handles
 * are closed.
 */
START_TEST(test_threads_shards)
{
	protets_opts	 o = { .type = PROTETS_SET, .access = PROTETS_PUBLIC,
			    .write_concurrency = 4 };
	protets_t	*p = td_connect(&d);
	protets_table_t	*shared;
	struct thr	 a[2 * NTHR];
	pthread_t	 th[2 * NTHR];
	protets_stats	 s;
	void		*rv;
	int		 i;

	ck_assert_int_eq(protets_get(p, "w", &o, &shared), 0);
	tu_fill(shared, "k", 100);
	for (i = 0; i < 2 * NTHR; i++) {
		a[i].own = i >= NTHR;
		a[i].t = shared;
		if (a[i].own)
			ck_assert_int_eq(protets_open(p, "w", &a[i].t), 0);
		ck_assert_int_eq(pthread_create(&th[i], NULL, thr_main, &a[i]),
		    0);
	}
	for (i = 0; i < 2 * NTHR; i++) {
		ck_assert_int_eq(pthread_join(th[i], &rv), 0);
		ck_assert_ptr_null(rv);
	}
	protets_close(shared);
	s = stats_of(p, "w");
	ck_assert_uint_eq(s.lookup_hits, 2 * NTHR * NLOOK);
	ck_assert_uint_eq(s.inserts, 2 * NTHR * NLOOK + 100);
	ck_assert_uint_eq(s.info.write_concurrency, 4);
	protets_disconnect(p);
}
END_TEST

/*
 * A forked child's counts are its own: the parent's uncounted operations
 * are the parent's to add (at its close), not the child's, whether the
 * child only closes the handle or works on it first.
 */
START_TEST(test_fork_counts)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = tu_get(p, "fk", PROTETS_PUBLIC);
	protets_stats	 s;
	char		 key[32];
	pid_t		 pid;
	int		 i, st;

	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(protets_insert(t, key, strlen(key), "v", 1),
		    0);
	}
	for (i = 0; i < 11; i++) {
		ck_assert_int_ne(pid = fork(), -1);
		if (pid == 0) {
			/* the last child works: 5 inserts of its own */
			for (st = 0; i == 10 && st < 5; st++) {
				snprintf(key, sizeof(key), "c%d", st);
				if (protets_insert(t, key, strlen(key), "v",
				    1) != 0)
					_exit(1);
			}
			protets_close(t);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_int_eq(st, 0);
	}
	s = stats_of(p, "fk");
	ck_assert_uint_eq(s.inserts, 5);	/* the child's, at its close */
	protets_close(t);
	s = stats_of(p, "fk");
	ck_assert_uint_eq(s.inserts, 105);
	ck_assert_uint_eq(s.info.entries, 105);
	protets_disconnect(p);
}
END_TEST

#define NEND	2000

static void *
end_main(void *arg)
{
	protets_table_t	*t = arg;
	char		 buf[64];
	size_t		 n;
	int		 i;

	for (i = 0; i < 3; i++)
		if (protets_lookup(t, "k:0", 3, buf, sizeof(buf), &n) != 0)
			return (void *)1;
	return NULL;
}

/*
 * The counts of a thread that ended are in the figures once it is
 * joined, the handle still open; its block goes to the next thread: NEND
 * threads one after another leave the heap as it was (mallinfo2; under
 * ASan, whose allocator it does not see, only the counts are checked).
 */
START_TEST(test_thread_end)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = tu_get(p, "te", PROTETS_PUBLIC);
	protets_stats	 s;
	pthread_t	 th;
	size_t		 before;
	void		*rv;
	int		 i;

	tu_fill(t, "k", 1);
	ck_assert_int_eq(pthread_create(&th, NULL, end_main, t), 0);
	ck_assert_int_eq(pthread_join(th, &rv), 0);
	ck_assert_ptr_null(rv);
	s = stats_of(p, "te");
	ck_assert_uint_eq(s.lookup_hits, 3);
	before = mallinfo2().uordblks;
	for (i = 0; i < NEND; i++) {
		ck_assert_int_eq(pthread_create(&th, NULL, end_main, t), 0);
		ck_assert_int_eq(pthread_join(th, &rv), 0);
		ck_assert_ptr_null(rv);
	}
	ck_assert_msg(mallinfo2().uordblks < before + 16384, "%zu bytes more "
	    "on the heap after %d threads", mallinfo2().uordblks - before,
	    NEND);
	s = stats_of(p, "te");
	ck_assert_uint_eq(s.lookup_hits, 3 * (NEND + 1));
	protets_close(t);
	s = stats_of(p, "te");
	ck_assert_uint_eq(s.lookup_hits, 3 * (NEND + 1));
	protets_disconnect(p);
}
END_TEST

/* Every EFULL answer is counted, at once. */
START_TEST(test_efull)
{
	protets_opts	 o = { .type = PROTETS_SET, .access = PROTETS_PUBLIC,
			    .max_size = 64 << 10 };
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	protets_stats	 s;
	char		 key[32], val[512];
	int		 i, rc, full = 0;

	memset(val, 'x', sizeof(val));
	ck_assert_int_eq(protets_get(p, "small", &o, &t), 0);
	for (i = 0; i < 10000 && full < 3; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		rc = protets_insert(t, key, strlen(key), val, sizeof(val));
		ck_assert(rc == 0 || rc == PROTETS_EFULL);
		full += rc == PROTETS_EFULL;
	}
	ck_assert_int_eq(full, 3);
	s = stats_of(p, "small");
	ck_assert_uint_eq(s.efull, 3);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

static protets_daemon_stats
dstats(protets_t *p)
{
	protets_daemon_stats	ds;

	ck_assert_int_eq(protets_daemon_stats_get(p, &ds), 0);
	return ds;
}

/* Restarts, handoffs, requests and errors by kind, snapshots. */
START_TEST(test_daemon_counts)
{
	protets_daemon_stats	 a, b;
	protets_info		 in;
	protets_t		*p = td_connect(&d);
	protets_table_t		*t = tu_get(p, "d", PROTETS_PUBLIC);
	int			 i;

	protets_close(t);
	a = dstats(p);
	ck_assert_uint_eq(a.worker_restarts, 0);
	ck_assert_uint_eq(a.monitor_restarts, 0);
	ck_assert_uint_ge(a.connections, 1);
	ck_assert_uint_ge(a.requests[1], 1);	/* the GET */
	ck_assert_int_eq(protets_info_get(p, "nosuch", &in),
	    PROTETS_NOTFOUND);
	b = dstats(p);
	ck_assert_uint_eq(b.errors[PROTETS_ERRMAX - PROTETS_NOTFOUND],
	    a.errors[PROTETS_ERRMAX - PROTETS_NOTFOUND] + 1);
	ck_assert_uint_eq(b.requests[3], a.requests[3] + 1);	/* INFO */
	ck_assert_uint_eq(b.requests[11], a.requests[11] + 1);	/* DSTATS */
	td_kill(&d, "worker", td_table_worker(&d, "d"));
	td_kill(&d, "monitor", -1);
	protets_disconnect(p);
	p = td_connect(&d);
	b = dstats(p);
	ck_assert_uint_eq(b.worker_restarts, 1);
	ck_assert_uint_eq(b.monitor_restarts, 1);
	ck_assert_uint_eq(b.handoffs, 1);
	ck_assert_uint_eq(b.handoff_segments, 1);
	ck_assert_uint_gt(b.connections, a.connections);
	/* snapshot_interval = 1: wait for one to end */
	for (i = 0; i < 10000 && b.snapshot_last_time == 0; i++) {
		tu_msleep(2);
		b = dstats(p);
	}
	ck_assert_uint_ge(b.snapshots, 1);
	ck_assert_uint_gt(b.snapshot_last_time, 0);
	ck_assert_uint_ge(b.snapshot_saved, 1);
	ck_assert_uint_eq(b.snapshot_failed, 0);
	protets_disconnect(p);
}
END_TEST

/* protets stats: "key: value" lines; its usage and not-found errors. */
START_TEST(test_cli_stats)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = tu_get(p, "c", PROTETS_PUBLIC);

	tu_fill(t, "k", 7);
	protets_close(t);
	protets_disconnect(p);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s stats c", cli,
	    d.sock), 0);
	ck_assert_ptr_nonnull(strstr(out, "name: c\n"));
	ck_assert_ptr_nonnull(strstr(out, "\ninserts: 7\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nentries: 7\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nlast_recovery: never\n"));
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s stats", cli,
	    d.sock), 0);
	ck_assert_ptr_nonnull(strstr(out, "worker_restarts: 0\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nrequests: get="));
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s stats nosuch "
	    "2>&1", cli, d.sock), 1);
	ck_assert_ptr_nonnull(strstr(out, "nosuch: no such key or table"));
	/* a name too long: exit 2, as every command's PROTETS_EINVAL */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s stats "
	    "\"$(printf %%0300d 0)\" 2>&1", cli, d.sock), 2);
	ck_assert_msg(strstr(out, "000: invalid argument") != NULL, "%s", out);
	/* a usage error, before any daemon is dialled */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s /nonexistent stats "
	    "a b 2>&1", cli), 2);
	ck_assert_str_eq(out, "protets: stats takes [NAME]; too many given "
	    "(protets --help for usage)\n");
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s /nonexistent metrics "
	    "x 2>&1", cli), 2);
}
END_TEST

/* Read exactly n bytes; 0 on success. */
static int
read_full(int fd, void *b, size_t n)
{
	ssize_t	r;

	while (n > 0) {
		if ((r = read(fd, b, n)) <= 0)
			return -1;
		b = (char *)b + r;
		n -= (size_t)r;
	}
	return 0;
}

/* Copy one message (header, payload) from fd to to; its op, or -1. */
static int
proxy_one(int from, int to, int stop_op)
{
	struct wire_hdr	 h;
	static char	 b[1 << 20];

	if (read_full(from, &h, sizeof(h)) != 0 || h.len > sizeof(b) ||
	    read_full(from, b, h.len) != 0)
		return -1;
	if (h.op == stop_op)
		return h.op;
	if (write(to, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    write(to, b, h.len) != (ssize_t)h.len)
		return -1;
	return h.op;
}

/*
 * A process between one client and the daemon, on socket path: it passes
 * requests and replies until a request of op stop_op, where it closes the
 * connection and its socket (the client finds no daemon then).
 */
static pid_t
proxy_start(const char *path, int stop_op)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	pid_t			 pid;
	int			 l, c, s, op;

	ck_assert_int_lt(strlcpy(sun.sun_path, path, sizeof(sun.sun_path)),
	    sizeof(sun.sun_path));
	ck_assert_int_ne(l = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid != 0) {
		close(l);
		return pid;
	}
	if ((c = accept(l, NULL, NULL)) == -1)
		_exit(1);
	strlcpy(sun.sun_path, d.sock, sizeof(sun.sun_path));
	if ((s = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		_exit(1);
	while ((op = proxy_one(c, s, stop_op)) > 0 && op != stop_op &&
	    proxy_one(s, c, -1) > 0)
		;
	unlink(path);
	_exit(0);
}

/*
 * protets metrics fails when a table's stats fail for another reason
 * than its drop: here the daemon gone at the first STATS (exit 3), not
 * metrics without that table.
 */
START_TEST(test_metrics_fails)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = tu_get(p, "m", PROTETS_PUBLIC);
	char		 path[PATH_MAX + 16];
	pid_t		 pid;
	int		 st;

	protets_close(t);
	protets_disconnect(p);
	snprintf(path, sizeof(path), "%s/proxy.sock", d.dir);
	pid = proxy_start(path, WIRE_STATS);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "PROTETS_CONNECT_TIMEOUT_MS="
	    "100 %s -s %s metrics 2>&1 >/dev/null", cli, path), 3);
	ck_assert_msg(strstr(out, "protets: metrics: daemon unreachable") !=
	    NULL, "%s", out);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(st, 0);
	/* a table dropped meanwhile is left out: the command succeeds */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s metrics 2>&1 | "
	    "grep -c '^protets_table_entries{table=\"m\"} 0'", cli, d.sock), 0);
	ck_assert_str_eq(out, "1\n");
}
END_TEST

/*
 * protets metrics, parsed by prometheus_client's parser: every family,
 * the figures of a table whose name needs escaping.
 */
START_TEST(test_metrics_parsed)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = tu_get(p, "we\"ird\\name", PROTETS_PUBLIC);
	char		 key[16], buf[16];
	size_t		 n;
	int		 i;

	tu_fill(t, "k", 12);
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k:%d", i);
		ck_assert_int_eq(protets_lookup(t, key, strlen(key), buf,
		    sizeof(buf), &n), 0);
	}
	ck_assert_int_eq(protets_lookup(t, "no", 2, buf, sizeof(buf), &n),
	    PROTETS_NOTFOUND);
	protets_close(t);
	/* the text "\xc3" and the byte 0xc3: two series (not one, twice) */
	t = tu_get(p, "x\\xc3", PROTETS_PUBLIC);
	tu_fill(t, "k", 2);
	protets_close(t);
	t = tu_get(p, "x\xc3", PROTETS_PUBLIC);
	tu_fill(t, "k", 3);
	protets_close(t);
	protets_disconnect(p);
	/* a backslash is two in the label, a byte not UTF-8 \xHH */
	ck_assert_msg(tu_sh(out, sizeof(out), "%s -s %s metrics | "
	    "/usr/bin/python3 tests/metrics_check.py "
	    "'protets_table_inserts_total{table=we\"ird\\\\name}=12' "
	    "'protets_table_lookup_hits_total{table=we\"ird\\\\name}=5' "
	    "'protets_table_lookup_misses_total{table=we\"ird\\\\name}=1' "
	    "'protets_table_entries{table=we\"ird\\\\name}=12' "
	    "'protets_table_entries{table=x\\\\xc3}=2' "
	    "'protets_table_entries{table=x\\xc3}=3' "
	    "'protets_worker_restarts_total=0' "
	    "'protets_errors_total{error=system}' 2>&1", cli, d.sock) == 0,
	    "metrics_check: %s", out);
}
END_TEST

/* tmux on a server of this test's own (-L), in an 80x24 terminal. */
static int
tmux(const char *fmt, const char *arg)
{
	char	cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), fmt, arg);
	return tu_sh(out, sizeof(out), "tmux -L %s %s 2>/dev/null", tmux_sock,
	    cmd);
}

/* Wait (10 s at most) until the pane shows each of the strings. */
static int
pane_shows(const char *a, const char *b)
{
	int	i;

	for (i = 0; i < 5000; i++) {
		if (tmux("capture-pane -p%s", "") == 0 &&
		    strstr(out, a) != NULL && (b == NULL ||
		    strstr(out, b) != NULL))
			return 1;
		tu_msleep(2);
	}
	return 0;
}

/*
 * Store rec_time into shard 0 of table name's tally, through this
 * process's own mapping of it (/proc/self/maps: the daemon names its
 * segments "protets:NAME").
 */
static void
forge_rec_time(const char *name, uint64_t rec_time)
{
	char		 line[512], want[300];
	unsigned long	 start = 0;
	FILE		*f;

	snprintf(want, sizeof(want), "/memfd:protets:%s (deleted)", name);
	ck_assert_ptr_nonnull(f = fopen("/proc/self/maps", "r"));
	while (start == 0 && fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, want) != NULL && strstr(line, " rw-s ") !=
		    NULL)
			start = strtoul(line, NULL, 16);
	fclose(f);
	ck_assert_msg(start != 0, "no writable mapping of %s", name);
	__atomic_store_n((uint64_t *)(start + TBL_TALLY_OFF +
	    offsetof(struct tbl_tally, rec_time)), rec_time, __ATOMIC_RELAXED);
}

/*
 * A writer killed holding the lock: the lock wait and time-out of the
 * writer that met it alive, the recovery by the next (its pid and time),
 * through protets_stats_get; then protets top in an 80x24 terminal
 * (tmux) shows the tables, the new entries, the recovery, no line past
 * the 80th column, and quits on q; a recovery time out of the calendar
 * (any writer may store one) shows as "?".
 */
START_TEST(test_recovery_top)
{
	protets_opts	 o = { .type = PROTETS_SET, .access = PROTETS_PUBLIC,
			    .max_size = 1 << 20 };
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	protets_stats	 s;
	char		 cmd[2 * PATH_MAX + 64], want[64], *line;
	char		 sockpath[PATH_MAX];
	pid_t		 pid;
	int		 i;

	ck_assert_int_eq(protets_get(p, "lk", &o, &t), 0);
	ck_assert_int_eq(protets_insert(t, "k", 1, "old", 3), 0);
	pid = tu_stopped_holder("lk");
	ck_assert_int_eq(protets_set_lock_timeout(t, 50), 0);
	ck_assert_int_eq(protets_insert(t, "k", 1, "x", 1), PROTETS_ELOCKED);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(protets_insert(t, "k", 1, "y", 1), 0);
	s = stats_of(p, "lk");
	ck_assert_uint_eq(s.lock_timeouts, 1);
	ck_assert_uint_ge(s.lock_waits, 1);
	ck_assert_uint_eq(s.recoveries, 1);
	ck_assert_uint_eq(s.rollbacks, 1);
	ck_assert_int_eq(s.last_recovery_pid, pid);
	ck_assert_uint_gt(s.last_recovery_ms, 0);

	snprintf(tmux_sock, sizeof(tmux_sock), "protets-top-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "new-session -d -x 80 -y 24 '%s -s %s top'",
	    cli, d.sock);
	ck_assert_int_eq(tmux("%s", cmd), 0);
	/* the server's socket, left behind when it exits: removed below */
	ck_assert_int_eq(tmux("display-message -p '#{socket_path}'%s", ""), 0);
	out[strcspn(out, "\n")] = '\0';
	strlcpy(sockpath, out, sizeof(sockpath));
	snprintf(want, sizeof(want), "pid %d  lk", (int)pid);
	ck_assert_msg(pane_shows("TABLE", want), "top shows: %s", out);
	/* entries written now show at a later refresh */
	for (i = 0; i < 41; i++) {
		char	key[16];

		snprintf(key, sizeof(key), "n%d", i);
		ck_assert_int_eq(protets_insert(t, key, strlen(key), "v", 1),
		    0);
	}
	ck_assert_msg(pane_shows("\nlk ", " 42 "), "top shows: %s", out);
	ck_assert_int_eq(tmux("capture-pane -p%s", ""), 0);
	for (line = strtok(out, "\n"), i = 0; line != NULL;
	    line = strtok(NULL, "\n"), i++)
		ck_assert_uint_le(strlen(line), 80);
	ck_assert_int_le(i, 24);
	ck_assert_int_eq(tmux("send-keys q%s", ""), 0);
	for (i = 0; i < 5000 && tmux("has-session%s", "") == 0; i++)
		tu_msleep(2);
	ck_assert_msg(i < 5000, "top did not quit on q");
	unlink(sockpath);
	/* a recovery time no calendar holds, as any writer may store it */
	forge_rec_time("lk", UINT64_MAX - 1);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s top -n 1", cli,
	    d.sock), 0);
	snprintf(want, sizeof(want), "\n  ?  pid %d  lk", (int)pid);
	ck_assert_msg(strstr(out, want) != NULL, "top -n 1: %s", out);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

/* The pane's terminal settings (stty -a) into out; 0 on success. */
static int
pane_stty(const char *tty)
{
	return tu_sh(out, sizeof(out), "stty -F %s -a 2>&1", tty);
}

/* Wait (10 s at most) until the pane's terminal is in top's mode, or not. */
static int
pane_raw(const char *tty, int raw)
{
	int	i;

	for (i = 0; i < 5000; i++) {
		if (pane_stty(tty) == 0 && (strstr(out, "-icanon") != NULL) ==
		    raw && (strstr(out, " -echo ") != NULL) == raw)
			return 1;
		tu_msleep(2);
	}
	return 0;
}

/* Wait (10 s at most) until process pid is stopped. */
static int
proc_stopped(pid_t pid)
{
	char	path[64], st[256], *p;
	FILE	*f;
	int	i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (i = 0; i < 5000; i++) {
		if ((f = fopen(path, "r")) != NULL) {
			st[0] = '\0';
			if (fgets(st, sizeof(st), f) == NULL)
				st[0] = '\0';
			fclose(f);
			if ((p = strrchr(st, ')')) != NULL && p[1] == ' ' &&
			    p[2] == 'T')
				return 1;
		}
		tu_msleep(2);
	}
	return 0;
}

static int	top_runs;

/*
 * protets top on socket sock in a tmux pane, under sh, its output through
 * pipe (or ""): its pid into *pid and the pane's terminal into tty, once
 * top has put it in its mode.  The pane says "top exited N" after, and
 * lives as long as this process (so a failed test leaves no server).  pipe
 * NULL: under sh's job control (top in a process group of its own, the
 * terminal's foreground), where ^Z stops it; the pane says "top stopped
 * N", and a key typed then continues it (fg).
 */
static void
top_start(const char *sock, const char *pipe, pid_t *pid, char *tty,
    size_t ttysz)
{
	char	 path[PATH_MAX + 16], cmd[PATH_MAX + 64];
	FILE	*f;
	int	 i;

	snprintf(path, sizeof(path), "%s/top.pid", d.dir);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/top.sh", d.dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	if (pipe == NULL)	/* job control: stopped, then fg */
		fprintf(f, "set -m\n"
		    "sh -c 'echo $$ > %s/top.pid.new && mv %s/top.pid.new "
		    "%s/top.pid && exec %s -s %s top'\n"
		    "echo \"top stopped $?\"\nread x\nfg\n"
		    "echo \"top exited $?\"\ntail --pid=%d -f /dev/null\n",
		    d.dir, d.dir, d.dir, cli, sock, (int)getpid());
	else
		fprintf(f, "rm -f %s/top.rc\n"
		    "{ sh -c 'echo $$ > %s/top.pid.new && mv %s/top.pid.new "
		    "%s/top.pid && exec %s -s %s top'; echo $? > %s/top.rc; } "
		    "%s\necho \"top exited $(cat %s/top.rc)\"\n"
		    "tail --pid=%d -f /dev/null\n", d.dir, d.dir, d.dir, d.dir,
		    cli, sock, d.dir, pipe, d.dir, (int)getpid());
	ck_assert_int_eq(fclose(f), 0);
	/* a server of its own: one being killed refuses new sessions */
	snprintf(tmux_sock, sizeof(tmux_sock), "protets-tt-%d-%d",
	    (int)getpid(), ++top_runs);
	snprintf(cmd, sizeof(cmd), "new-session -d -x 80 -y 24 'sh %s'", path);
	ck_assert_int_eq(tmux("%s", cmd), 0);
	ck_assert_int_eq(tmux("display-message -p '#{pane_tty}'%s", ""), 0);
	out[strcspn(out, "\n")] = '\0';
	strlcpy(tty, out, ttysz);
	snprintf(path, sizeof(path), "%s/top.pid", d.dir);
	for (i = 0; i < 5000 && (f = fopen(path, "r")) == NULL; i++)
		tu_msleep(2);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", pid), 1);
	fclose(f);
	ck_assert_msg(pane_raw(tty, 1), "top's mode never set: %s", out);
}

/* top has exited with status st, the terminal given back as it was. */
static void
top_gone(const char *how, const char *tty, int st)
{
	char	want[32], path[PATH_MAX];

	snprintf(want, sizeof(want), "top exited %d", st);
	ck_assert_msg(pane_shows(want, NULL), "%s: not \"%s\": %s", how,
	    want, out);
	ck_assert_int_eq(pane_stty(tty), 0);
	ck_assert_msg(strstr(out, " icanon") != NULL && strstr(out,
	    " echo ") != NULL && strstr(out, "-icanon") == NULL, "%s: the "
	    "terminal left: %s", how, out);
	ck_assert_int_eq(tmux("display-message -p '#{socket_path}'%s", ""), 0);
	out[strcspn(out, "\n")] = '\0';
	strlcpy(path, out, sizeof(path));
	ck_assert_int_eq(tmux("kill-server%s", ""), 0);
	unlink(path);	/* the server's socket, left behind */
}

/*
 * protets top gives the terminal back on every way out: q, ^D, SIGINT,
 * SIGTERM, SIGQUIT, SIGHUP, its reader gone (top | head -c 100),
 * SIGINT while a request waits on a daemon that never answers (a socket
 * that never accepts); SIGTSTP gives it back and stops, SIGCONT takes it
 * again.
 */
START_TEST(test_top_terminal)
{
	static const struct {
		const char	*keys;	/* or a signal */
		int		 sig;
	} quits[] = { { "q", 0 }, { "C-d", 0 }, { NULL, SIGINT },
	    { NULL, SIGTERM }, { NULL, SIGQUIT }, { NULL, SIGHUP } };
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	char			 tty[PATH_MAX], how[32];
	pid_t			 pid;
	size_t			 i;
	int			 s;

	for (i = 0; i < sizeof(quits) / sizeof(quits[0]); i++) {
		top_start(d.sock, "", &pid, tty, sizeof(tty));
		ck_assert_msg(pane_shows("TABLE", NULL), "top shows: %s", out);
		if (quits[i].keys != NULL) {
			snprintf(how, sizeof(how), "keys %s", quits[i].keys);
			ck_assert_int_eq(tmux("send-keys %s", quits[i].keys),
			    0);
		} else {
			snprintf(how, sizeof(how), "signal %d", quits[i].sig);
			ck_assert_int_eq(kill(pid, quits[i].sig), 0);
		}
		top_gone(how, tty, 0);
	}
	/* the reader gone: a write fails (EPIPE), top ends, status 0 */
	top_start(d.sock, "| head -c 100 > /dev/null", &pid, tty, sizeof(tty));
	top_gone("top | head", tty, 0);
	/* ^Z, fg, q */
	top_start(d.sock, NULL, &pid, tty, sizeof(tty));
	ck_assert_msg(pane_shows("TABLE", NULL), "top shows: %s", out);
	ck_assert_int_eq(tmux("send-keys C-z%s", ""), 0);
	ck_assert_msg(proc_stopped(pid), "top did not stop on ^Z");
	ck_assert_msg(pane_shows("top stopped 1", NULL), "^Z: %s", out);
	ck_assert_msg(pane_raw(tty, 0), "stopped, the terminal: %s", out);
	ck_assert_int_eq(tmux("send-keys Enter%s", ""), 0);
	ck_assert_msg(pane_raw(tty, 1), "continued, the terminal: %s", out);
	ck_assert_int_eq(tmux("send-keys q%s", ""), 0);
	top_gone("^Z, fg, q", tty, 0);
	/* ^C while a request waits for an answer that never comes */
	ck_assert_int_ne(s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    -1);
	ck_assert_int_lt(snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/mute.sock", d.dir), (int)sizeof(sun.sun_path));
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(s, 8), 0);	/* and never accept */
	top_start(sun.sun_path, "", &pid, tty, sizeof(tty));
	ck_assert_int_eq(kill(pid, SIGINT), 0);
	top_gone("SIGINT in a request", tty, 0);
	close(s);
}
END_TEST

/* A TCP port of 127.0.0.1 that nothing listens on, now. */
static int
free_port(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	int			s, port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(s);
	return port;
}

/*
 * protetsd's HTTP /metrics (metrics_listen), scraped by urllib and parsed
 * by prometheus_client; other paths 404; the listener killed comes back;
 * the daemon stops with it.
 */
START_TEST(test_http_metrics)
{
	struct td	 h, h2;
	protets_daemon_stats ds;
	protets_t	*p;
	protets_table_t	*t;
	char		 extra[64], url[64];
	pid_t		 mx;
	int		 port = free_port(), i;

	snprintf(extra, sizeof(extra), "metrics_listen = 127.0.0.1:%d", port);
	td_start(&h, 1, extra, NULL);
	p = td_connect(&h);
	t = tu_get(p, "scraped", PROTETS_PUBLIC);
	tu_fill(t, "k", 3);
	protets_close(t);
	protets_disconnect(p);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	ck_assert_msg(tu_sh(out, sizeof(out), "/usr/bin/python3 "
	    "tests/metrics_check.py --url %s "
	    "'protets_table_inserts_total{table=scraped}=3' "
	    "'protets_table_entries{table=scraped}=3' "
	    "'protets_requests_total{request=dstats}' 2>&1", url) == 0,
	    "metrics_check: %s", out);
	ck_assert_msg(tu_sh(out, sizeof(out), "/usr/bin/python3 "
	    "tests/metrics_check.py --url http://127.0.0.1:%d/other "
	    "--status 404 2>&1", port) == 0, "metrics_check: %s", out);
	/*
	 * Confined: no catalog mapped, no new privileges, and, when the
	 * daemon has root, nobody: root's private table is not scraped.
	 */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "pgrep -P %d -f "
	    "'protetsd: metrics'", (int)h.pid), 0);
	mx = (pid_t)atoi(out);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "grep -c "
	    "'memfd:protets:catalog' /proc/%d/maps", (int)mx), 1);
	ck_assert_str_eq(out, "0\n");
	ck_assert_int_eq(tu_sh(out, sizeof(out), "grep '^NoNewPrivs:' "
	    "/proc/%d/status", (int)mx), 0);
	ck_assert_str_eq(out, "NoNewPrivs:\t1\n");
	if (getuid() == 0) {
		ck_assert_int_eq(tu_sh(out, sizeof(out), "awk '/^Uid:/ { print "
		    "$2 }' /proc/%d/status", (int)mx), 0);
		ck_assert_str_eq(out, "65534\n");
		p = td_connect(&h);
		t = tu_get(p, "secret", PROTETS_PRIVATE);
		protets_close(t);
		protets_disconnect(p);
		ck_assert_msg(tu_sh(out, sizeof(out), "/usr/bin/python3 -c "
		    "'import sys, urllib.request; sys.exit(\"secret\" in "
		    "urllib.request.urlopen(sys.argv[1]).read().decode())' "
		    "%s 2>&1", url) == 0, "root's private table scraped: %s",
		    out);
	}
	/* a second daemon cannot listen there: it says so, and serves */
	td_start(&h2, 1, extra, NULL);
	for (i = 0; i < 5000 && !td_log_has(&h2, "cannot listen"); i++)
		tu_msleep(2);
	ck_assert_msg(i < 5000, "no \"cannot listen\" in %s", h2.log);
	p = td_connect(&h2);
	ck_assert_int_eq(protets_daemon_stats_get(p, &ds), 0);
	protets_disconnect(p);
	td_stop(&h2);
	/* killed, it is started again */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "pgrep -P %d -f "
	    "'protetsd: metrics'", (int)h.pid), 0);
	mx = (pid_t)atoi(out);
	ck_assert_int_gt(mx, 0);
	ck_assert_int_eq(kill(mx, SIGKILL), 0);
	ck_assert_msg(tu_sh(out, sizeof(out), "/usr/bin/python3 "
	    "tests/metrics_check.py --url %s "
	    "'protets_table_entries{table=scraped}=3' 2>&1", url) == 0,
	    "metrics_check after a kill: %s", out);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "pgrep -P %d -f "
	    "'protetsd: metrics'", (int)h.pid), 0);
	ck_assert_int_ne(atoi(out), mx);
	ck_assert_int_eq(td_term(&h), 0);
	td_stop(&h);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("stats");
	TCase	*tc = tcase_create("stats");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_table_counts);
	tcase_add_test(tc, test_threads_shards);
	tcase_add_test(tc, test_fork_counts);
	tcase_add_test(tc, test_thread_end);
	tcase_add_test(tc, test_efull);
	tcase_add_test(tc, test_daemon_counts);
	tcase_add_test(tc, test_cli_stats);
	tcase_add_test(tc, test_metrics_parsed);
	tcase_add_test(tc, test_metrics_fails);
	tcase_add_test(tc, test_http_metrics);
	tcase_add_test(tc, test_recovery_top);
	tcase_add_test(tc, test_top_terminal);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
