/*
 * check_segfuzz.c - the structural fuzzer of segment memory (trust
 * issue): a writer of a public table damages its segment, at random and
 * where it hurts (header, state, lock words and sequence, undo log,
 * update_counter's slots, the namespace table, index buckets and chunks,
 * heap entries), while victims use it: a client process doing every kind
 * of operation on it, and the daemon's worker answering INFO, REPAIR and
 * CHECK.  Whatever the damage, no victim and no daemon process crashes
 * or hangs, and none writes outside the damaged table: the victim's own
 * private table, mapped beside it, keeps exactly what it holds.
 *
 * Each round restores the segment as it was, applies 1 to 4 damages and
 * runs one victim (a forked process, killed by its alarm if it hangs)
 * and the worker's requests; while the victim runs, more damage lands
 * between its operations (in the middle of one, as often as not: a
 * writer's lock word, log or links changed under it).  PROTETS_SEGFUZZ_ROUNDS rounds (400 by
 * default), from PROTETS_SEGFUZZ_SEED (printed, and the round, on a
 * failure, to replay it).
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "owner.h"
#include "protets_int.h"
#include "testutil.h"

static struct td	d;

/* What the victims saw, summed over the rounds (shared with them). */
static struct tally {
	uint64_t	progress;	/* operations begun, all rounds */
	uint64_t	opened;		/* rounds the victim opened the table */
	uint64_t	ok, err;	/* its operations' answers: 0, or not */
} *tally;

#define NKEYS	64	/* keys k0..k63 of the damaged table */
#define NMINE	32	/* keys of the victim's own table */
#define VICTIM_OPS	60
#define VICTIM_ALARM	30	/* s: a victim still running is hung */

static uint64_t
rnd(uint64_t *s)
{
	uint64_t	x = *s += 0x9e3779b97f4a7c15ULL;

	x = (x ^ x >> 30) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ x >> 27) * 0x94d049bb133111ebULL;
	return x ^ x >> 31;
}

/* A value to damage a word with: what a hostile writer would choose. */
static uint64_t
bad_value(uint64_t *s, uint64_t old, uint64_t shard_size)
{
	switch (rnd(s) % 9) {
	case 0:	return 0;
	case 1:	return ~0ULL;
	case 2:	return old ^ 1ULL << (rnd(s) % 64);
	case 3:	return rnd(s) % 64;			/* a small count */
	case 4:	return rnd(s) % (2 * shard_size) & ~7ULL; /* an offset */
	case 5:	return shard_size - 8 * (rnd(s) % 4);	/* at the end */
	case 6:	return old + 8 * (rnd(s) % 16) - 64;	/* a near miss */
	case 7:	return (uint64_t)1 << 63 | (rnd(s) % shard_size);
	default: return rnd(s);
	}
}

/*
 * Where to damage, in a shard of shard_size bytes: a word of one of the
 * structures, aligned.  Index chunks and heap from the state as it is.
 */
static uint64_t
bad_where(uint64_t *s, const unsigned char *sh, uint64_t shard_size)
{
	const struct tbl_state	*st = (const void *)(sh + TBL_STATE_OFF);
	uint64_t		 top = st->top, ceil = st->ceil, off;

	switch (rnd(s) % 10) {
	case 0:	/* header: counts, sizes, name, magic, signature */
		return 8 * (rnd(s) % 128);
	case 1:	/* state: counters, geometry, free lists, ordered head */
	case 2:
		return TBL_STATE_OFF + 8 * (rnd(s) %
		    (sizeof(struct tbl_state) / 8));
	case 3:	/* the stripe: lock word, sequence, batch words, retired */
		return TBL_STRIPE_OFF + 8 * (rnd(s) % 16);
	case 4:	/* the undo log: count, tag, records */
		return TBL_UNDO_OFF + 8 * (rnd(s) % 64);
	case 5:	/* update_counter's slots, and the namespace table */
		return rnd(s) % 2 ? TBL_FP_OFF + 8 * (rnd(s) % 272) :
		    TBL_NS_OFF + 8 * (rnd(s) % 4);
	case 6:	/* index chunks */
	case 7:
		if (ceil >= TBL_HEAP_OFF && ceil < shard_size)
			return (ceil + rnd(s) % (shard_size - ceil)) & ~7ULL;
		return TBL_STATE_OFF;
	default: /* heap: entries, nodes, overflow buckets, free blocks */
		if (top > TBL_HEAP_OFF && top <= shard_size)
			return (TBL_HEAP_OFF + rnd(s) % (top - TBL_HEAP_OFF)) &
			    ~7ULL;
		off = TBL_STATE_OFF + 16;
		return off;
	}
}

