/*
 * peer.h - the standard workload (bench/README.md) for the peer programs
 * of bench/peers/, as bench/bench.c runs it on protets: the same keys,
 * values, miss keys, counter keys and random order, generated before any
 * timer starts; results are the median of -r runs, one line each,
 * "PEER PHASE OPS_PER_SEC".
 *
 * Every peer program includes this once, and so does bench/bench.c for
 * protets itself; it defines its own functions (static) and leaves main to
 * the program.
 */
#ifndef PEER_H
#define PEER_H

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEYLEN	14		/* "key:%010d" */
#define VALLEN	32		/* "val:%028d" */
#define CTRLEN	8		/* "ctr:%04d" */
#define NCTR	1000
#define MAXRUNS	9
#define MAXRES	32

static size_t	 n = 1000000;
static int	 runs = 3;
static char	*keys, *vals, *miss, *hit0, *hit1, *ctr;

static void
fail(const char *what, const char *why)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
	    why);
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

static char *
xmalloc(size_t sz)
{
	char *p = malloc(sz);

	if (p == NULL)
		fail("malloc", strerror(ENOMEM));
	return p;
}

/* Keys of the random order of a seed, laid out contiguously. */
static char *
random_order(uint64_t seed)
{
	char		*out = xmalloc(n * KEYLEN);
	uint64_t	 s = seed;
	size_t		 j;

	for (j = 0; j < n; j++)
		memcpy(out + j * KEYLEN, keys + (xorshift64(&s) % n) * KEYLEN,
		    KEYLEN);
	return out;
}

static void
workload_init(void)
{
	char		 tmp[64];
	uint64_t	 s = 42;
	size_t		 i;

	keys = xmalloc(n * KEYLEN);
	vals = xmalloc(n * VALLEN);
	miss = xmalloc(n * KEYLEN);
	ctr = xmalloc(n * CTRLEN);
	for (i = 0; i < n; i++) {
		snprintf(tmp, sizeof(tmp), "key:%010zu", i);
		memcpy(keys + i * KEYLEN, tmp, KEYLEN);
		snprintf(tmp, sizeof(tmp), "val:%028zu", i);
		memcpy(vals + i * VALLEN, tmp, VALLEN);
		snprintf(tmp, sizeof(tmp), "nokey:%08zu", i);
		memcpy(miss + i * KEYLEN, tmp, KEYLEN);
		snprintf(tmp, sizeof(tmp), "ctr:%04u",
		    (unsigned)(xorshift64(&s) % NCTR));
		memcpy(ctr + i * CTRLEN, tmp, CTRLEN);
	}
	hit0 = random_order(42);
	hit1 = random_order(43);
}

/*
 * Options common to every program: -n N, -r RUNS, and those of the
 * getopt string more (NULL: none), each handed to opt(ch, optarg), which
 * returns -1 for a bad one.  Returns optind.
 */
static int
peer_args(int argc, char *argv[], const char *usage, const char *more,
    int (*opt)(int, const char *))
{
	char	 optstr[64];
	int	 ch;

	snprintf(optstr, sizeof(optstr), "n:r:%s", more ? more : "");
	while ((ch = getopt(argc, argv, optstr)) != -1) {
		switch (ch) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'r': runs = atoi(optarg); break;
		default:
			if (ch == '?' || opt == NULL || opt(ch, optarg) == -1) {
				fprintf(stderr, "usage: %s\n", usage);
				exit(2);
			}
		}
	}
	if (n == 0 || runs < 1 || runs > MAXRUNS) {
		fprintf(stderr, "usage: %s\n", usage);
		exit(2);
	}
	return optind;
}

/* Results: per phase name (a string that stays), one value per run. */
static struct {
	const char	*phase;
	double		 v[MAXRUNS];
	int		 k;
	int		 done;		/* reported */
} res[MAXRES];
static int nres;

static void
record(const char *phase, double v)
{
	int i;

	for (i = 0; i < nres; i++)
		if (strcmp(res[i].phase, phase) == 0)
			break;
	if (i == nres) {
		if (nres == MAXRES)
			fail("record", "too many phases");
		res[nres++].phase = phase;
	}
	if (res[i].k < MAXRUNS)
		res[i].v[res[i].k++] = v;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of each phase recorded since the last report, one a line. */
static void
report(const char *peer)
{
	int i;

	for (i = 0; i < nres; i++) {
		if (res[i].done)
			continue;
		res[i].done = 1;
		qsort(res[i].v, (size_t)res[i].k, sizeof(double), cmp_double);
		printf("%s %s %.0f\n", peer, res[i].phase,
		    res[i].v[res[i].k / 2]);
	}
	fflush(stdout);
}

/*
 * lookup_hit_2proc: two processes, each prepared by prep(p) (open its own
 * handle), released together, each running work(p, order) over the random
 * order of seed 42 + p; the rate is 2N over the span from the earliest
 * start to the latest end.  work returns 0, or non-zero on a wrong result.
 * done(p), unless NULL, runs in process p after its end time is taken.
 */
static double
two_proc(void (*prep)(int), int (*work)(int, const char *),
    void (*done)(int))
{
	volatile double	*times;
	int		 go[2], ready[2], i, st;
	pid_t		 pid[2];
	char		 c;
	double		 start, end;

	times = mmap(NULL, 4 * sizeof(double), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (times == MAP_FAILED || pipe(go) == -1 || pipe(ready) == -1)
		fail("2proc setup", strerror(errno));
	fflush(stdout);
	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) == -1)
			fail("fork", strerror(errno));
		if (pid[i] == 0) {
			prep(i);
			if (write(ready[1], "r", 1) != 1 ||
			    read(go[0], &c, 1) != 1)
				_exit(1);
			times[2 * i] = now();
			if (work(i, i ? hit1 : hit0) != 0)
				_exit(1);
			times[2 * i + 1] = now();
			if (done != NULL)
				done(i);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++)
		if (read(ready[0], &c, 1) != 1)
			fail("2proc", "a child did not get ready");
	if (write(go[1], "gg", 2) != 2)
		fail("2proc go", strerror(errno));
	for (i = 0; i < 2; i++) {
		waitpid(pid[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail("2proc", "a child failed");
	}
	start = times[0] < times[2] ? times[0] : times[2];
	end = times[1] > times[3] ? times[1] : times[3];
	munmap((void *)times, 4 * sizeof(double));
	close(go[0]); close(go[1]); close(ready[0]); close(ready[1]);
	return 2.0 * (double)n / (end - start);
}

#endif /* PEER_H */
