/*
 * bench.c - the standard protets workload (see bench/README.md), run on a
 * protetsd of its own through libprotets.
 *
 * Prints one line per result on stdout, "protets PHASE OPS_PER_SEC"
 * (integers, median of -r runs): the set phases (insert, lookup_hit,
 * lookup_miss, counter, lookup_hit_2proc, delete), the other table types
 * protetsd implements (ordered_set_*, bag_*), the read-only mapping, plus
 * memory and recovery figures; progress goes to stderr.  The peers of
 * bench/peers/ run the same workload (bench/run.sh runs them all).  Everything a timed loop reads (keys, values,
 * the random order) is generated before its timer starts.
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

#include "protets.h"

#define KEYLEN	14
#define VALLEN	32
#define CTRLEN	8		/* "ctr:%04d" */
#define NCTR	1000
#define MAXRUNS	9

static size_t	 n = 1000000;
static int	 runs = 3;
static char	 sock[PATH_MAX];
static char	 dir[PATH_MAX];
static pid_t	 daemon_pid;

static char	*keys, *vals, *miss, *hit0, *hit1, *ctr;

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench: %s: %s\n", what, protets_strerror(rc));
	if (daemon_pid > 0)
		kill(daemon_pid, SIGTERM);
	exit(1);
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Keys of the random lookup order for a seed, laid out contiguously. */
static char *
random_order(uint64_t seed)
{
	char		*out = malloc(n * KEYLEN);
	uint64_t	 s = seed;
	size_t		 j;

	if (out == NULL)
		die("malloc", ENOMEM);
	for (j = 0; j < n; j++)
		memcpy(out + j * KEYLEN, keys + (xorshift64(&s) % n) * KEYLEN,
		    KEYLEN);
	return out;
}

/* Counter keys "ctr:%04d" of r % 1000, in the order of a seed. */
static char *
counter_order(uint64_t seed)
{
	char		*out = malloc(n * CTRLEN), tmp[16];
	uint64_t	 s = seed;
	size_t		 j;

	if (out == NULL)
		die("malloc", ENOMEM);
	for (j = 0; j < n; j++) {
		snprintf(tmp, sizeof(tmp), "ctr:%04u",
		    (unsigned)(xorshift64(&s) % NCTR));
		memcpy(out + j * CTRLEN, tmp, CTRLEN);
	}
	return out;
}

static void
workload_init(void)
{
	char	 tmp[64];
	size_t	 i;

	keys = malloc(n * KEYLEN);
	vals = malloc(n * VALLEN);
	miss = malloc(n * KEYLEN);
	if (keys == NULL || vals == NULL || miss == NULL)
		die("malloc", ENOMEM);
	for (i = 0; i < n; i++) {
		snprintf(tmp, sizeof(tmp), "key:%010zu", i);
		memcpy(keys + i * KEYLEN, tmp, KEYLEN);
		snprintf(tmp, sizeof(tmp), "val:%028zu", i);
		memcpy(vals + i * VALLEN, tmp, VALLEN);
		snprintf(tmp, sizeof(tmp), "nokey:%08zu", i);
		memcpy(miss + i * KEYLEN, tmp, KEYLEN);
	}
	hit0 = random_order(42);
	hit1 = random_order(43);
	ctr = counter_order(42);
}

