/*
 * tests/shm_kill.c - check_shm: writers killed for real while readers read.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <xxhash.h>

#include "crash.h"
#include "protets.h"
#include "seg.h"
#include "table.h"

#include "shmutil.h"

/* ---------------------------------------------------------------- */
/* Writers killed for real. */

/* Value of writer round c: self-describing, so torn reads show. */
static size_t
hot_value(uint64_t c, unsigned char *v)
{
	size_t	len = 16 + (size_t)(c * 37 % 3000);

	memset(v, (int)(c & 0xff), len);
	memcpy(v, &c, 8);
	return len;
}

static int
hot_valid(const unsigned char *v, size_t len)
{
	unsigned char	want[3100];
	uint64_t	c;

	if (len < 16)
		return 0;
	memcpy(&c, v, 8);
	return hot_value(c, want) == len && memcmp(want, v, len) == 0;
}

static void __attribute__((noreturn))
hot_writer(struct tbl *t, uint64_t c)
{
	unsigned char	v[3100];
	char		k[32];
	size_t		len;

	for (;; c++) {
		len = hot_value(c, v);
		if (tbl_insert(t, "hot", 3, v, len) != 0)
			_exit(1);
		snprintf(k, sizeof(k), "x%llu", (unsigned long long)(c % 3000));
		if ((c & 1 ? tbl_insert(t, k, strlen(k), v, len % 200) :
		    tbl_delete(t, k, strlen(k))) != 0)
			_exit(1);
	}
}

static uint64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * A read-only reader (it could not write if it tried: PROT_READ) never
 * sees a torn value while writers are SIGKILLed mid-write over and over;
 * after a kill it gets EAGAIN at worst, until someone with a writable
 * mapping repairs (the daemon, in production).
 */
START_TEST(test_reader_vs_killed_writers)
{
	static unsigned char	buf[4096];
	struct seg		s;
	uint64_t		until, reads = 0, eagain = 0, repairs = 0;
	uint64_t		slow = 0;
	unsigned		r = 99;
	size_t			n;
	pid_t			pid;
	int			round, e, status;

	seg_new(&s, 8 << 20);
	for (round = 0; round < 60; round++) {
		if ((pid = fork()) == 0)
			hot_writer(&s.t, (uint64_t)round << 32);
		ck_assert_int_gt(pid, 0);
		until = now_us() + 500 + rnd(&r) % 3000;
		while (now_us() < until) {
			e = tbl_lookup(&s.tro, "hot", 3, buf, sizeof(buf), &n);
			reads++;
			if (e == 0)
				ck_assert_msg(hot_valid(buf, n), "torn read");
			else if (e == PROTETS_EAGAIN)
				/* the live writer was descheduled holding
				 * the lock for longer than the reader tries
				 * (LK_READ_WAIT_MS of its CPU, or
				 * LK_READ_WALL_MS): a loaded machine */
				slow++;
			else
				ck_assert_int_eq(e, PROTETS_NOTFOUND);
		}
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		e = tbl_lookup(round & 1 ? &s.tro : &s.t, "hot", 3, buf,
		    sizeof(buf), &n);
		if (e == PROTETS_EAGAIN) {
			/* died holding the lock: repair, as the daemon does */
			eagain++;
			ck_assert_int_eq(tbl_repair(&s.t), 0);
			repairs++;
			e = tbl_lookup(&s.tro, "hot", 3, buf, sizeof(buf), &n);
		}
		ck_assert_msg(e == 0 || e == PROTETS_NOTFOUND, "lookup %d", e);
		if (e == 0)
			ck_assert_msg(hot_valid(buf, n), "torn value after kill");
		if (round % 10 == 0)
			check_ok(&s.tro);
	}
	check_ok(&s.t);
	fprintf(stderr, "reader_vs_killed_writers: %llu reads, %llu EAGAIN, "
	    "%llu repairs, %llu EAGAIN from a live writer\n",
	    (unsigned long long)reads, (unsigned long long)eagain,
	    (unsigned long long)repairs, (unsigned long long)slow);
	ck_assert_uint_lt(slow, reads / 2);
	seg_free(&s);
}
END_TEST