/* A lock word: free, a dead process's, this (live) process's, garbage. */
static uint64_t
bad_lock(uint64_t *s)
{
	switch (rnd(s) % 4) {
	case 0:	return 0;
	case 1:	return (uint64_t)0x3ffffe | 1ULL << OW_NS_SHIFT |
		    (rnd(s) & 0xffffffffULL) << OW_START_SHIFT;
	case 2:	return (uint64_t)getpid() | (rnd(s) % 3) << OW_NS_SHIFT;
	default: return rnd(s);
	}
}

static void
damage(uint64_t *s, unsigned char *seg, uint64_t nshards, uint64_t shard_size)
{
	unsigned char	*sh = seg + (rnd(s) % nshards) * shard_size;
	uint64_t	*w, off;
	int		 n = 1 + (int)(rnd(s) % 4);

	while (n-- > 0) {
		if (rnd(s) % 6 == 0) {
			w = (uint64_t *)(void *)(sh + TBL_STRIPE_OFF);
			if (rnd(s) % 2)
				w = (uint64_t *)(void *)(sh + TBL_FP_OFF +
				    128 + 128 * (rnd(s) % TBL_FP_SLOTS));
			*w = bad_lock(s);
			continue;
		}
		off = bad_where(s, sh, shard_size);
		if (off + 8 > shard_size)
			continue;
		w = (uint64_t *)(void *)(sh + off);
		*w = bad_value(s, *w, shard_size);
	}
}

/*
 * While victim c runs: damage again each time it begins an operation,
 * one time in four, at most 16 times.  Returns once it has exited (not
 * reaped).
 */
static void
damage_while(uint64_t *s, pid_t c, unsigned char *seg, uint64_t nshards,
    uint64_t shard_size)
{
	siginfo_t	si;
	uint64_t	seen = __atomic_load_n(&tally->progress, __ATOMIC_RELAXED);
	uint64_t	now;
	int		n = 0;

	for (;;) {
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)c, &si, WEXITED | WNOHANG | WNOWAIT)
		    == 0 && si.si_pid == c)
			return;
		now = __atomic_load_n(&tally->progress, __ATOMIC_RELAXED);
		if (now != seen && n < 16 && rnd(s) % 4 == 0) {
			damage(s, seg, nshards, shard_size);
			n++;
		}
		seen = now;
		sched_yield();
	}
}

static int
count_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	return ++*(int *)arg > 100000;
}

/* One operation of any kind on the damaged table; any answer will do. */
static int
victim_op(protets_table_t *t, uint64_t *s)
{
	char		 k[16], v[128], buf[256];
	size_t		 n;
	uint64_t	 c;
	int64_t		 r;
	int		 i, cnt = 0, e = 0;
	protets_kv	 kv[3];

	snprintf(k, sizeof(k), "k%d", (int)(rnd(s) % NKEYS));
	memset(v, 'a' + (int)(rnd(s) % 26), sizeof(v));
	switch (rnd(s) % 12) {
	case 0:	e = protets_insert(t, k, strlen(k), v, rnd(s) % 100); break;
	case 1:	e = protets_lookup(t, k, strlen(k), buf, sizeof(buf), &n);
		break;
	case 2:	e = protets_delete(t, k, strlen(k)); break;
	case 3:	e = protets_update_counter(t, "c", 1, 1, NULL, &r); break;
	case 4:	e = protets_count(t, &c); break;
	case 5:	e = protets_foldl(t, count_fn, &cnt); break;
	case 6:
		if ((e = protets_first(t, buf, sizeof(buf), &n)) != 0)
			break;
		for (i = 0; i < 200 && (e = protets_next(t, buf, n, buf,
		    sizeof(buf), &n)) == 0; i++)
			;
		e = e == PROTETS_NOTFOUND ? 0 : e;
		break;
	case 7:
		for (i = 0; i < 3; i++) {
			kv[i].key = i == 0 ? "b0" : i == 1 ? "b1" : "b2";
			kv[i].klen = 2;
			kv[i].val = v;
			kv[i].vlen = rnd(s) % 64;
		}
		e = protets_insert_many(t, kv, 3);
		break;
	case 8:	e = protets_take(t, k, strlen(k), count_fn, &cnt); break;
	case 9:	e = protets_member(t, k, strlen(k)); break;
	case 10: e = protets_check(t, buf, sizeof(buf)); break;
	default: e = protets_insert_new(t, k, strlen(k), v, 8); break;
	}
	return e == 0 || e == PROTETS_NOTFOUND || e == PROTETS_EXISTS;
}

