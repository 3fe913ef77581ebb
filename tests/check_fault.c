/*
 * check_fault.c - the fault suite.  For FAULT_SECONDS (default 20; `make
 * fault` runs it as long as asked), writer processes insert, update and
 * delete entries and log every acknowledged operation, reader processes
 * check that no value they read is torn, and this process SIGKILLs, at
 * random moments, workers, the monitor, the supervisor (replaced by the
 * monitor), writers (often inside their write lock) and readers, replacing
 * the clients it kills.  At the end every
 * acknowledged write must be present, every table must pass its check, no
 * reader may have seen a torn value, and the daemon's fds must not have
 * grown.  The figures are printed on stderr.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NTABLES		4
#define NKEYS		256		/* keys per writer incarnation */
#define MAXINC		65536		/* writer incarnations */
#define NWRITERS	3
#define NREADERS	2
#define VLEN		48

/* Shared with the clients: what each writer incarnation acknowledged. */
struct fault_log {
	uint32_t	 ack[MAXINC][NKEYS];	/* 0 absent, n: version n */
	int32_t		 inflight_key[MAXINC];	/* -1: none */
	uint32_t	 inflight_state[MAXINC];
	uint64_t	 acked_ops;
	uint64_t	 reads;
	uint64_t	 torn;
	uint64_t	 errors;
	int32_t		 incarnations;
	char		 error[256];
};

static struct td		 d;
static struct fault_log		*fl;

static void
key_of(int inc, int k, char *buf, size_t sz)
{
	snprintf(buf, sz, "%d:%d", inc, k);
}

static int
table_of(int inc, int k)
{
	return (inc * 31 + k) % NTABLES;
}

/* A value that tells whether it was read whole: version, key, fill. */
static void
value_of(uint32_t version, const char *key, char *v)
{
	int	 n;

	n = snprintf(v, VLEN, "%08u|%s|", version, key);
	memset(v + n, 'a' + (int)(version % 26), (size_t)(VLEN - n));
}

static int
value_ok(const char *v, size_t len, const char *key, uint32_t *version)
{
	char		 expect[VLEN];

	if (len != VLEN || sscanf(v, "%8u|", version) != 1)
		return 0;
	value_of(*version, key, expect);
	return memcmp(v, expect, VLEN) == 0;
}

static void
client_fail(const char *what, int rc)
{
	__atomic_fetch_add(&fl->errors, 1, __ATOMIC_RELAXED);
	snprintf(fl->error, sizeof(fl->error), "%s: %s", what,
	    protets_strerror(rc));
	_exit(1);
}

static void
open_tables(protets_table_t **t)
{
	protets_t	*p;
	char		 name[16];
	int		 i, rc;

	if ((rc = protets_connect(d.sock, &p)) != 0)
		client_fail("connect", rc);
	for (i = 0; i < NTABLES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		if ((rc = protets_open(p, name, &t[i])) != 0)
			client_fail("open", rc);
	}
	protets_disconnect(p);
}

/* One writer incarnation: random inserts, updates, deletes, logged. */
static void
writer(int inc, unsigned seed)
{
	protets_table_t	*t[NTABLES];
	uint32_t	 version[NKEYS] = { 0 };
	char		 key[32], v[VLEN];
	int		 k, rc;

	open_tables(t);
	for (;;) {
		uint32_t st;

		k = (int)(rand_r(&seed) % NKEYS);
		key_of(inc, k, key, sizeof(key));
		if (fl->ack[inc][k] != 0 && rand_r(&seed) % 10 < 3)
			st = 0;				/* delete */
		else
			st = ++version[k];		/* insert or update */
		fl->inflight_state[inc] = st;
		__atomic_store_n(&fl->inflight_key[inc], k, __ATOMIC_RELEASE);
		if (st == 0)
			rc = protets_delete(t[table_of(inc, k)], key,
			    strlen(key));
		else {
			value_of(st, key, v);
			rc = protets_insert(t[table_of(inc, k)], key,
			    strlen(key), v, VLEN);
		}
		if (rc != 0)
			client_fail(st ? "insert" : "delete", rc);
		/* Acknowledged: log it, then clear the in-flight mark. */
		__atomic_store_n(&fl->ack[inc][k], st, __ATOMIC_RELEASE);
		__atomic_store_n(&fl->inflight_key[inc], -1, __ATOMIC_RELEASE);
		__atomic_fetch_add(&fl->acked_ops, 1, __ATOMIC_RELAXED);
	}
}