/*
 * Ten thousand writers killed.  Two writer slots and two readers run at
 * once on one table; this process SIGKILLs a random writer at a random
 * moment (0 to 2 ms into its life, often inside its lock) and starts the
 * slot's next incarnation, PROTETS_KILLS times (10,000 by default).  Each
 * writer logs every acknowledged write (key, version) in shared memory
 * and its one write in flight; values describe themselves (version, key,
 * a fill of the version's letter, a length from the version), so a reader
 * tells a torn value.  At the end: every acknowledged write present (or
 * the in-flight one), tbl_check passes, no reader saw a torn value.
 */
#ifndef PROTETS_CRASHTEST	/* the plain engine's run is enough */
#define KW_SLOTS	2
#define KW_KEYS		128
#define KW_MAYBE	8

struct kw_log {
	uint32_t	ack[KW_SLOTS][KW_KEYS];	/* version; 0: deleted/absent */
	int32_t		fl_key[KW_SLOTS];	/* in flight, -1: none */
	uint32_t	fl_ver[KW_SLOTS];
	uint32_t	next[KW_SLOTS];		/* next version of the slot */
	/*
	 * Versions of writes in flight when their writer was killed since
	 * the key's last acknowledged write: each may or may not be there
	 * (a kill between the commit and the acknowledgement).  Emptied by
	 * the next acknowledged write of the key.
	 */
	uint32_t	maybe[KW_SLOTS][KW_KEYS][KW_MAYBE];
	uint32_t	nmaybe[KW_SLOTS][KW_KEYS];
	uint64_t	acked, reads, torn, errors;
	int		err;
};

static size_t
kw_value(uint32_t ver, const char *key, unsigned char *v)
{
	size_t	n, len = 40 + ver % 300;

	n = (size_t)snprintf((char *)v, 32, "%08u|%s|", ver, key);
	memset(v + n, 'a' + (int)(ver % 26), len - n);
	return len;
}

static int
kw_valid(const unsigned char *v, size_t len, const char *key, uint32_t *ver)
{
	unsigned char	want[400];

	if (len < 12 || len > 340 || sscanf((const char *)v, "%u|", ver) != 1)
		return 0;
	return kw_value(*ver, key, want) == len && memcmp(want, v, len) == 0;
}

static void
kw_writer(struct tbl *t, struct kw_log *lg, int w, unsigned r)
{
	unsigned char	v[400];
	char		key[16];
	uint32_t	ver;
	size_t		len;
	int		k, e;

	for (;;) {
		k = (int)(rnd(&r) % KW_KEYS);
		snprintf(key, sizeof(key), "%d:%d", w, k);
		ver = lg->next[w]++;
		lg->fl_ver[w] = rnd(&r) % 4 == 0 ? 0 : ver;
		__atomic_store_n(&lg->fl_key[w], k, __ATOMIC_RELEASE);
		if (lg->fl_ver[w] == 0) {
			e = tbl_delete(t, key, strlen(key));
			if (e == PROTETS_NOTFOUND)
				e = 0;
		} else {
			len = kw_value(ver, key, v);
			e = tbl_insert(t, key, strlen(key), v, len);
		}
		if (e != 0) {
			lg->err = e;
			__atomic_fetch_add(&lg->errors, 1, __ATOMIC_RELAXED);
			_exit(1);
		}
		__atomic_store_n(&lg->ack[w][k], lg->fl_ver[w],
		    __ATOMIC_RELEASE);
		lg->nmaybe[w][k] = 0;
		__atomic_store_n(&lg->fl_key[w], -1, __ATOMIC_RELEASE);
		__atomic_fetch_add(&lg->acked, 1, __ATOMIC_RELAXED);
	}
}

static void
kw_reader(struct tbl *t, struct kw_log *lg, unsigned r)
{
	unsigned char	v[400];
	char		key[16];
	uint32_t	ver;
	size_t		len;
	int		e;

	for (;;) {
		snprintf(key, sizeof(key), "%u:%u", rnd(&r) % KW_SLOTS,
		    rnd(&r) % KW_KEYS);
		e = tbl_lookup(t, key, strlen(key), v, sizeof(v), &len);
		if (e == 0 && !kw_valid(v, len, key, &ver))
			__atomic_fetch_add(&lg->torn, 1, __ATOMIC_RELAXED);
		else if (e != 0 && e != PROTETS_NOTFOUND &&
		    e != PROTETS_EAGAIN) {
			lg->err = e;
			__atomic_fetch_add(&lg->errors, 1, __ATOMIC_RELAXED);
			_exit(1);
		}
		__atomic_fetch_add(&lg->reads, 1, __ATOMIC_RELAXED);
	}
}