/* The victim's own table holds exactly m0..m(NMINE-1) = their values. */
static int
mine_intact(protets_table_t *m)
{
	char		 k[16], v[32], buf[64];
	size_t		 n;
	uint64_t	 c;
	int		 i;

	for (i = 0; i < NMINE; i++) {
		snprintf(k, sizeof(k), "m%d", i);
		snprintf(v, sizeof(v), "mine-%d", i);
		if (protets_lookup(m, k, strlen(k), buf, sizeof(buf), &n) != 0 ||
		    n != strlen(v) || memcmp(buf, v, n) != 0)
			return 0;
	}
	return protets_count(m, &c) == 0 && c == NMINE;
}

/*
 * The victim: both tables mapped, VICTIM_OPS operations on the damaged
 * one, then its own checked.  Exit 0, or 3 (its table changed).
 */
static int
victim(uint64_t seed)
{
	protets_t	*p;
	protets_table_t	*t = NULL, *m = NULL;
	uint64_t	 s = seed;
	int		 i;

	alarm(VICTIM_ALARM);
	if (protets_connect(d.sock, &p) != 0 ||
	    protets_open(p, "mine", &m) != 0)
		return 2;
	if (protets_open(p, "fz", &t) == 0) {
		__atomic_add_fetch(&tally->opened, 1, __ATOMIC_RELAXED);
		protets_set_lock_timeout(t, 10);
		for (i = 0; i < VICTIM_OPS; i++) {
			__atomic_add_fetch(&tally->progress, 1,
			    __ATOMIC_RELAXED);
			__atomic_add_fetch(victim_op(t, &s) ? &tally->ok :
			    &tally->err, 1, __ATOMIC_RELAXED);
		}
		protets_close(t);
	}
	return mine_intact(m) ? 0 : 3;
}

static void
setup(void)
{
	/* a reservation the test can copy whole, and restore, every round */
	td_start(&d, 2, "[tables]\nmax_size = 4M\ndefault_size = 1M", NULL);
}

static void
teardown(void)
{
	td_stop(&d);
}

static uint64_t
env_u64(const char *name, uint64_t dflt)
{
	const char	*e = getenv(name);

	return e != NULL && *e != '\0' ? strtoull(e, NULL, 0) : dflt;
}

/* The damaged table: a type and a shard count by round; 1 MiB. */
static protets_table_t *
make_fz(protets_t *p, int kind)
{
	static const protets_type types[] = { PROTETS_SET,
	    PROTETS_ORDERED_SET, PROTETS_BAG, PROTETS_SET };
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 1 << 20,
			       .type = types[kind % 4],
			       .write_concurrency = kind % 4 == 3 ? 4 : 1 };
	protets_table_t	*t;
	char		 k[16], v[96];
	int64_t		 r;
	int		 i;

	ck_assert_int_eq(protets_get(p, "fz", &o, &t), 0);
	for (i = 0; i < NKEYS; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "value-%d-%.*s", i, i, "abcdefghijklmnop"
		    "qrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrst");
		ck_assert_int_eq(protets_insert(t, k, strlen(k), v,
		    strlen(v)), 0);
	}
	if (o.type != PROTETS_BAG)
		ck_assert_int_eq(protets_update_counter(t, "c", 1, 1,
		    &(protets_counter_opts){ .has_default = 1 }, &r), 0);
	return t;
}

