/*
 * bench.c - the standard protets workload (see bench/README.md), run on a
 * protetsd of its own through libprotets.
 *
 * Prints one line per result on stdout, "protets PHASE OPS_PER_SEC"
 * (integers, median of -r runs): the set phases (insert, lookup_hit,
 * lookup_miss, counter, lookup_hit_2proc, delete), the same on an
 * ordered_set (ordered_set_*, plus ordered_set_scan), bag_insert and
 * bag_lookup_hit, the lookups of another uid through a read-only mapping,
 * plus memory and recovery figures; progress goes to stderr.  The data,
 * the random orders, the medians and the two-process phase are those of
 * bench/peers/peer.h, which the peers of bench/peers/ run the same
 * workload with (bench/run.sh runs them all).  Everything a timed loop
 * reads (keys, values, the random order) is generated before its timer
 * starts.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "peers/peer.h"
#include "protets.h"

static char	 sock[PATH_MAX];
static char	 dir[PATH_MAX];
static pid_t	 daemon_pid, owner;
static int	 failed;	/* a phase gave a wrong result: exit 1 */

static void
die(const char *what, int rc)
{
	fail(what, protets_strerror(rc));
}

/* On any exit of the main process (fail() too), the daemon goes. */
static void
daemon_stop(void)
{
	char	 cmd[PATH_MAX + 16];

	if (getpid() != owner || daemon_pid <= 0)
		return;
	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, NULL, 0);
	daemon_pid = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
}

/* Start a private protetsd; its socket lives in a temporary directory. */
static void	daemon_restart(const char *);

static int		 opt_cg, opt_wc, opt_state, opt_kills = 20;
static const char	*opt_protetsd = "build/protetsd";

/* extra: more lines of [daemon] (NULL: none). */
static void
daemon_start(const char *protetsd, uint64_t table_size, const char *extra)
{
	char	 conf[PATH_MAX];
	FILE	*f;

	strcpy(dir, "/tmp/protets-bench.XXXXXX");
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) == -1)
		die("mkdtemp", errno);
	snprintf(conf, sizeof(conf), "%s/protets.conf", dir);
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	if ((f = fopen(conf, "w")) == NULL)
		die(conf, errno);
	fprintf(f, "[daemon]\nsocket = sock\npidfile = pid\nworkers = 2\n"
	    "restart_burst = 1000\n%s\n[tables]\nmax_size = %llu\n"
	    "max_tables = 4096\n", extra ? extra : "",
	    (unsigned long long)table_size);
	fclose(f);
	daemon_restart(protetsd);
}