/* A reader: random keys of any incarnation; every value must be whole. */
static void
reader(unsigned seed)
{
	protets_table_t	*t[NTABLES];
	char		 key[32], v[VLEN + 8];
	uint32_t	 version;
	size_t		 len;
	int		 inc, k, rc;

	open_tables(t);
	for (;;) {
		int n = __atomic_load_n(&fl->incarnations, __ATOMIC_ACQUIRE);

		inc = (int)(rand_r(&seed) % (unsigned)(n > 0 ? n : 1));
		k = (int)(rand_r(&seed) % NKEYS);
		key_of(inc, k, key, sizeof(key));
		rc = protets_lookup(t[table_of(inc, k)], key, strlen(key), v,
		    sizeof(v), &len);
		if (rc == 0 && !value_ok(v, len, key, &version))
			__atomic_fetch_add(&fl->torn, 1, __ATOMIC_RELAXED);
		else if (rc != 0 && rc != PROTETS_NOTFOUND)
			client_fail("lookup", rc);
		__atomic_fetch_add(&fl->reads, 1, __ATOMIC_RELAXED);
	}
}

static pid_t
spawn_writer(void)
{
	int	 inc = fl->incarnations;
	pid_t	 pid;

	ck_assert_int_lt(inc, MAXINC);
	fl->inflight_key[inc] = -1;
	__atomic_store_n(&fl->incarnations, inc + 1, __ATOMIC_RELEASE);
	if ((pid = fork()) == 0)
		writer(inc, (unsigned)inc * 7919u + 1);
	return pid;
}

static pid_t
spawn_reader(unsigned seed)
{
	pid_t	 pid;

	if ((pid = fork()) == 0)
		reader(seed);
	return pid;
}

/* Every acknowledged operation is in the table (or the one in flight). */
static uint64_t
verify(protets_table_t **t)
{
	char		 key[32], v[VLEN + 8];
	uint32_t	 version;
	size_t		 len;
	uint64_t	 lost = 0;
	int		 inc, k, rc;

	for (inc = 0; inc < fl->incarnations; inc++)
		for (k = 0; k < NKEYS; k++) {
			uint32_t want = fl->ack[inc][k], got;

			key_of(inc, k, key, sizeof(key));
			rc = protets_lookup(t[table_of(inc, k)], key,
			    strlen(key), v, sizeof(v), &len);
			if (rc == PROTETS_NOTFOUND)
				got = 0;
			else if (rc == 0 && value_ok(v, len, key, &version))
				got = version;
			else {
				lost++;
				continue;
			}
			if (got == want)
				continue;
			if (fl->inflight_key[inc] == k &&
			    got == fl->inflight_state[inc])
				continue;
			fprintf(stderr, "fault: key %s: acknowledged state %u, "
			    "table has %u\n", key, want, got);
			lost++;
		}
	return lost;
}