/* Start a private protetsd; its socket lives in a temporary directory. */
static void
daemon_start(const char *protetsd, uint64_t table_size)
{
	char	 conf[PATH_MAX], log[PATH_MAX];
	FILE	*f;
	int	 i, fd;

	strcpy(dir, "/tmp/protets-bench.XXXXXX");
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) == -1)
		die("mkdtemp", errno);
	snprintf(conf, sizeof(conf), "%s/protets.conf", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	if ((f = fopen(conf, "w")) == NULL)
		die(conf, errno);
	fprintf(f, "[daemon]\nsocket = sock\npidfile = pid\nworkers = 2\n"
	    "restart_burst = 1000\n[tables]\nmax_size = %llu\n"
	    "max_tables = 4096\n", (unsigned long long)table_size);
	fclose(f);
	if ((daemon_pid = fork()) == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(protetsd, "protetsd", "-c", conf, (char *)NULL);
		_exit(127);
	}
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

static void
daemon_stop(void)
{
	char	 cmd[PATH_MAX + 16];

	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
}

static protets_table_t *
table_get(protets_t *p, const char *name, protets_type type,
    protets_access access, uint64_t size)
{
	protets_opts	 o = { .type = type, .access = access,
			    .max_size = size };
	protets_table_t	*t;
	int		 rc;

	if ((rc = protets_get(p, name, &o, &t)) != 0)
		die(name, rc);
	return t;
}

static double
phase_insert(protets_table_t *t)
{
	double	 t0 = now();
	size_t	 i;
	int	 rc;

	for (i = 0; i < n; i++)
		if ((rc = protets_insert(t, keys + i * KEYLEN, KEYLEN,
		    vals + i * VALLEN, VALLEN)) != 0)
			die("insert", rc);
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

static double
phase_delete(protets_table_t *t)
{
	double	 t0 = now();
	size_t	 i;
	int	 rc;

	for (i = 0; i < n; i++)
		if ((rc = protets_delete(t, keys + i * KEYLEN, KEYLEN)) != 0)
			die("delete", rc);
	return (double)n / (now() - t0);
}

static long
minflt(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * Two processes, each mapping the table itself, released together; the
 * rate is 2N over the span from the earliest start to the latest end.
 * The page faults each takes in its timed loop (first touches of the
 * mapping) go to stderr.
 */
static double
phase_lookup_2proc(const char *name)
{
	volatile double	*times;
	int		 go[2], ready[2], i;
	pid_t		 pid[2];
	char		 c;
	double		 start, end;

	times = mmap(NULL, 6 * sizeof(double), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (times == MAP_FAILED || pipe(go) == -1 || pipe(ready) == -1)
		die("2proc setup", errno);
	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) == 0) {
			protets_t	*p;
			protets_table_t	*t;
			int		 rc;

			if ((rc = protets_connect(sock, &p)) != 0 ||
			    (rc = protets_open(p, name, &t)) != 0)
				die("2proc open", rc);
			if (write(ready[1], "r", 1) != 1 ||
			    read(go[0], &c, 1) != 1)
				_exit(1);
			times[4 + i] = (double)minflt();
			times[2 * i] = now();
			phase_lookup(t, i ? hit1 : hit0, 1);
			times[2 * i + 1] = now();
			times[4 + i] = (double)minflt() - times[4 + i];
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++)
		if (read(ready[0], &c, 1) != 1)
			die("2proc ready", errno);
	if (write(go[1], "gg", 2) != 2)
		die("2proc go", errno);
	for (i = 0; i < 2; i++) {
		int st;

		waitpid(pid[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("2proc child", PROTETS_EDAEMON);
	}
	start = times[0] < times[2] ? times[0] : times[2];
	end = times[1] > times[3] ? times[1] : times[3];
	fprintf(stderr, "bench: lookup_hit_2proc: %.0f and %.0f page faults "
	    "in the timed loops\n", times[4], times[5]);
	munmap((void *)times, 6 * sizeof(double));
	close(go[0]); close(go[1]); close(ready[0]); close(ready[1]);
	return 2.0 * (double)n / (end - start);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
report(const char *phase, double *v, int k)
{
	qsort(v, (size_t)k, sizeof(double), cmp_double);
	printf("protets %s %.0f\n", phase, v[k / 2]);
	fflush(stdout);
}

enum { P_INSERT, P_HIT, P_MISS, P_COUNTER, P_HIT2, P_DELETE, P_NPHASES };
static const char *const phase_names[] = {
	"insert", "lookup_hit", "lookup_miss", "counter", "lookup_hit_2proc",
	"delete"
};

/* The set workload on one table per run; returns bytes per entry. */
static double
run_set(protets_t *p, uint64_t size, double res[][MAXRUNS], int run)
{
	protets_table_t	*t;
	protets_info	 in;
	char		 name[32];
	double		 per_entry;
	int		 rc;

	snprintf(name, sizeof(name), "bench-%d", run);
	t = table_get(p, name, PROTETS_SET, PROTETS_PUBLIC, size);
	res[P_INSERT][run] = phase_insert(t);
	if ((rc = protets_info_get(p, name, &in)) != 0)
		die("info", rc);
	per_entry = (double)in.bytes_used / (double)n;
	res[P_HIT][run] = phase_lookup(t, hit0, 1);
	res[P_MISS][run] = phase_lookup(t, miss, 0);
	res[P_COUNTER][run] = phase_counter(t);
	res[P_HIT2][run] = phase_lookup_2proc(name);
	res[P_DELETE][run] = phase_delete(t);
	protets_close(t);
	if ((rc = protets_drop(p, name)) != 0)
		die("drop", rc);
	return per_entry;
}

/*
 * Another table type: insert and lookup_hit on a fresh table of that type
 * (one value per key).  Returns -1, with nothing measured, when protetsd
 * does not implement the type.
 */
static int
run_type(protets_t *p, protets_type type, uint64_t size,
    double res[][MAXRUNS], int run)
{
	protets_opts	 o = { .type = type, .access = PROTETS_PUBLIC,
			    .max_size = size };
	protets_table_t	*t;
	char		 name[32];
	int		 rc;

	snprintf(name, sizeof(name), "bench-%s-%d", protets_type_name(type),
	    run);
	if ((rc = protets_get(p, name, &o, &t)) == PROTETS_EINVAL)
		return -1;
	if (rc != 0)
		die(name, rc);
	if (protets_table_type(t) != type) {
		protets_close(t);
		(void)protets_drop(p, name);
		return -1;
	}
	res[0][run] = phase_insert(t);
	res[1][run] = phase_lookup(t, hit0, 1);
	protets_close(t);
	if ((rc = protets_drop(p, name)) != 0)
		die("drop", rc);
	return 0;
}

static void
bench_type(protets_t *p, protets_type type, uint64_t size,
    double res[][MAXRUNS])
{
	const char	*tn = protets_type_name(type);
	char		 ph[64];
	int		 r;

	for (r = 0; r < runs; r++) {
		fprintf(stderr, "bench: %s, run %d/%d\n", tn, r + 1, runs);
		if (run_type(p, type, size, res, r) == -1) {
			fprintf(stderr, "bench: protetsd has no %s tables: "
			    "%s phases skipped\n", tn, tn);
			return;
		}
	}
	snprintf(ph, sizeof(ph), "%s_insert", tn);
	report(ph, res[0], runs);
	snprintf(ph, sizeof(ph), "%s_lookup_hit", tn);
	report(ph, res[1], runs);
}

/*
 * A protected table read by another uid, through a read-only mapping:
 * lookups in a child that dropped to nobody (needs root; else skipped).
 */
static int
run_readonly(protets_t *p, uint64_t size, double res[][MAXRUNS], int run)
{
	protets_table_t	*t;
	volatile double	*out;
	char		 name[32];
	pid_t		 pid;
	int		 rc, st;

	if (getuid() != 0)
		return -1;
	snprintf(name, sizeof(name), "bench-ro-%d", run);
	t = table_get(p, name, PROTETS_SET, PROTETS_PROTECTED, size);
	phase_insert(t);
	out = mmap(NULL, 2 * sizeof(double), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (out == MAP_FAILED)
		die("mmap", errno);
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
	res[0][run] = out[0];
	res[1][run] = out[1];
	munmap((void *)out, 2 * sizeof(double));
	protets_close(t);
	if ((rc = protets_drop(p, name)) != 0)
		die("drop", rc);
	return 0;
}

/* kill -9 the worker owning 100 tables of 10,000 entries; time until a
 * client is served every table again. */
static void
bench_recovery(protets_t *p, int kills)
{
	protets_table_t	*t;
	protets_info	 in;
	double		*ms;
	char		 name[32], k[32];
	int		 i, j, rc;

	if ((ms = calloc((size_t)kills, sizeof(double))) == NULL)
		die("calloc", ENOMEM);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "rec-%d", i);
		t = table_get(p, name, PROTETS_SET, PROTETS_PUBLIC, 8 << 20);
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
 * -c: one run of insert, lookup_hit and counter on a set table, for
 * valgrind --tool=callgrind --toggle-collect=FUNCTION with FUNCTION
 * phase_insert, cg_lookup_hit or phase_counter: the collected cost / N is
 * the instructions per operation (bench/README.md, "Profiling").
 */
static __attribute__((noinline)) double
cg_lookup_hit(protets_table_t *t)
{
	return phase_lookup(t, hit0, 1);
}

static void
cg_lookup(protets_t *p, uint64_t size)
{
	protets_table_t	*t;
	int		 rc;

	t = table_get(p, "bench-cg", PROTETS_SET, PROTETS_PUBLIC, size);
	printf("protets insert %.0f\n", phase_insert(t));
	printf("protets lookup_hit %.0f\n", cg_lookup_hit(t));
	printf("protets counter %.0f\n", phase_counter(t));
	protets_close(t);
	if ((rc = protets_drop(p, "bench-cg")) != 0)
		die("drop", rc);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench [-c] [-n N] [-r RUNS] [-k KILLS] "
	    "[-d PROTETSD]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	double		 res[P_NPHASES][MAXRUNS], mem = 0;
	const char	*protetsd = "build/protetsd";
	protets_t	*p;
	uint64_t	 size;
	int		 ch, i, r, rc, kills = 20, cg = 0;

	while ((ch = getopt(argc, argv, "cn:r:k:d:")) != -1) {
		switch (ch) {
		case 'c': cg = 1; break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'r': runs = atoi(optarg); break;
		case 'k': kills = atoi(optarg); break;
		case 'd': protetsd = optarg; break;
		default: usage();
		}
	}
	if (n == 0 || runs < 1 || runs > MAXRUNS || kills < 1)
		usage();
	/* Room for N entries and the index, with slack. */
	size = ((uint64_t)n * 200 + (64u << 20) + 4095) & ~4095ull;
	fprintf(stderr, "bench: generating %zu keys\n", n);
	workload_init();
	daemon_start(protetsd, size);
	if ((rc = protets_connect(sock, &p)) != 0)
		die("connect", rc);
	if (cg) {
		cg_lookup(p, size);
		protets_disconnect(p);
		daemon_stop();
		return 0;
	}
	for (r = 0; r < runs; r++) {
		fprintf(stderr, "bench: set, run %d/%d\n", r + 1, runs);
		mem = run_set(p, size, res, r);
	}
	for (i = 0; i < P_NPHASES; i++)
		report(phase_names[i], res[i], runs);
	printf("protets bytes_per_entry %.1f\n", mem);
	bench_type(p, PROTETS_ORDERED_SET, size, res);
	bench_type(p, PROTETS_BAG, size, res);
	for (r = 0; r < runs; r++) {
		fprintf(stderr, "bench: protected, read-only, run %d/%d\n",
		    r + 1, runs);
		if (run_readonly(p, size, res, r) == -1) {
			fprintf(stderr, "bench: not root: read-only phases "
			    "skipped\n");
			break;
		}
	}
	if (r == runs) {
		report("lookup_hit_readonly", res[0], runs);
		report("lookup_miss_readonly", res[1], runs);
	}
	fprintf(stderr, "bench: recovery, %d kills\n", kills);
	bench_recovery(p, kills);
	protets_disconnect(p);
	daemon_stop();
	return 0;
}