/* Writer w is dead: its write in flight may or may not have happened. */
static void
kw_killed(struct kw_log *lg, int w)
{
	int		k = lg->fl_key[w];
	uint32_t	*n;

	if (k < 0)
		return;
	n = &lg->nmaybe[w][k];
	if (*n < KW_MAYBE)
		lg->maybe[w][k][(*n)++] = lg->fl_ver[w];
	lg->fl_key[w] = -1;
}

/* Is version got of key k of writer w one the table may hold? */
static int
kw_possible(const struct kw_log *lg, int w, int k, uint32_t got)
{
	uint32_t	i;

	if (got == lg->ack[w][k] || lg->nmaybe[w][k] >= KW_MAYBE)
		return 1;
	for (i = 0; i < lg->nmaybe[w][k]; i++)
		if (lg->maybe[w][k][i] == got)
			return 1;
	return 0;
}

/* fork, for a child that is to be killed: it never outlives the test. */
static pid_t
kill_fork(void)
{
	pid_t	pid;

	if ((pid = fork()) == 0) {
		/* a timeout kills only the test process */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
	}
	return pid;
}

static pid_t
kw_spawn(struct seg *s, struct kw_log *lg, int role, unsigned seed)
{
	pid_t	pid;

	if ((pid = kill_fork()) == 0) {
		if (role < KW_SLOTS)
			kw_writer(&s->t, lg, role, seed);
		/* one reader through the read-only mapping, one writable */
		kw_reader(role == KW_SLOTS ? &s->tro : &s->t, lg, seed);
	}
	ck_assert_int_gt(pid, 0);
	return pid;
}