/* Start protetsd on the configuration daemon_start wrote. */
static void
daemon_restart(const char *protetsd)
{
	char	 conf[PATH_MAX + 16], log[PATH_MAX + 8];
	int	 i, fd;

	snprintf(conf, sizeof(conf), "%s/protets.conf", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	fflush(stdout);
	if ((daemon_pid = fork()) == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(protetsd, "protetsd", "-c", conf, (char *)NULL);
		_exit(127);
	}
	owner = getpid();
	atexit(daemon_stop);
	for (i = 0; i < 500; i++) {
		protets_t *p;

		if (protets_connect(sock, &p) == 0) {
			protets_disconnect(p);
			return;
		}
		usleep(10000);
	}
	die("protetsd did not start", PROTETS_ECONNECT);
}

/* Get (create) a table, or die. */
static protets_table_t *
table_get(protets_t *p, const char *name, const protets_opts *o)
{
	protets_table_t	*t;
	int		 rc;

	if ((rc = protets_get(p, name, o, &t)) != 0)
		die(name, rc);
	return t;
}

/*
 * N inserts of the keys of order (keys: in order; a random order: a key
 * met again is replaced), values of the standard length.
 */
static double
phase_insert_keys(protets_table_t *t, const char *order)
{
	double	 t0 = now();
	size_t	 i;
	int	 rc;

	for (i = 0; i < n; i++)
		if ((rc = protets_insert(t, order + i * KEYLEN, KEYLEN,
		    vals + i * VALLEN, VALLEN)) != 0)
			die("insert", rc);
	return (double)n / (now() - t0);
}

/* The insert phase (callgrind's --toggle-collect=phase_insert). */
static double
phase_insert(protets_table_t *t)
{
	return phase_insert_keys(t, keys);
}

/* N deletes of the keys of order; absent_ok: a key gone (or never put). */
static double
phase_delete_keys(protets_table_t *t, const char *order, int absent_ok)
{
	double	 t0 = now();
	size_t	 i;
	int	 rc;

	for (i = 0; i < n; i++)
		if ((rc = protets_delete(t, order + i * KEYLEN, KEYLEN)) != 0 &&
		    !(absent_ok && rc == PROTETS_NOTFOUND))
			die("delete", rc);
	return (double)n / (now() - t0);
}

/* Each hit copies the value out and reads a byte of it. */
static double
phase_lookup(protets_table_t *t, const char *order, int expect)
{
	char		 buf[VALLEN];
	size_t		 i, vlen;
	unsigned	 sum = 0;
	double		 t0 = now();
	int		 rc;

	for (i = 0; i < n; i++) {
		rc = protets_lookup(t, order + i * KEYLEN, KEYLEN, buf,
		    sizeof(buf), &vlen);
		if (expect) {
			if (rc != 0 || vlen != VALLEN)
				die("lookup_hit", rc ? rc : PROTETS_ECORRUPT);
			sum += (unsigned char)buf[5];
		} else if (rc != PROTETS_NOTFOUND)
			die("lookup_miss", rc ? rc : PROTETS_EXISTS);
	}
	if (expect && sum == 0)
		die("lookup_hit", PROTETS_ECORRUPT);
	return (double)n / (now() - t0);
}

/*
 * N update_counter +1 on the 1000 hot keys, each created (from 0) on first
 * use; untimed afterwards, the counters must sum to N.  They stay.
 */
static double
phase_counter(protets_table_t *t)
{
	protets_counter_opts	 o = { .has_default = 1, .dflt = 0 };
	char			 k[16], buf[32];
	size_t			 i, vlen;
	uint64_t		 sum = 0;
	int64_t			 v;
	double			 t0 = now(), rate;
	int			 rc;

	for (i = 0; i < n; i++)
		if ((rc = protets_update_counter(t, ctr + i * CTRLEN, CTRLEN,
		    1, &o, &v)) != 0)
			die("counter", rc);
	rate = (double)n / (now() - t0);
	for (i = 0; i < NCTR; i++) {
		snprintf(k, sizeof(k), "ctr:%04zu", i);
		rc = protets_lookup(t, k, CTRLEN, buf, sizeof(buf) - 1, &vlen);
		if (rc == PROTETS_NOTFOUND)
			continue;
		if (rc != 0)
			die("counter check", rc);
		buf[vlen] = '\0';
		sum += strtoull(buf, NULL, 10);
	}
	if (sum != n)
		die("counter: counters do not sum to N", PROTETS_ECORRUPT);
	return rate;
}

/*
 * The whole table in key order, with protets_first and protets_next (as
 * ets:first/ets:next), each key copied out; entries per second.  Untimed
 * afterwards: exactly the N keys, each greater than the one before.  A
 * wrong walk is reported on stderr, fails the run, and gives no figure
 * (-1).
 */
static double
phase_scan(protets_table_t *t, char *buf)
{
	size_t	 i = 0, klen;
	double	 t0 = now(), rate;
	int	 rc;

	rc = protets_first(t, buf, PROTETS_KEY_MAX, &klen);
	while (rc == 0 && klen == KEYLEN && i < n) {
		i++;
		rc = protets_next(t, buf + (i - 1) * KEYLEN, KEYLEN,
		    buf + i * KEYLEN, PROTETS_KEY_MAX, &klen);
	}
	rate = (double)i / (now() - t0);
	if (rc != 0 && rc != PROTETS_NOTFOUND)
		die("scan", rc);
	if (rc == 0 || i != n) {
		fprintf(stderr, "bench: ordered_set scan: %zu keys%s, not "
		    "the %zu inserted: no figure\n", i, rc == 0 ?
		    " and more" : "", n);
		failed = 1;
		return -1;
	}
	for (i = 1; i < n; i++)
		if (memcmp(buf + (i - 1) * KEYLEN, buf + i * KEYLEN,
		    KEYLEN) >= 0) {
			fprintf(stderr, "bench: ordered_set scan: key %zu is "
			    "not after key %zu: no figure\n", i, i - 1);
			failed = 1;
			return -1;
		}
	return rate;
}

static long
minflt(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * lookup_hit_2proc through peer.h's two_proc: each process maps the table
 * itself.  The page faults each takes in its timed loop (first touches of
 * the mapping) go to stderr.
 */
static const char	*tp_name;
static protets_table_t	*tp_table;
static long		 tp_flt;

static void
tp_prep(int p)
{
	protets_t	*q;
	int		 rc;

	(void)p;
	if ((rc = protets_connect(sock, &q)) != 0 ||
	    (rc = protets_open(q, tp_name, &tp_table)) != 0)
		die("2proc open", rc);
	tp_flt = minflt();
}

static int
tp_work(int p, const char *order)
{
	(void)p;
	phase_lookup(tp_table, order, 1);
	return 0;
}

static void
tp_done(int p)
{
	fprintf(stderr, "bench: lookup_hit_2proc: %ld page faults in the "
	    "timed loop of process %d\n", minflt() - tp_flt, p);
}

static double
phase_lookup_2proc(const char *name)
{
	tp_name = name;
	return two_proc(tp_prep, tp_work, tp_done);
}

/*
 * Two writers at once on one set table, each on keys of its own, with
 * write_concurrency W (wc_run): insert_2proc, the N keys inserted by two
 * processes at once (process p the keys i with i % 2 == p), the aggregate
 * rate; counter_2proc, each process N update_counter +1 on 1000 hot
 * counters of its own ("ctr:" and "Ctr:"), the aggregate rate.  To
 * compare with the one-process insert and counter phases, and with the
 * same two processes writing two separate tables (wc0_*: nothing shared
 * at all, the ceiling of the machine).
 */
static const char	*wc_name, *wc_name1;
static int		 wc_counters;
static char		*wc_ctr;

static void
wc_prep(int p)
{
	size_t	i;

	tp_name = p == 1 && wc_name1 != NULL ? wc_name1 : wc_name;
	tp_prep(p);
	wc_ctr = ctr;
	if (!wc_counters || p == 0)
		return;
	wc_ctr = xmalloc(n * CTRLEN);
	memcpy(wc_ctr, ctr, n * CTRLEN);
	for (i = 0; i < n; i++)
		wc_ctr[i * CTRLEN] = 'C';
}

static int
wc_work(int p, const char *order)
{
	protets_counter_opts	 o = { .has_default = 1, .dflt = 0 };
	int64_t			 v;
	size_t			 i;
	int			 rc;

	(void)order;
	for (i = wc_counters ? 0 : (size_t)p; i < n; i += wc_counters ? 1 : 2) {
		rc = wc_counters ?
		    protets_update_counter(tp_table, wc_ctr + i * CTRLEN,
		    CTRLEN, 1, &o, &v) :
		    protets_insert(tp_table, keys + i * KEYLEN, KEYLEN,
		    vals + i * VALLEN, VALLEN);
		if (rc != 0)
			die(wc_counters ? "counter_2proc" : "insert_2proc", rc);
	}
	return 0;
}

/*
 * The same work by one process alone on a table of its own like the two
 * writers' (in a child, with a handle of its own, as theirs): all N keys
 * inserted, then process 0's N counter updates.  The rates of one writer
 * of that very kind of table, to set the two writers' against.
 */
static void
wc_alone(protets_t *p, const protets_opts *o, const char *name,
    const char *insert, const char *counter)
{
	volatile double	*rate;
	protets_table_t	*t;
	double		 t0;
	pid_t		 pid;
	int		 st, rc;

	rate = mmap(NULL, 2 * sizeof(double), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rate == MAP_FAILED)
		fail("1proc setup", strerror(errno));
	t = table_get(p, name, o);
	wc_name = name;
	wc_name1 = NULL;
	fflush(stdout);
	if ((pid = fork()) == -1)
		fail("fork", strerror(errno));
	if (pid == 0) {
		wc_counters = 0;
		wc_prep(0);
		t0 = now();
		if (wc_work(0, NULL) != 0 || wc_work(1, NULL) != 0)
			_exit(1);
		rate[0] = (double)n / (now() - t0);
		wc_counters = 1;
		wc_prep(0);
		t0 = now();
		if (wc_work(0, NULL) != 0)
			_exit(1);
		rate[1] = (double)n / (now() - t0);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		fail("1proc", "the child failed");
	record(insert, rate[0]);
	record(counter, rate[1]);
	munmap((void *)rate, 2 * sizeof(double));
	protets_close(t);
	if ((rc = protets_drop(p, name)) != 0)
		die("drop", rc);
}

static const struct {
	uint32_t	 wc;
	const char	*insert, *counter;
	const char	*insert1, *counter1;	/* one writer alone, or NULL */
} wc_phases[] = {
	{ 0, "wc0_insert_2proc", "wc0_counter_2proc", NULL, NULL },	/* two tables */
	{ 1, "wc1_insert_2proc", "wc1_counter_2proc", NULL, NULL },
	{ 16, "wc16_insert_2proc", "wc16_counter_2proc",
	    "wc16_insert_1proc", "wc16_counter_1proc" },
};

static void
wc_run(protets_t *p, uint64_t size, size_t k, int run)
{
	protets_opts	 o = { .type = PROTETS_SET, .access = PROTETS_PUBLIC,
			    .max_size = size, .write_concurrency = wc_phases[k].wc };
	protets_table_t	*t, *t1 = NULL;
	protets_info	 in, in1 = { .entries = 0 };
	char		 name[48], name1[64];
	int		 rc;

	snprintf(name, sizeof(name), "bench-wc%u-%d", wc_phases[k].wc, run);
	snprintf(name1, sizeof(name1), "%s-b", name);
	t = table_get(p, name, &o);
	if (o.write_concurrency == 0)
		t1 = table_get(p, name1, &o);
	wc_name = name;
	wc_name1 = t1 != NULL ? name1 : NULL;
	wc_counters = 0;
	/* two_proc counts 2N operations; here N were done in all */
	record(wc_phases[k].insert, two_proc(wc_prep, wc_work, NULL) / 2);
	if ((rc = protets_info_get(p, name, &in)) != 0 || (t1 != NULL &&
	    (rc = protets_info_get(p, name1, &in1)) != 0) ||
	    in.entries + in1.entries != n)
		die("insert_2proc: entries", rc ? rc : PROTETS_ECORRUPT);
	wc_counters = 1;
	record(wc_phases[k].counter, two_proc(wc_prep, wc_work, NULL));
	protets_close(t);
	if ((rc = protets_drop(p, name)) != 0)
		die("drop", rc);
	if (wc_phases[k].insert1 != NULL) {
		snprintf(name1, sizeof(name1), "%s-alone", name);
		wc_alone(p, &o, name1, wc_phases[k].insert1,
		    wc_phases[k].counter1);
	}
	if (t1 != NULL) {
		protets_close(t1);
		if ((rc = protets_drop(p, name1)) != 0)
			die("drop", rc);
	}
}

/*
 * What two processes get out of this machine at all: N * 100 rounds of
 * xorshift64 (registers only, nothing shared) in one process, then in
 * two at once (aggregate).  Two writers cannot scale beyond this ratio.
 */
static int
cpu_work(int p, const char *order)
{
	volatile uint64_t	sink;
	uint64_t		s = 42 + (uint64_t)p;
	size_t			i;

	(void)order;
	for (i = 0; i < n * 100; i++)
		s = xorshift64(&s);
	sink = s;
	(void)sink;
	return 0;
}

static void
cpu_prep(int p)
{
	(void)p;
}

static void
bench_cpu(void)
{
	double	t0;
	int	r;

	for (r = 0; r < runs; r++) {
		t0 = now();
		cpu_work(0, NULL);
		record("cpu_1proc", (double)n * 100 / (now() - t0));
		record("cpu_2proc", two_proc(cpu_prep, cpu_work, NULL) * 100);
	}
	report("protets");
}

static void
bench_write_concurrency(protets_t *p, uint64_t size)
{
	size_t	k;
	int	r;

	for (k = 0; k < sizeof(wc_phases) / sizeof(wc_phases[0]); k++) {
		for (r = 0; r < runs; r++) {
			fprintf(stderr, "bench: write_concurrency %u, two "
			    "writers, run %d/%d\n", wc_phases[k].wc, r + 1,
			    runs);
			wc_run(p, size, k, r);
		}
		report("protets");
	}
}

/*
 * The phases run on one table type, in this order; a NULL name skips the
 * phase.  mem: the table's allocated bytes after the inserts, per entry.
 */
struct phases {
	protets_type	 type;
	const char	*insert, *hit, *miss, *scan, *counter, *hit2, *del;
	const char	*mem;
	const char	*ins_rand, *del_rand;	/* after del, in random order */
};

static const struct phases set_phases = {
	PROTETS_SET, "insert", "lookup_hit", "lookup_miss", NULL, "counter",
	"lookup_hit_2proc", "delete", "bytes_per_entry", NULL, NULL
};
static const struct phases ordered_phases = {
	PROTETS_ORDERED_SET, "ordered_set_insert", "ordered_set_lookup_hit",
	"ordered_set_lookup_miss", "ordered_set_scan", "ordered_set_counter",
	"ordered_set_lookup_hit_2proc", "ordered_set_delete",
	"ordered_set_bytes_per_entry", "ordered_set_insert_random",
	"ordered_set_delete_random"
};
static const struct phases bag_phases = {
	PROTETS_BAG, "bag_insert", "bag_lookup_hit", NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL
};

/*
 * One run of the phases on a fresh table.  Returns -1, with nothing
 * measured, when protetsd does not implement the type; else the bytes per
 * entry.
 */
static double
run_table(protets_t *p, const struct phases *ph, uint64_t size, int run,
    char *scanbuf)
{
	protets_opts	 o = { .type = ph->type, .access = PROTETS_PUBLIC,
			    .max_size = size };
	protets_table_t	*t;
	protets_info	 in;
	char		 name[48];
	double		 mem, v;
	int		 rc;

	snprintf(name, sizeof(name), "bench-%s-%d",
	    protets_type_name(ph->type), run);
	if ((rc = protets_get(p, name, &o, &t)) == PROTETS_EINVAL)
		return -1;
	if (rc != 0)
		die(name, rc);
	if (protets_table_type(t) != ph->type) {
		protets_close(t);
		(void)protets_drop(p, name);
		return -1;
	}
	record(ph->insert, phase_insert(t));
	if ((rc = protets_info_get(p, name, &in)) != 0)
		die("info", rc);
	mem = (double)in.bytes_memory / (double)n;
	record(ph->hit, phase_lookup(t, hit0, 1));
	if (ph->miss)
		record(ph->miss, phase_lookup(t, miss, 0));
	if (ph->scan && (v = phase_scan(t, scanbuf)) > 0)
		record(ph->scan, v);
	if (ph->counter)
		record(ph->counter, phase_counter(t));
	if (ph->hit2)
		record(ph->hit2, phase_lookup_2proc(name));
	if (ph->del)
		record(ph->del, phase_delete_keys(t, keys, 0));
	if (ph->ins_rand) {
		record(ph->ins_rand, phase_insert_keys(t, hit0));
		record(ph->del_rand, phase_delete_keys(t, hit1, 1));
	}
	protets_close(t);
	if ((rc = protets_drop(p, name)) != 0)
		die("drop", rc);
	return mem;
}

static void
bench_table(protets_t *p, const struct phases *ph, uint64_t size)
{
	const char	*tn = protets_type_name(ph->type);
	char		*scanbuf = NULL;
	double		 mem = 0;
	int		 r;

	/* Room for the N keys a scan returns, and for one too many. */
	if (ph->scan)
		scanbuf = xmalloc(n * KEYLEN + PROTETS_KEY_MAX);
	for (r = 0; r < runs; r++) {
		fprintf(stderr, "bench: %s, run %d/%d\n", tn, r + 1, runs);
		if ((mem = run_table(p, ph, size, r, scanbuf)) < 0) {
			fprintf(stderr, "bench: protetsd has no %s tables "
			    "(EINVAL): %s phases skipped\n", tn, tn);
			break;
		}
	}
	free(scanbuf);
	if (r < runs)
		return;
	report("protets");
	if (ph->mem)
		printf("protets %s %.1f\n", ph->mem, mem);
	fflush(stdout);
}

/*
 * A protected table read by another uid, through the read-only mapping
 * protetsd hands it (an O_RDONLY fd): lookups in a child that dropped to
 * nobody.  Needs root; else skipped (-1).
 */
static int
run_readonly(protets_t *p, uint64_t size, int run)
{
	protets_table_t	*t;
	volatile double	*out;
	char		 name[32];
	pid_t		 pid;
	int		 rc, st;

	if (getuid() != 0)
		return -1;
	snprintf(name, sizeof(name), "bench-ro-%d", run);
	t = table_get(p, name, &(protets_opts){ .type = PROTETS_SET,
	    .access = PROTETS_PROTECTED, .max_size = size });
	phase_insert(t);
	out = mmap(NULL, 2 * sizeof(double), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (out == MAP_FAILED)
		die("mmap", errno);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		protets_t	*q;
		protets_table_t	*u;

		if (setgid(65534) == -1 || setuid(65534) == -1)
			die("setuid", errno);
		if ((rc = protets_connect(sock, &q)) != 0 ||
		    (rc = protets_open(q, name, &u)) != 0)
			die("open read-only", rc);
		if (protets_table_writable(u))
			die("read-only mapping", PROTETS_EACCES);
		out[0] = phase_lookup(u, hit0, 1);
		out[1] = phase_lookup(u, miss, 0);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("read-only child", PROTETS_EDAEMON);
	record("lookup_hit_readonly", out[0]);
	record("lookup_miss_readonly", out[1]);
	munmap((void *)out, 2 * sizeof(double));
	protets_close(t);
	if ((rc = protets_drop(p, name)) != 0)
		die("drop", rc);
	return 0;
}

static void
bench_readonly(protets_t *p, uint64_t size)
{
	int	r;

	for (r = 0; r < runs; r++) {
		fprintf(stderr, "bench: protected, read-only, run %d/%d\n",
		    r + 1, runs);
		if (run_readonly(p, size, r) == -1) {
			fprintf(stderr, "bench: not root: read-only phases "
			    "skipped\n");
			return;
		}
	}
	report("protets");
}

/*
 * A table made with no size takes 10 x N entries of the standard shape
 * (14-byte keys, 32-byte values: 10,000,000 at the default N) through the
 * daemon: their insert rate, and the memory its pages hold per entry at
 * a tenth of them and at all of them (docs/FORMAT.md §8).  Once, not a
 * median: the keys are made as they go (not the workload's).
 */
static void
bench_grow(protets_t *p)
{
	protets_table_t	*t;
	protets_info	 in;
	char		 k[32], v[VALLEN];
	size_t		 i, total = 10 * n;
	double		 t0, rate, at10 = 0;
	int		 rc;

	memset(v, 'v', sizeof(v));
	t = table_get(p, "bench-grow", NULL);
	t0 = now();
	for (i = 0; i < total; i++) {
		snprintf(k, sizeof(k), "g%013zu", i);
		if ((rc = protets_insert(t, k, KEYLEN, v, VALLEN)) != 0)
			die("grow insert", rc);
		if (i + 1 == total / 10) {
			rate = now();
			if ((rc = protets_info_get(p, "bench-grow", &in)) != 0)
				die("info", rc);
			at10 = (double)in.bytes_memory / (double)(i + 1);
			t0 += now() - rate;	/* the info is not timed */
		}
	}
	rate = (double)total / (now() - t0);
	if ((rc = protets_info_get(p, "bench-grow", &in)) != 0)
		die("info", rc);
	printf("protets grow_%zu_insert %.0f\n", total, rate);
	printf("protets grow_bytes_per_entry_at_%zu %.1f\n", total / 10, at10);
	printf("protets grow_bytes_per_entry_at_%zu %.1f\n", total,
	    (double)in.bytes_memory / (double)total);
	protets_close(t);
	if ((rc = protets_drop(p, "bench-grow")) != 0)
		die("drop", rc);
}

/* kill -9 the worker owning 100 tables of 10,000 entries; time until a
 * client is served every table again. */
static void
bench_recovery(protets_t *p, int kills)
{
	protets_opts	 o = { .type = PROTETS_SET, .access = PROTETS_PUBLIC,
			    .max_size = 8 << 20 };
	protets_table_t	*t;
	protets_info	 in;
	double		*ms;
	char		 name[32], k[32];
	int		 i, j, rc;

	if ((ms = calloc((size_t)kills, sizeof(double))) == NULL)
		die("calloc", ENOMEM);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "rec-%d", i);
		t = table_get(p, name, &o);
		for (j = 0; j < 10000; j++) {
			snprintf(k, sizeof(k), "k%d", j);
			if ((rc = protets_insert(t, k, strlen(k), k,
			    strlen(k))) != 0)
				die("insert", rc);
		}
		protets_close(t);
	}
	for (i = 0; i < kills; i++) {
		double	 t0;
		pid_t	 victim;

		if ((rc = protets_info_get(p, "rec-0", &in)) != 0)
			die("info", rc);
		victim = in.worker_pid;
		t0 = now();
		kill(victim, SIGKILL);
		/*
		 * The replacement answers nothing before it holds every
		 * segment of its slot: its first answer ends the window.
		 */
		do {
			rc = protets_info_get(p, "rec-0", &in);
		} while (rc == 0 && in.worker_pid == victim);
		if (rc != 0)
			die("recovery", rc);
		ms[i] = (now() - t0) * 1000.0;
		for (j = 0; j < 100; j++) {
			snprintf(name, sizeof(name), "rec-%d", j);
			if ((rc = protets_info_get(p, name, &in)) != 0 ||
			    in.entries != 10000)
				die("recovery: table lost", rc ? rc :
				    PROTETS_NOTFOUND);
		}
	}
	qsort(ms, (size_t)kills, sizeof(double), cmp_double);
	printf("protets recovery_ms_p50 %.2f\n", ms[kills / 2]);
	printf("protets recovery_ms_p99 %.2f\n",
	    ms[(kills * 99 + 99) / 100 - 1]);
	free(ms);
}

/*
 * The state directory (#15): a table of N entries saved by an orderly
 * stop and loaded by the next start (wall time of each, as a user waits
 * for it), and a snapshot's time (the daemon's log) and what it costs a
 * writer replacing values meanwhile: its longest insert while snapshots
 * run every second, against its longest insert on a daemon without
 * snapshots, measured just before.
 */
struct sw {
	protets_table_t	*t;
	double		 secs;
	double		 max_us;	/* the longest insert */
	size_t		 ops;
};

static void *
sw_main(void *arg)
{
	struct sw	*w = arg;
	double		 t0 = now(), a, b;
	size_t		 i = 0;
	int		 rc;

	w->max_us = 0;
	for (w->ops = 0; (b = now()) - t0 < w->secs; w->ops++) {
		a = b;
		if ((rc = protets_insert(w->t, hit0 + i * KEYLEN, KEYLEN,
		    vals + i * VALLEN, VALLEN)) != 0)
			die("insert", rc);
		if ((b = (now() - a) * 1e6) > w->max_us)
			w->max_us = b;
		if (++i == n)
			i = 0;
	}
	return NULL;
}

static double
sw_run(protets_table_t *t, double secs, size_t *ops)
{
	struct sw	w = { t, secs, 0, 0 };

	sw_main(&w);
	*ops = w.ops;
	return w.max_us;
}

/* The last "in N ms" of a snapshot line of the daemon's log, or -1. */
static double
log_snapshot_ms(void)
{
	char	 path[PATH_MAX + 8], line[512], *p;
	FILE	*f;
	double	 ms = -1;

	snprintf(path, sizeof(path), "%s/log", dir);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "snapshot: 1 tables saved") != NULL &&
		    (p = strstr(line, " in ")) != NULL)
			ms = atof(p + 4);
	fclose(f);
	return ms;
}