START_TEST(test_segment_fuzz)
{
	uint64_t	 rounds = env_u64("PROTETS_SEGFUZZ_ROUNDS", 400);
	uint64_t	 seed = env_u64("PROTETS_SEGFUZZ_SEED",
			     (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32);
	protets_t	*p = td_connect(&d);
	protets_opts	 om = { .access = PROTETS_PRIVATE };
	protets_table_t	*t, *m;
	protets_info	 in;
	struct stat	 st;
	struct tbl_hdr	*h;
	unsigned char	*seg, *pristine;
	char		 k[16], v[32], msg[256];
	uint64_t	 s, r, nsh, ssz, n;
	pid_t		 w0, w, c;
	int		 fd, i, e, kind;

	fprintf(stderr, "segfuzz: seed %#llx, %llu rounds\n",
	    (unsigned long long)seed, (unsigned long long)rounds);
	tally = mmap(NULL, sizeof(*tally), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(tally != MAP_FAILED);
	ck_assert_int_eq(protets_get(p, "mine", &om, &m), 0);
	for (i = 0; i < NMINE; i++) {
		snprintf(k, sizeof(k), "m%d", i);
		snprintf(v, sizeof(v), "mine-%d", i);
		ck_assert_int_eq(protets_insert(m, k, strlen(k), v,
		    strlen(v)), 0);
	}
	for (kind = 0; kind < 4; kind++) {
		t = make_fz(p, kind);
		ck_assert_int_ge(fd = tu_table_fd("fz"), 0);
		ck_assert_int_eq(fstat(fd, &st), 0);
		seg = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
		ck_assert(seg != MAP_FAILED);
		ck_assert((pristine = malloc((size_t)st.st_size)) != NULL);
		memcpy(pristine, seg, (size_t)st.st_size);
		h = (struct tbl_hdr *)(void *)pristine;
		nsh = h->nshards;
		ssz = h->shard_size;
		w0 = td_pid(&d, "worker", td_table_worker(&d, "fz"));
		for (r = kind; r < rounds; r += 4) {
			s = seed ^ r * 0x2545f4914f6cdd1dULL;
			memcpy(seg, pristine, (size_t)st.st_size);
			damage(&s, seg, nsh, ssz);
			if ((c = fork()) == 0)
				_exit(victim(s));
			/* the worker reads and repairs what anyone may ask */
			(void)pt_repair(d.sock, "fz");
			(void)protets_info_get(p, "fz", &in);
			damage_while(&s, c, seg, nsh, ssz);
			e = tu_wait_child(c);
			ck_assert_msg(e == 0, "segfuzz seed %#llx round %llu: "
			    "the victim %s %d", (unsigned long long)seed,
			    (unsigned long long)r, e >= 128 ? "died of signal" :
			    "exited", e >= 128 ? e - 128 : e);
			w = td_pid(&d, "worker", td_table_worker(&d, "fz"));
			ck_assert_msg(w == w0, "segfuzz seed %#llx round %llu: "
			    "the worker died", (unsigned long long)seed,
			    (unsigned long long)r);
		}
		/* as it was: whole again, and the daemon serves */
		memcpy(seg, pristine, (size_t)st.st_size);
		ck_assert_int_eq(pt_repair(d.sock, "fz"), 0);
		ck_assert_int_eq(protets_check(t, msg, sizeof(msg)), 0);
		ck_assert_int_eq(protets_count(t, &n), 0);
		ck_assert_uint_eq(n, NKEYS + (kind % 4 != 2));
		munmap(seg, (size_t)st.st_size);
		free(pristine);
		protets_close(t);
		ck_assert_int_eq(protets_drop(p, "fz"), 0);
	}
	ck_assert(mine_intact(m));
	td_serves(&d);
	fprintf(stderr, "segfuzz: the victim opened the damaged table in "
	    "%llu rounds of %llu; its operations answered 0 %llu times, an "
	    "error %llu times\n", (unsigned long long)tally->opened,
	    (unsigned long long)rounds, (unsigned long long)tally->ok,
	    (unsigned long long)tally->err);
	ck_assert_uint_gt(tally->opened, rounds / 2);
	ck_assert_uint_gt(tally->err, 0);
	protets_close(m);
	protets_disconnect(p);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("segfuzz");
	TCase	*tc = tcase_create("segfuzz");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_segment_fuzz);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