START_TEST(test_writers_killed)
{
	const char	*env = getenv("PROTETS_KILLS");
	struct seg	 s;
	struct kw_log	*lg;
	unsigned char	 v[400];
	char		 key[16];
	pid_t		 pid[KW_SLOTS + 2];
	unsigned	 r = (unsigned)time(NULL);
	uint32_t	 want, got;
	uint64_t	 kills = 0, nkills = env ? strtoull(env, NULL, 10) : 10000;
	size_t		 len;
	int		 i, w, k, e, status;

	lg = mmap(NULL, sizeof(*lg), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(lg, MAP_FAILED);
	for (w = 0; w < KW_SLOTS; w++) {
		lg->fl_key[w] = -1;
		lg->next[w] = 1;
	}
	seg_new(&s, 16 << 20);
	for (i = 0; i < KW_SLOTS + 2; i++)
		pid[i] = kw_spawn(&s, lg, i, r + (unsigned)i);
	while (kills < nkills && lg->errors == 0) {
		usleep(rnd(&r) % 2000);
		w = (int)(rnd(&r) % KW_SLOTS);
		kill(pid[w], SIGKILL);
		ck_assert_int_eq(waitpid(pid[w], &status, 0), pid[w]);
		ck_assert_msg(WIFSIGNALED(status), "writer %d exited: %d", w,
		    lg->err);
		/* not a crash (an abort, a sanitizer's report) taken for
		 * one of our kills */
		ck_assert_msg(WTERMSIG(status) == SIGKILL, "writer %d died "
		    "of signal %d", w, WTERMSIG(status));
		kills++;
		kw_killed(lg, w);
		pid[w] = kw_spawn(&s, lg, w, rnd(&r));
	}
	for (i = 0; i < KW_SLOTS + 2; i++) {
		kill(pid[i], SIGKILL);
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		/* a reader too ran until now, and died of our kill */
		ck_assert_msg(WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGKILL, "%s %d ended: %#x (client "
		    "error %d)", i < KW_SLOTS ? "writer" : "reader", i, status,
		    lg->err);
		if (i < KW_SLOTS)
			kw_killed(lg, i);
	}
	ck_assert_msg(lg->errors == 0, "client error %d", lg->err);
	ck_assert_int_eq(tbl_repair(&s.t), 0);
	check_ok(&s.t);
	for (w = 0; w < KW_SLOTS; w++)
		for (k = 0; k < KW_KEYS; k++) {
			snprintf(key, sizeof(key), "%d:%d", w, k);
			want = lg->ack[w][k];
			e = tbl_lookup(&s.tro, key, strlen(key), v, sizeof(v),
			    &len);
			got = 0;
			if (e == 0)
				ck_assert_msg(kw_valid(v, len, key, &got),
				    "%s: torn at the end: %zu bytes \"%.40s\", "
				    "acknowledged %u, %u maybe", key, len,
				    (const char *)v, want, lg->nmaybe[w][k]);
			else
				ck_assert_int_eq(e, PROTETS_NOTFOUND);
			ck_assert_msg(kw_possible(lg, w, k, got), "%s: "
			    "acknowledged %u, table has %u", key, want, got);
		}
	fprintf(stderr, "writers_killed: %llu writers killed, %llu "
	    "acknowledged writes, %llu reads, %llu torn\n",
	    (unsigned long long)kills, (unsigned long long)lg->acked,
	    (unsigned long long)lg->reads, (unsigned long long)lg->torn);
	ck_assert_uint_eq(lg->torn, 0);
	ck_assert_uint_eq(kills, nkills);
	munmap(lg, sizeof(*lg));
	seg_free(&s);
}
END_TEST
#endif /* !PROTETS_CRASHTEST */

/*
 * The same on an ordered_set, for its walks: a writer process inserts,
 * replaces and deletes self-describing values under 2000 keys, singly and
 * in batches, and is SIGKILLed at random points, over and over; a
 * read-only reader walks the table by foldl and by last/prev meanwhile
 * and never sees a key out of order, a key twice or a torn value.
 */
static void __attribute__((noreturn))
ord_writer(struct tbl *t, uint64_t c)
{
	unsigned char	v[3100];
	protets_kv	kv[4];
	char		k[4][32];
	size_t		len;
	int		i, e;

	for (;; c++) {
		len = hot_value(c, v);
		snprintf(k[0], sizeof(k[0]), "o%04llu",
		    (unsigned long long)(c * 7919 % 2000));
		if (c % 3 == 2)
			e = tbl_delete(t, k[0], strlen(k[0]));
		else if (c % 16 != 0)
			e = tbl_insert(t, k[0], strlen(k[0]), v, len);
		else {
			for (i = 0; i < 4; i++) {
				snprintf(k[i], sizeof(k[i]), "o%04llu",
				    (unsigned long long)((c + i) * 31 % 2000));
				kv[i] = (protets_kv){ k[i], strlen(k[i]), v,
				    len };
			}
			e = tbl_insert_many(t, kv, 4, 0);
		}
		if (e != 0)
			_exit(1);
	}
}

struct ord_seen {
	char		last[32];
	size_t		lastlen;
	uint64_t	n;
};

static int
ord_seen_fold(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	struct ord_seen	*o = arg;
	int		 c;

	ck_assert_uint_lt(klen, sizeof(o->last));
	if (o->n > 0) {
		c = memcmp(o->last, k, o->lastlen < klen ? o->lastlen : klen);
		ck_assert_msg(c < 0 || (c == 0 && o->lastlen < klen),
		    "key out of order in an ordered walk");
	}
	ck_assert_msg(hot_valid(v, vlen), "torn value in an ordered walk");
	memcpy(o->last, k, klen);
	o->lastlen = klen;
	o->n++;
	return 0;
}

/* A last/prev walk: strictly decreasing keys; EAGAIN passes through. */
static int
ord_back_walk(struct tbl *t)
{
	char	k[PROTETS_KEY_MAX], prev[32];
	size_t	klen, plen = 0;
	int	e;

	for (e = tbl_last(t, k, sizeof(k), &klen); e == 0;
	    e = tbl_prev(t, k, klen, k, sizeof(k), &klen)) {
		ck_assert_uint_lt(klen, sizeof(prev));
		if (plen > 0)
			ck_assert_msg(klen == plen && memcmp(k, prev, klen) < 0,
			    "prev went the wrong way");
		memcpy(prev, k, klen);
		plen = klen;
	}
	return e;
}

START_TEST(test_ordered_readers_vs_killed_writers)
{
	struct seg	s;
	struct ord_seen	o;
	uint64_t	until, walks = 0, eagain = 0;
	unsigned	r = 7;
	pid_t		pid;
	int		round, e, status, nw;

	seg_new_type(&s, 16 << 20, PROTETS_ORDERED_SET);
	for (round = 0; round < 40; round++) {
		if ((pid = fork()) == 0)
			ord_writer(&s.t, (uint64_t)round << 32);
		ck_assert_int_gt(pid, 0);
		until = now_us() + 2000 + rnd(&r) % 20000;
		/* at least two walks overlap each writer, however slow */
		for (nw = 0; nw < 2 || now_us() < until; nw++) {
			memset(&o, 0, sizeof(o));
			e = tbl_foldl(&s.tro, ord_seen_fold, &o);
			if (e == 0)
				e = ord_back_walk(&s.tro);
			ck_assert_msg(e == 0 || e == PROTETS_NOTFOUND ||
			    e == PROTETS_EAGAIN, "walk: %d", e);
			eagain += e == PROTETS_EAGAIN;
			walks++;
		}
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* the daemon's part: recover a writer that died locked */
		ck_assert_int_eq(tbl_repair(&s.t), 0);
		memset(&o, 0, sizeof(o));
		ck_assert_int_eq(tbl_foldl(&s.tro, ord_seen_fold, &o), 0);
		ck_assert_uint_eq(o.n, count_of(&s.tro));
		if (round % 8 == 0)
			check_ok(&s.tro);
	}
	check_ok(&s.t);
	fprintf(stderr, "ordered readers_vs_killed_writers: %llu walks, %llu "
	    "EAGAIN\n", (unsigned long long)walks,
	    (unsigned long long)eagain);
	ck_assert_uint_ge(walks, 80);
	seg_free(&s);
}
END_TEST

/*
 * Readers see a batch whole or not at all: a writer process inserts ten
 * values of a key in one insert_many and takes them all in one take,
 * over and over; a read-only reader's lookup_each sees 0 or 10 values,
 * of one batch, in order.
 */
static int
batch_seen(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	char	*seen = arg;
	size_t	 l = strlen(seen);

	(void)k;
	(void)klen;
	ck_assert_uint_lt(l + vlen + 2, 512);
	memcpy(seen + l, v, vlen);
	seen[l + vlen] = ',';
	seen[l + vlen + 1] = '\0';
	return 0;
}

START_TEST(test_batch_readers)
{
	struct seg	s;
	char		seen[512], want[512], vals[10][24], *dash;
	protets_kv	kv[10];
	uint64_t	until, full = 0, empty = 0, gen;
	pid_t		pid;
	int		i, e, status;

	seg_new_type(&s, 8 << 20, PROTETS_DUPLICATE_BAG);
	if ((pid = fork()) == 0) {
		for (gen = 0;; gen++) {
			for (i = 0; i < 10; i++) {
				snprintf(vals[i], sizeof(vals[i]), "%llu-%d",
				    (unsigned long long)gen, i);
				kv[i].key = "b";
				kv[i].klen = 1;
				kv[i].val = vals[i];
				kv[i].vlen = strlen(vals[i]);
			}
			if (tbl_insert_many(&s.t, kv, 10, 0) != 0)
				_exit(1);
			usleep(100);
			if (tbl_take(&s.t, "b", 1, NULL, NULL) != 0)
				_exit(1);
			usleep(20);
		}
	}
	ck_assert_int_gt(pid, 0);
	/* until both states were seen often, or (a loaded machine) 20 s */
	until = now_us() + 20000000;
	while (now_us() < until && (full < 200 || empty < 200)) {
		seen[0] = '\0';
		e = tbl_lookup_each(&s.tro, "b", 1, batch_seen, seen);
		if (e == PROTETS_NOTFOUND) {
			empty++;
			continue;
		}
		ck_assert_int_eq(e, 0);
		dash = strchr(seen, '-');
		ck_assert_ptr_nonnull(dash);
		gen = strtoull(seen, NULL, 10);
		want[0] = '\0';
		for (i = 0; i < 10; i++)
			snprintf(want + strlen(want), sizeof(want) -
			    strlen(want), "%llu-%d,", (unsigned long long)gen, i);
		ck_assert_str_eq(seen, want);
		full++;
	}
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	fprintf(stderr, "batch_readers: %llu whole batches, %llu empty\n",
	    (unsigned long long)full, (unsigned long long)empty);
	ck_assert_uint_gt(full, 0);
	/* the killed writer may have died mid-batch: recover, check */
	check_ok(&s.t);
	e = tbl_lookup_each(&s.t, "b", 1, batch_seen, seen);
	ck_assert(e == 0 || e == PROTETS_NOTFOUND);
	seg_free(&s);
}
END_TEST

#ifndef PROTETS_CRASHTEST
/*
 * Counters of a sharded table, updated lock-free where they can be
 * (fastpath.c), by writers SIGKILLed at random moments, in their slots
 * or holding a shard's lock, while a read-only reader watches them never
 * go down.  The counters start at 1000000 (their text crosses a word
 * boundary: some increments take the lock) and one at 9999990 (it grows
 * a digit: a new entry); a writer also inserts and deletes other keys.
 * Every acknowledged increment is there, and at most those in flight at
 * the kills besides.
 */
#define KC_WRITERS	3
#define KC_KEYS		32

struct kc_log {
	uint64_t	ack[KC_KEYS];		/* acknowledged increments */
	uint64_t	maybe[KC_KEYS];		/* in flight at a kill */
	int32_t		fl_key[KC_WRITERS];	/* in flight, -1: none */
	uint64_t	acked, reads;
	int		err;
};

static void __attribute__((noreturn))
kc_writer(struct tbl *t, struct kc_log *lg, int w, unsigned r)
{
	char	key[16];
	int	k, e;

	for (;;) {
		if (rnd(&r) % 16 == 0) {
			snprintf(key, sizeof(key), "o%u", rnd(&r) % 500);
			e = rnd(&r) % 2 ? tbl_insert(t, key, strlen(key), "v",
			    1) : tbl_delete(t, key, strlen(key));
			if (e != 0 && e != PROTETS_NOTFOUND) {
				lg->err = e;
				_exit(1);
			}
			continue;
		}
		k = (int)(rnd(&r) % KC_KEYS);
		snprintf(key, sizeof(key), "c%d", k);
		lg->fl_key[w] = k;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if ((e = tbl_update_counter(t, key, strlen(key), 1, NULL,
		    NULL)) != 0) {
			lg->err = e;
			_exit(1);
		}
		__atomic_add_fetch(&lg->ack[k], 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&lg->acked, 1, __ATOMIC_RELAXED);
		lg->fl_key[w] = -1;
	}
}

static void __attribute__((noreturn))
kc_reader(struct tbl *t, struct kc_log *lg)
{
	int64_t	last[KC_KEYS] = { 0 }, v;
	char	key[16], buf[32];
	size_t	n;
	int	k, e;

	for (;;)
		for (k = 0; k < KC_KEYS; k++) {
			snprintf(key, sizeof(key), "c%d", k);
			e = tbl_lookup(t, key, strlen(key), buf,
			    sizeof(buf) - 1, &n);
			if (e == PROTETS_EAGAIN)
				continue;
			if (e != 0 || tbl_counter_parse(buf, n, &v) != 0 ||
			    v < last[k]) {
				lg->err = e ? e : -1;
				_exit(1);
			}
			last[k] = v;
			__atomic_add_fetch(&lg->reads, 1, __ATOMIC_RELAXED);
		}
}

static pid_t
kc_spawn(struct seg *s, struct kc_log *lg, int role, unsigned seed)
{
	pid_t	pid;

	if ((pid = kill_fork()) == 0) {
		if (role < KC_WRITERS)
			kc_writer(&s->t, lg, role, seed);
		kc_reader(&s->tro, lg);
	}
	ck_assert_int_gt(pid, 0);
	return pid;
}

START_TEST(test_counters_killed)
{
	const char	*env = getenv("PROTETS_KILLS");
	struct seg	 s;
	struct kc_log	*lg;
	char		 key[16], buf[32];
	pid_t		 pid[KC_WRITERS + 1];
	unsigned	 r = (unsigned)time(NULL);
	uint64_t	 kills = 0, nkills = (env ? strtoull(env, NULL, 10) :
			    10000) / 4;
	int64_t		 v, base;
	size_t		 n;
	int		 i, w, k, status;

	lg = mmap(NULL, sizeof(*lg), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(lg, MAP_FAILED);
	seg_new_shards(&s, 16 << 20, PROTETS_SET, 4);
	for (k = 0; k < KC_KEYS; k++) {
		snprintf(key, sizeof(key), "c%d", k);
		ck_assert_int_eq(put(&s.t, key, k ? "1000000" : "9999990"), 0);
	}
	for (w = 0; w < KC_WRITERS; w++)
		lg->fl_key[w] = -1;
	for (i = 0; i < KC_WRITERS + 1; i++)
		pid[i] = kc_spawn(&s, lg, i, r + (unsigned)i);
	while (kills < nkills && lg->err == 0) {
		usleep(rnd(&r) % 2000);
		w = (int)(rnd(&r) % KC_WRITERS);
		kill(pid[w], SIGKILL);
		ck_assert_int_eq(waitpid(pid[w], &status, 0), pid[w]);
		ck_assert_msg(WIFSIGNALED(status), "writer %d exited: %d", w,
		    lg->err);
		/* not a crash (an abort, a sanitizer's report) taken for
		 * one of our kills */
		ck_assert_msg(WTERMSIG(status) == SIGKILL, "writer %d died "
		    "of signal %d", w, WTERMSIG(status));
		kills++;
		if ((k = lg->fl_key[w]) >= 0)
			lg->maybe[k]++;
		lg->fl_key[w] = -1;
		pid[w] = kc_spawn(&s, lg, w, rnd(&r));
	}
	for (i = 0; i < KC_WRITERS + 1; i++) {
		kill(pid[i], SIGKILL);
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_msg(WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGKILL, "%s %d ended: %#x (client "
		    "error %d)", i < KC_WRITERS ? "writer" : "reader", i, status,
		    lg->err);
		if (i < KC_WRITERS && (k = lg->fl_key[i]) >= 0)
			lg->maybe[k]++;
	}
	ck_assert_msg(lg->err == 0, "client error %d", lg->err);
	ck_assert_int_eq(tbl_repair(&s.t), 0);
	check_ok(&s.t);
	for (k = 0; k < KC_KEYS; k++) {
		snprintf(key, sizeof(key), "c%d", k);
		ck_assert_int_eq(tbl_lookup(&s.tro, key, strlen(key), buf,
		    sizeof(buf) - 1, &n), 0);
		ck_assert_int_eq(tbl_counter_parse(buf, n, &v), 0);
		base = k ? 1000000 : 9999990;
		ck_assert_msg(v >= base + (int64_t)lg->ack[k] &&
		    v <= base + (int64_t)(lg->ack[k] + lg->maybe[k]),
		    "%s = %lld: %llu acknowledged, %llu in flight at kills",
		    key, (long long)v, (unsigned long long)lg->ack[k],
		    (unsigned long long)lg->maybe[k]);
	}
	fprintf(stderr, "counters_killed: %llu writers killed, %llu "
	    "acknowledged increments, %llu reads\n",
	    (unsigned long long)kills, (unsigned long long)lg->acked,
	    (unsigned long long)lg->reads);
	ck_assert_uint_eq(kills, nkills);
	munmap(lg, sizeof(*lg));
	seg_free(&s);
}
END_TEST
#endif /* !PROTETS_CRASHTEST */

/* Add this file's tests to tc. */
void
shm_tests_kill(TCase *tc)
{
	tcase_add_test(tc, test_reader_vs_killed_writers);
	tcase_add_test(tc, test_batch_readers);
	tcase_add_test(tc, test_ordered_readers_vs_killed_writers);
#ifndef PROTETS_CRASHTEST
	tcase_add_test(tc, test_writers_killed);
	tcase_add_test(tc, test_counters_killed);
#endif
}