static protets_t *
bench_state(protets_t *p, uint64_t size)
{
	protets_opts	 o = { .type = PROTETS_SET, .access = PROTETS_PUBLIC,
			    .max_size = size };
	protets_table_t	*t;
	double		 t0, base_us, snap_us;
	size_t		 ops, snap_ops;
	int		 rc;

	t = table_get(p, "bench-state", &o);
	phase_insert(t);
	base_us = sw_run(t, 3.0, &ops);
	protets_close(t);
	protets_disconnect(p);
	daemon_stop();
	/* A daemon of its own, snapshotting every second. */
	daemon_start(opt_protetsd, size, "state_dir = state\n"
	    "snapshot_interval = 1");
	if ((rc = protets_connect(sock, &p)) != 0)
		die("connect", rc);
	t = table_get(p, "bench-state", &o);
	phase_insert(t);
	snap_us = sw_run(t, 5.0, &snap_ops);
	printf("protets snapshot_%zu_ms %.0f\n", n, log_snapshot_ms());
	printf("protets snapshot_writer_max_us %.0f (without snapshots: "
	    "%.0f; inserts/s %.0f, without %.0f)\n", snap_us, base_us,
	    snap_ops / 5.0, ops / 3.0);
	protets_close(t);
	protets_disconnect(p);
	t0 = now();
	kill(daemon_pid, SIGTERM);
	while (waitpid(daemon_pid, NULL, 0) == -1 && errno == EINTR)
		;
	daemon_pid = 0;
	printf("protets stop_save_%zu_ms %.0f\n", n, (now() - t0) * 1000);
	t0 = now();
	daemon_restart(opt_protetsd);
	if ((rc = protets_connect(sock, &p)) != 0)
		die("connect", rc);
	t = table_get(p, "bench-state", &o);
	printf("protets start_load_%zu_ms %.0f\n", n, (now() - t0) * 1000);
	protets_close(t);
	return p;
}