START_TEST(test_fault_suite)
{
	pid_t		 w[NWRITERS], r[NREADERS];
	protets_t	*p;
	protets_table_t	*t[NTABLES];
	const char	*env = getenv("FAULT_SECONDS");
	double		 secs = env ? atof(env) : 20;
	time_t		 end;
	unsigned	 seed = (unsigned)time(NULL);
	uint64_t	 kills[5] = { 0 }, lost;
	time_t		 sup_since;
	char		 name[16], msg[256];
	int		 i, fds0, fds1;

	fl = mmap(NULL, sizeof(*fl), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(fl, MAP_FAILED);
	td_start(&d, 3, NULL, NULL);
	p = td_connect(&d);
	for (i = 0; i < NTABLES; i++) {
		protets_opts o = { .access = PROTETS_PUBLIC,
		    .max_size = 256 << 20 };	/* sparse */

		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(protets_get(p, name, &o, &t[i]), 0);
	}
	protets_disconnect(p);
	fds0 = td_fd_total(&d);
	fprintf(stderr, "fault: %.0f s, seed %u\n", secs, seed);
	for (i = 0; i < NWRITERS; i++)
		w[i] = spawn_writer();
	for (i = 0; i < NREADERS; i++)
		r[i] = spawn_reader(seed + (unsigned)i);
	end = time(NULL) + (time_t)secs;
	sup_since = time(NULL);
	while (time(NULL) < end && fl->errors == 0) {
		int	 what = (int)(rand_r(&seed) % 20), j;

		tu_msleep(5 + (int)(rand_r(&seed) % 40));
		/*
		 * The supervisor: its replacement is held back until 2 s
		 * after the last one started (daemon/takeover.c), and clients
		 * starting meanwhile could not connect: kill it older.
		 */
		if (what == 19 && time(NULL) - sup_since >= 3) {
			td_kill_supervisor(&d);
			sup_since = time(NULL);
			kills[4]++;
			continue;
		}
		what /= 2;
		if (what < 5) {			/* a writer, mid-operation */
			j = (int)(rand_r(&seed) % NWRITERS);
			kill(w[j], SIGKILL);
			waitpid(w[j], NULL, 0);
			w[j] = spawn_writer();
			kills[0]++;
		} else if (what < 7) {		/* a reader */
			j = (int)(rand_r(&seed) % NREADERS);
			kill(r[j], SIGKILL);
			waitpid(r[j], NULL, 0);
			r[j] = spawn_reader(rand_r(&seed));
			kills[1]++;
		} else if (what < 9) {		/* a worker */
			td_kill(&d, "worker", (int)(rand_r(&seed) % 3));
			kills[2]++;
		} else {			/* the monitor */
			td_kill(&d, "monitor", -1);
			kills[3]++;
		}
	}
	for (i = 0; i < NWRITERS; i++) {
		kill(w[i], SIGKILL);
		waitpid(w[i], NULL, 0);
	}
	for (i = 0; i < NREADERS; i++) {
		kill(r[i], SIGKILL);
		waitpid(r[i], NULL, 0);
	}
	ck_assert_msg(fl->errors == 0, "client error: %s", fl->error);
	/* Through fresh mappings from the daemon, as a new client sees it. */
	for (i = 0; i < NTABLES; i++)
		protets_close(t[i]);
	p = td_connect(&d);
	for (i = 0; i < NTABLES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(protets_open(p, name, &t[i]), 0);
		ck_assert_msg(protets_check(t[i], msg, sizeof(msg)) == 0,
		    "%s: %s", name, msg);
	}
	lost = verify(t);
	for (i = 0; i < NTABLES; i++)
		protets_close(t[i]);
	protets_disconnect(p);
	fds1 = td_fd_total(&d);
	fprintf(stderr, "fault: kills: %llu writers, %llu readers, %llu "
	    "workers, %llu monitor, %llu supervisor; %llu acknowledged "
	    "writes, %llu reads; lost %llu, torn %llu; daemon fds %d -> %d\n",
	    (unsigned long long)kills[0], (unsigned long long)kills[1],
	    (unsigned long long)kills[2], (unsigned long long)kills[3],
	    (unsigned long long)kills[4],
	    (unsigned long long)fl->acked_ops, (unsigned long long)fl->reads,
	    (unsigned long long)lost, (unsigned long long)fl->torn, fds0,
	    fds1);
	ck_assert_uint_eq(lost, 0);
	ck_assert_uint_eq(fl->torn, 0);
	ck_assert_int_le(fds1, fds0);
	ck_assert_uint_gt(fl->acked_ops, 0);
	td_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("fault");
	TCase	*tc = tcase_create("fault");
	const char *env = getenv("FAULT_SECONDS");

	tcase_set_timeout(tc, (env ? atof(env) : 20) + 120);
	tcase_add_test(tc, test_fault_suite);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