/*
 * -c: one run of insert, lookup_hit and counter on a set table, for
 * valgrind --tool=callgrind --toggle-collect=FUNCTION with FUNCTION
 * phase_insert, cg_lookup_hit or phase_counter: the collected cost / N is
 * the instructions per operation (bench/README.md, "Profiling").
 * -w: the write-concurrency phases alone (and cpu_*, their ceiling), for
 * quick comparisons of two builds (bench/README.md).
 * -s: the state directory's phases alone (bench_state).
 */
static __attribute__((noinline)) double
cg_lookup_hit(protets_table_t *t)
{
	return phase_lookup(t, hit0, 1);
}

static void
cg_lookup(protets_t *p, uint64_t size)
{
	protets_opts	 o = { .type = PROTETS_SET, .access = PROTETS_PUBLIC,
			    .max_size = size };
	protets_table_t	*t;
	int		 rc;

	t = table_get(p, "bench-cg", &o);
	printf("protets insert %.0f\n", phase_insert(t));
	printf("protets lookup_hit %.0f\n", cg_lookup_hit(t));
	printf("protets counter %.0f\n", phase_counter(t));
	protets_close(t);
	if ((rc = protets_drop(p, "bench-cg")) != 0)
		die("drop", rc);
}


static int
bench_opt(int ch, const char *arg)
{
	switch (ch) {
	case 'c': opt_cg = 1; return 0;
	case 'w': opt_wc = 1; return 0;
	case 's': opt_state = 1; return 0;
	case 'k': opt_kills = atoi(arg); return opt_kills < 1 ? -1 : 0;
	case 'd': opt_protetsd = arg; return 0;
	}
	return -1;
}

int
main(int argc, char *argv[])
{
	protets_t	*p;
	uint64_t	 size;
	int		 rc;

	if (peer_args(argc, argv, "bench [-c | -s | -w] [-n N] [-r RUNS] "
	    "[-k KILLS] [-d PROTETSD]", "cswk:d:", bench_opt) != argc) {
		fprintf(stderr, "bench: no operands expected\n");
		return 2;
	}
	/*
	 * Room for N entries and the index, with slack: each table's size;
	 * the daemon's max_size room for 10 x N more (bench_grow).
	 */
	size = ((uint64_t)n * 200 + (64u << 20) + 4095) & ~4095ull;
	fprintf(stderr, "bench: generating %zu keys\n", n);
	workload_init();
	daemon_start(opt_protetsd, size + (uint64_t)n * 10 * 200, NULL);
	if ((rc = protets_connect(sock, &p)) != 0)
		die("connect", rc);
	if (opt_cg) {
		cg_lookup(p, size);
		protets_disconnect(p);
		return 0;
	}
	if (opt_state) {
		p = bench_state(p, size);
		protets_disconnect(p);
		return 0;
	}
	if (opt_wc) {
		bench_cpu();
		bench_write_concurrency(p, size);
		protets_disconnect(p);
		return failed;
	}
	bench_table(p, &set_phases, size);
	bench_table(p, &ordered_phases, size);
	bench_table(p, &bag_phases, size);
	bench_cpu();
	bench_write_concurrency(p, size);
	bench_readonly(p, size);
	fprintf(stderr, "bench: a table with no size, %zu entries\n", 10 * n);
	bench_grow(p);
	fprintf(stderr, "bench: recovery, %d kills\n", opt_kills);
	bench_recovery(p, opt_kills);
	fprintf(stderr, "bench: the state directory, %zu entries\n", n);
	p = bench_state(p, size);
	protets_disconnect(p);
	if (failed)
		fprintf(stderr, "bench: a phase gave a wrong result (above)\n");
	return failed;
}
