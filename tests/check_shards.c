/*
 * tests/check_shards.c - tables with write_concurrency: sharded segments.
 *
 * Every operation on a sharded table must give what it gives on the same
 * table unsharded (a differential test on set, bag and duplicate_bag);
 * batches over several shards are all or nothing, also when the writer
 * (and then its recoverers) are SIGKILLed at every step (the crash build,
 * check_shards_crash); and a writer stopped in one shard does not stop
 * writers of the others.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "crash.h"
#include "entry.h"
#include "fastpath.h"
#include "lock.h"
#include "protets.h"
#include "seg.h"
#include "table.h"

#include "shmutil.h"

static unsigned
shard_of_key(const struct tbl *t, const char *k)
{
	return tbl_shard_of(t, en_hash(k, strlen(k)));
}

/* A key "pfx<n>" of shard k of t, n from *seed on. */
static void
key_in(const struct tbl *t, unsigned k, const char *pfx, int *seed, char *out,
    size_t outsz)
{
	for (;; (*seed)++) {
		snprintf(out, outsz, "%s%d", pfx, *seed);
		if (shard_of_key(t, out) == k) {
			(*seed)++;
			return;
		}
	}
}

/* ---------------------------------------------------------------- */
/* The whole contents, as sorted "key=value" lines. */

struct dump {
	char	**line;
	size_t	  n, cap;
};

static int
dump_fold(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct dump	*d = arg;
	char		*l;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 256;
		d->line = reallocarray(d->line, d->cap, sizeof(*d->line));
		ck_assert_ptr_nonnull(d->line);
	}
	ck_assert_int_ge(asprintf(&l, "%.*s=%.*s", (int)klen, (const char *)k,
	    (int)vlen, (const char *)v), 0);
	d->line[d->n++] = l;
	return 0;
}

static int
dump_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
dump_of(struct tbl *t, struct dump *d)
{
	memset(d, 0, sizeof(*d));
	ck_assert_int_eq(tbl_foldl(t, dump_fold, d), 0);
	qsort(d->line, d->n, sizeof(*d->line), dump_cmp);
}

static void
dump_free(struct dump *d)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		free(d->line[i]);
	free(d->line);
}

static int
dump_eq(const struct dump *a, const struct dump *b)
{
	size_t	i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->line[i], b->line[i]) != 0)
			return 0;
	return 1;
}

static void
same_contents(struct tbl *a, struct tbl *b)
{
	struct dump	da, db;

	dump_of(a, &da);
	dump_of(b, &db);
	ck_assert_msg(dump_eq(&da, &db), "contents differ: %zu vs %zu lines",
	    da.n, db.n);
	dump_free(&da);
	dump_free(&db);
}

/* first/next visit every key once: the keys, sorted and unique. */
static void
walk_keys(struct tbl *t, struct dump *d)
{
	char	k[64], prev[64];
	size_t	klen;
	int	e;

	memset(d, 0, sizeof(*d));
	e = tbl_first(t, k, sizeof(k) - 1, &klen);
	while (e == 0) {
		k[klen] = '\0';
		dump_fold(k, klen, "", 0, d);
		memcpy(prev, k, klen + 1);
		e = tbl_next(t, prev, klen, k, sizeof(k) - 1, &klen);
	}
	ck_assert_int_eq(e, PROTETS_NOTFOUND);
	qsort(d->line, d->n, sizeof(*d->line), dump_cmp);
}

static void
same_keys(struct tbl *a, struct tbl *b)
{
	struct dump	da, db;
	size_t		i;

	walk_keys(a, &da);
	walk_keys(b, &db);
	ck_assert(dump_eq(&da, &db));
	for (i = 1; i < db.n; i++)
		ck_assert_str_ne(db.line[i - 1], db.line[i]);
	dump_free(&da);
	dump_free(&db);
}

/* ---------------------------------------------------------------- */
/* Differential: the same random operations on a plain and a sharded table. */

#define DM_KEYS		300

static int
take_fold(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct dump	*d = arg;

	return dump_fold(k, klen, v, vlen, d);
}

static int
pred_odd(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	(void)k;
	(void)v;
	(void)arg;
	return (klen + vlen) % 2;
}

/* Run op on both tables and compare the return codes. */
#define BOTH(call_a, call_b) do {					\
	int ea_ = (call_a), eb_ = (call_b);				\
	ck_assert_msg(ea_ == eb_, "op %d: %d vs %d", op, ea_, eb_);	\
} while (0)

static void
dm_step(struct tbl *a, struct tbl *b, unsigned *st, int op, unsigned type)
{
	char		 k[32], val[32], kk[8][32], vv[8][32];
	protets_kv	 kv[8];
	protets_match	 m;
	struct dump	 da, db;
	uint64_t	 na, nb;
	int64_t		 ra, rb;
	size_t		 la, lb, n, i;
	char		 ba[64], bb[64];

	snprintf(k, sizeof(k), "k%u", rnd(st) % DM_KEYS);
	snprintf(val, sizeof(val), "%u", rnd(st) % 50);
	switch (rnd(st) % 16) {
	case 0: case 1: case 2:
		BOTH(tbl_insert(a, k, strlen(k), val, strlen(val)),
		    tbl_insert(b, k, strlen(k), val, strlen(val)));
		break;
	case 3:
		BOTH(tbl_insert_new(a, k, strlen(k), val, strlen(val)),
		    tbl_insert_new(b, k, strlen(k), val, strlen(val)));
		break;
	case 4:
		BOTH(tbl_delete(a, k, strlen(k)), tbl_delete(b, k, strlen(k)));
		break;
	case 5:
		BOTH(tbl_delete_object(a, k, strlen(k), val, strlen(val), &na),
		    tbl_delete_object(b, k, strlen(k), val, strlen(val), &nb));
		ck_assert_uint_eq(na, nb);
		break;
	case 6:
		memset(&da, 0, sizeof(da));
		memset(&db, 0, sizeof(db));
		BOTH(tbl_take(a, k, strlen(k), take_fold, &da),
		    tbl_take(b, k, strlen(k), take_fold, &db));
		ck_assert(dump_eq(&da, &db));	/* same order too */
		dump_free(&da);
		dump_free(&db);
		break;
	case 7:
		la = lb = 0;
		BOTH(tbl_lookup(a, k, strlen(k), ba, sizeof(ba), &la),
		    tbl_lookup(b, k, strlen(k), bb, sizeof(bb), &lb));
		ck_assert(la == lb && memcmp(ba, bb, la) == 0);
		BOTH(tbl_member(a, k, strlen(k)), tbl_member(b, k, strlen(k)));
		break;
	case 8:
		if (type != PROTETS_SET)
			break;
		ra = rb = 0;
		BOTH(tbl_update_counter(a, k, strlen(k), 3, NULL, &ra),
		    tbl_update_counter(b, k, strlen(k), 3, NULL, &rb));
		ck_assert(ra == rb);
		break;
	case 9:
		memset(&da, 0, sizeof(da));
		memset(&db, 0, sizeof(db));
		BOTH(tbl_lookup_each(a, k, strlen(k), take_fold, &da),
		    tbl_lookup_each(b, k, strlen(k), take_fold, &db));
		ck_assert(dump_eq(&da, &db));
		dump_free(&da);
		dump_free(&db);
		break;
	case 10: case 11: case 12:
		n = 1 + rnd(st) % 8;
		for (i = 0; i < n; i++) {
			snprintf(kk[i], sizeof(kk[i]), "k%u",
			    rnd(st) % DM_KEYS);
			snprintf(vv[i], sizeof(vv[i]), "%u", rnd(st) % 50);
			kv[i].key = kk[i];
			kv[i].klen = strlen(kk[i]);
			kv[i].val = vv[i];
			kv[i].vlen = strlen(vv[i]);
		}
		i = rnd(st) % 2;
		BOTH(tbl_insert_many(a, kv, n, (int)i),
		    tbl_insert_many(b, kv, n, (int)i));
		break;
	case 13:
		memset(&m, 0, sizeof(m));
		m.pred = pred_odd;
		BOTH(tbl_select_count(a, &m, &na),
		    tbl_select_count(b, &m, &nb));
		ck_assert_uint_eq(na, nb);
		if (rnd(st) % 8 == 0) {
			BOTH(tbl_select_delete(a, &m, &na),
			    tbl_select_delete(b, &m, &nb));
			ck_assert_uint_eq(na, nb);
		}
		break;
	case 14:
		ck_assert_uint_eq(count_of(a), count_of(b));
		if (rnd(st) % 64 == 0)
			BOTH(tbl_clear(a), tbl_clear(b));
		break;
	default:
		BOTH(tbl_insert(a, k, strlen(k), "x", 1),
		    tbl_insert(b, k, strlen(k), "x", 1));
		break;
	}
}

static const unsigned dm_types[] = {
	PROTETS_SET, PROTETS_BAG, PROTETS_DUPLICATE_BAG
};

/* _i: type index * 2 + (4 or 16 shards). */
START_TEST(test_differential)
{
	struct seg	a, b;
	unsigned	type = dm_types[_i / 2], ns = _i % 2 ? 16 : 4;
	unsigned	st = 777 + (unsigned)_i, seen = 0, k;
	struct tbl_stats s1, s2;
	char		key[32];
	int		op;

	seg_new_shards(&a, 4 << 20, type, 1);
	seg_new_shards(&b, 16 << 20, type, ns);
	ck_assert_int_eq(b.t.nshards, ns);
	for (op = 0; op < 20000; op++) {
		dm_step(&a.t, &b.t, &st, op, type);
		if (op % 2000 == 1999) {
			same_contents(&a.tro, &b.tro);
			same_keys(&a.tro, &b.tro);
			check_ok(&b.t);
			check_ok(&a.t);
		}
	}
	same_contents(&a.tro, &b.tro);
	/* the keys reached every shard */
	for (op = 0; op < DM_KEYS; op++) {
		snprintf(key, sizeof(key), "k%d", op);
		seen |= 1u << shard_of_key(&b.t, key);
	}
	ck_assert_uint_eq(seen, (1u << ns) - 1);
	ck_assert_int_eq(tbl_stats(&a.t, &s1), 0);
	ck_assert_int_eq(tbl_stats(&b.t, &s2), 0);
	ck_assert_uint_eq(s1.entries, s2.entries);
	ck_assert_uint_eq(s2.bytes_size, (16 << 20) / ns / 4096 * 4096 * ns);
	for (k = 0; k < ns; k++)
		ck_assert_uint_eq(((struct tbl_hdr *)(void *)(b.rw +
		    k * b.t.shard_size))->shard, k);
	seg_free(&a);
	seg_free(&b);
}
END_TEST

START_TEST(test_format)
{
	struct seg	s;
	struct tbl	t;
	struct tbl_meta	m;
	struct tbl_hdr	*h;

	ck_assert_int_eq(seg_try(&s, 1 << 20, PROTETS_ORDERED_SET, 4),
	    PROTETS_EINVAL);
	seg_free(&s);
	ck_assert_int_eq(seg_try(&s, 1 << 20, PROTETS_SET, 3), PROTETS_EINVAL);
	seg_free(&s);
	ck_assert_int_eq(seg_try(&s, 1 << 20, PROTETS_SET, 32), PROTETS_EINVAL);
	seg_free(&s);
	ck_assert_int_eq(seg_try(&s, tbl_min_size_shards(16) - 4096,
	    PROTETS_SET, 16), PROTETS_EINVAL);
	seg_free(&s);
	seg_new_shards(&s, tbl_min_size_shards(16), PROTETS_SET, 16);
	seg_free(&s);

	seg_new_shards(&s, 1 << 20, PROTETS_BAG, 4);
	ck_assert_int_eq(tbl_meta(&s.t, &m), 0);
	ck_assert_uint_eq(m.nshards, 4);
	ck_assert_uint_eq(m.type, PROTETS_BAG);
	ck_assert_int_eq(tbl_set_access(&s.t, PROTETS_PUBLIC), 0);
	ck_assert_int_eq(tbl_meta(&s.tro, &m), 0);
	ck_assert_uint_eq(m.access, PROTETS_PUBLIC);
	/* a truncated mapping, or a damaged shard header, is refused */
	ck_assert_int_eq(tbl_open(&t, s.rw, s.t.shard_size * 3, 1),
	    PROTETS_ECORRUPT);
	h = (struct tbl_hdr *)(void *)(s.rw + 2 * s.t.shard_size);
	h->shard = 3;
	ck_assert_int_eq(tbl_open(&t, s.rw, s.size, 1), PROTETS_ECORRUPT);
	h->shard = 2;
	h->id++;
	ck_assert_int_eq(tbl_open(&t, s.rw, s.size, 1), PROTETS_ECORRUPT);
	h->id--;
	ck_assert_int_eq(tbl_open(&t, s.rw, s.size, 1), 0);
	check_ok(&t);
	/* an undo log tagged with a batch no writer made: damage */
	((struct tbl_undo *)(void *)((unsigned char *)h + TBL_UNDO_OFF))->tag =
	    TBL_XTAG(5, 3);
	ck_assert_int_eq(tbl_insert(&t, "a", 1, "b", 1) == 0 &&
	    tbl_check(&t, NULL, 0) == 0, 0);
	seg_free(&s);
}
END_TEST

/* Keys pfx<n> of the shards in mask, per shard, into kv (n per shard). */
static size_t
keys_over(const struct tbl *t, unsigned mask, int per, const char *pfx,
    char (*kb)[24], protets_kv *kv)
{
	unsigned	k;
	size_t		n = 0;
	int		i, seed = 0;

	for (k = 0; k < t->nshards; k++) {
		if (!(mask & 1u << k))
			continue;
		for (i = 0; i < per; i++) {
			key_in(t, k, pfx, &seed, kb[n], sizeof(kb[n]));
			kv[n].key = kb[n];
			kv[n].klen = strlen(kb[n]);
			kv[n].val = "v";
			kv[n].vlen = 1;
			n++;
		}
	}
	return n;
}

START_TEST(test_batch_atomic)
{
	static char	 big[200000];
	struct seg	 s;
	char		 kb[64][24];
	protets_kv	 kv[64];
	struct dump	 d0, d1;
	size_t		 n;

	seg_new_shards(&s, 4 * 64 * 1024, PROTETS_SET, 4);
	n = keys_over(&s.t, 0xf, 4, "b", kb, kv);
	/* insert_new_many: one key present in shard 3 fails it all */
	ck_assert_int_eq(tbl_insert(&s.t, kb[n - 1], strlen(kb[n - 1]), "o",
	    1), 0);
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, n, 1), PROTETS_EXISTS);
	ck_assert_uint_eq(count_of(&s.t), 1);
	check_ok(&s.t);
	/* a shard that fills up (shard 2's key too big) fails it all */
	memset(big, 'z', sizeof(big));
	kv[9].val = big;
	kv[9].vlen = sizeof(big);
	dump_of(&s.tro, &d0);
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, n, 0), PROTETS_EFULL);
	dump_of(&s.tro, &d1);
	ck_assert(dump_eq(&d0, &d1));
	dump_free(&d1);
	check_ok(&s.t);
	/* and whole, it goes in whole */
	kv[9].val = "v";
	kv[9].vlen = 1;
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, n, 0), 0);
	ck_assert_uint_eq(count_of(&s.t), n);
	dump_of(&s.tro, &d1);
	ck_assert(!dump_eq(&d0, &d1));
	dump_free(&d0);
	dump_free(&d1);
	check_ok(&s.t);
	/* clear: every shard */
	ck_assert_int_eq(tbl_clear(&s.t), 0);
	ck_assert_uint_eq(count_of(&s.t), 0);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/*
 * A read-only tbl_check never sees a batch's marks (xmask, the tags)
 * stand: a batch over shards that fails (insert_new of a key present)
 * changes nothing, but marks its shards while it runs, and must make
 * their sequences odd first.
 *
 * The batcher here never pauses (a batch every 0.3 us), and a check of a
 * shard takes about 2 us: a read-only reader cannot make it wait, and is
 * validated only when the batcher is preempted or slowed.  Most checks
 * are (20,000 of 20,000 on an idle machine, mean 0.9 ms, longest 50 ms),
 * but one may give up after LK_READ_WAIT_MS of its CPU time, with the
 * EAGAIN that says so (CI, 2026-12-06: 4 of 20,000).  That answer is
 * honest; what must never come is any other: damage that is not there.
 */
struct batcher {
	struct tbl	*t;
	protets_kv	*kv;
	size_t		 n;
	int		*stop;
	long		 runs;
	int		 e;
};

static void *
batcher_run(void *arg)
{
	struct batcher	*b = arg;
	int		 e = 0;

	while (!__atomic_load_n(b->stop, __ATOMIC_RELAXED) && e == 0) {
		if ((e = tbl_insert_many(b->t, b->kv, b->n, 1)) ==
		    PROTETS_EXISTS)
			e = 0;
		__atomic_fetch_add(&b->runs, 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&b->e, e, __ATOMIC_RELAXED);
	return NULL;
}

START_TEST(test_check_during_batches)
{
	struct seg	s;
	struct batcher	b;
	pthread_t	th;
	int		stop = 0;
	char		kb[64][24], msg[256];
	protets_kv	kv[64];
	int		i, e, ok = 0, busy = 0, bad = 0;

	seg_new_shards(&s, 1 << 20, PROTETS_SET, 2);
	b = (struct batcher){ &s.t, kv, 0, &stop, 0, 0 };
	b.n = keys_over(&s.t, 0x3, 2, "x", kb, kv);
	/* its last key is there: every batch fails, after marking both */
	ck_assert_int_eq(tbl_insert(&s.t, kb[b.n - 1], strlen(kb[b.n - 1]),
	    "v", 1), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, batcher_run, &b), 0);
	for (i = 0; (i < 20000 || __atomic_load_n(&b.runs, __ATOMIC_RELAXED) <
	    1000) && __atomic_load_n(&b.e, __ATOMIC_RELAXED) == 0; i++) {
		if ((e = tbl_check(&s.tro, msg, sizeof(msg))) == 0)
			ok++;
		else if (e == PROTETS_EAGAIN)
			busy++;
		else if (bad++ == 0)
			fprintf(stderr, "check during batches: %d: %s\n", e,
			    msg);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	fprintf(stderr, "check during batches: %d checks, %d ok, %d gave up "
	    "(EAGAIN), %ld batches\n", i, ok, busy, b.runs);
	ck_assert_int_eq(b.e, 0);
	ck_assert_int_eq(bad, 0);
	/* validated views, taken while batches ran, are the rule */
	ck_assert_int_ge(ok, i / 2);
	ck_assert_uint_eq(count_of(&s.t), 1);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/*
 * Whoever may write a table may rewrite its header while another process
 * opens it (trust issue: a reader of a protected table died of SIGSEGV in
 * 14 of 300 runs).  tbl_open validates a private copy of each header and
 * uses nothing else: shard 0's shard count flipping between 2 and 16 (a
 * 16th of the mapping each, then) makes it open as it is or fail with
 * ECORRUPT, and what opens reads within its mapping.
 */
struct flipper {
	uint32_t	*nshards;
	int		*stop;
	long		 flips;
};

static void *
flipper_run(void *arg)
{
	struct flipper	*f = arg;

	while (!__atomic_load_n(f->stop, __ATOMIC_RELAXED)) {
		__atomic_store_n(f->nshards, 16, __ATOMIC_RELAXED);
		__atomic_store_n(f->nshards, 2, __ATOMIC_RELAXED);
		f->flips++;
	}
	return NULL;
}

START_TEST(test_open_header_flips)
{
	struct seg	s;
	struct tbl	t;
	struct flipper	f;
	pthread_t	th;
	char		kb[64][24], buf[64];
	protets_kv	kv[64];
	int		stop = 0, i, j, e, ok = 0, corrupt = 0;
	size_t		n;

	seg_new_shards(&s, 1 << 20, PROTETS_SET, 2);
	n = keys_over(&s.t, 0x3, 8, "f", kb, kv);
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, n, 0), 0);
	f = (struct flipper){ &((struct tbl_hdr *)(void *)s.rw)->nshards,
	    &stop, 0 };
	ck_assert_int_eq(pthread_create(&th, NULL, flipper_run, &f), 0);
	for (i = 0; i < 200000; i++) {
		if ((e = tbl_open(&t, s.ro, s.size, 0)) == PROTETS_ECORRUPT) {
			corrupt++;
			continue;
		}
		ck_assert_int_eq(e, 0);
		ck_assert_uint_eq(t.nshards, 2);
		ck_assert_uint_eq(t.size, s.size);
		ok++;
		/* every key, whichever shard it routes to */
		for (j = 0; j < (int)n; j++)
			ck_assert_int_eq(get(&t, kb[j], buf, sizeof(buf)), 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	fprintf(stderr, "open while the header flips: %d opened, %d corrupt, "
	    "%ld flips\n", ok, corrupt, f.flips);
	ck_assert_int_gt(ok, 0);
	ck_assert_int_gt(corrupt, 0);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

#ifdef PROTETS_CRASHTEST
/* ---------------------------------------------------------------- */
/* Crash points of a batch over shards, and of its recovery. */

static pid_t
crash_child(struct tbl *t, const protets_kv *kv, size_t n, unsigned long k,
    int repair)
{
	pid_t	pid;

	if ((pid = fork()) == 0) {
		crash_signal(SIGKILL);
		crash_at(k);
		if (repair)
			_exit(tbl_repair(t) == 0 ? 0 : 3);
		_exit(tbl_insert_many(t, kv, n, 0) == 0 ? 0 : 2);
	}
	ck_assert_int_gt(pid, 0);
	return pid;
}


/* Read-only, before any recovery: the batch's keys all there or none. */
static int
batch_seen(struct tbl *tro, const protets_kv *kv, size_t n)
{
	size_t	i, got = 0;
	int	e;

	for (i = 0; i < n; i++) {
		e = tbl_member(tro, kv[i].key, kv[i].klen);
		ck_assert(e == 0 || e == PROTETS_NOTFOUND);
		got += e == 0;
	}
	ck_assert_msg(got == 0 || got == n, "%zu of %zu keys seen", got, n);
	return got == n;
}

/* Recover shard by shard, highest first: followers before the leader. */
static void
repair_down(struct tbl *t)
{
	struct tbl	v;
	unsigned	k;

	for (k = t->nshards; k-- > 0;) {
		tbl_view(t, k, &v);
		ck_assert_int_eq(tbl_repair(&v), 0);
	}
}

/*
 * Whether the recoverers are killed at every step of their own after the
 * writer was killed at step k.  The plain build: after every k.  Under
 * ASan, where a fork costs milliseconds and CI must stay under 15
 * minutes: after every fourth (the recovery code is the same at every k;
 * the plain build proves each state).
 */
static int
crash_recoverers(unsigned long k)
{
#ifdef __SANITIZE_ADDRESS__
	return k % 4 == 1;
#else
	(void)k;
	return 1;
#endif
}

/* _i: 0 kill the writer; 1 kill its recoverers at every step too. */
START_TEST(test_crash_batch)
{
	struct seg	 s;
	char		 kb[64][24];
	protets_kv	 kv[64];
	struct dump	 d0, d1, d;
	unsigned long	 k, j;
	size_t		 n;
	int		 after, killed = 1, rkilled;

	seg_new_shards(&s, 4 << 20, PROTETS_SET, 4);
	ck_assert_int_eq(tbl_insert(&s.t, "old", 3, "1", 1), 0);
	n = keys_over(&s.t, 0xd, 3, "x", kb, kv);	/* shards 0, 2, 3 */
	dump_of(&s.tro, &d0);
	for (k = 1; killed; k++) {
		killed = crash_wait(crash_child(&s.t, kv, n, k, 0));
		after = batch_seen(&s.tro, kv, n);
		for (j = 1, rkilled = _i && crash_recoverers(k); rkilled; j++)
			rkilled = crash_wait(crash_child(&s.t, kv, n, j, 1));
		if (k % 2)
			repair_down(&s.t);
		check_ok(&s.t);
		ck_assert_int_eq(batch_seen(&s.tro, kv, n), after);
		dump_of(&s.tro, &d);
		if (!after)
			ck_assert(dump_eq(&d, &d0));
		else {
			ck_assert(!killed || k > 1);
			ck_assert_uint_eq(d.n, d0.n + n);
		}
		dump_free(&d);
		if (after)
			ck_assert_int_eq(tbl_insert_many(&s.t, kv, n, 0) == 0 &&
			    tbl_clear(&s.t) == 0 &&
			    tbl_insert(&s.t, "old", 3, "1", 1) == 0, 1);
		dump_of(&s.tro, &d1);
		ck_assert(dump_eq(&d1, &d0));
		dump_free(&d1);
	}
	ck_assert_uint_gt(k, 20);
	dump_free(&d0);
	seg_free(&s);
}
END_TEST

/*
 * A writer that takes a shard whose last writer died in a batch, and
 * cannot recover it (the batch's other shard is held by a writer that is
 * stopped, and it may not wait), leaves the shard closed to lock-free
 * counter updates: they would change words that the dead batch's undo
 * log is yet to restore, and they never recover anything themselves.
 * Once a writer has recovered it, they go lock-free again.
 */
START_TEST(test_dirty_shard_closed)
{
	protets_counter_opts	 dflt = { .has_default = 1 };
	struct seg		 s;
	struct tbl		 v0;
	const struct tbl_fp	*fp;
	char			 ctr[24], k0[24], k1[24], kb[64][24], buf[24];
	protets_kv		 kv[64];
	unsigned long		 k;
	size_t			 n, len;
	int64_t			 r;
	pid_t			 pid;
	int			 seed = 100, st;

	seg_new_shards(&s, 1 << 20, PROTETS_SET, 2);
	key_in(&s.t, 0, "c", &seed, ctr, sizeof(ctr));
	key_in(&s.t, 0, "p", &seed, k0, sizeof(k0));
	key_in(&s.t, 1, "q", &seed, k1, sizeof(k1));
	/* a counter in shard 0; the second update goes lock-free */
	ck_assert_int_eq(tbl_update_counter(&s.t, ctr, strlen(ctr), 1, &dflt,
	    &r), 0);
	crash_at(0);
	ck_assert_int_eq(tbl_update_counter(&s.t, ctr, strlen(ctr), 1, NULL,
	    &r), 0);
	ck_assert_uint_eq(crash_steps(), 2);	/* in a slot */
	tbl_view(&s.t, 0, &v0);
	fp = fp_area(&v0);
	/* a batch over both shards, killed once shard 0 holds records */
	n = keys_over(&s.t, 0x3, 2, "b", kb, kv);
	for (k = 1;; k++) {
		ck_assert(crash_wait(crash_child(&s.t, kv, n, k, 0)));
		if (lk_undo_count(&v0) != 0 && lk_xpending(&v0) != 0)
			break;
		repair_down(&s.t);
	}
	/* a writer of shard 1 recovers it, and stops holding its lock */
	if ((pid = fork()) == 0) {
		crash_signal(SIGSTOP);
		crash_at(1);
		_exit(put(&s.t, k1, "w") ? 2 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	ck_assert(WIFSTOPPED(st));
	s.t.lock_timeout_ms = 0;
	ck_assert_int_eq(put(&s.t, k0, "v"), PROTETS_ELOCKED);
	ck_assert_uint_ne(lk_undo_count(&v0), 0);
	ck_assert_uint_eq(SH_LOAD(&fp->busy), 1);
	/* so the counter takes the lock, and cannot have it either */
	ck_assert_int_eq(tbl_update_counter(&s.t, ctr, strlen(ctr), 1, NULL,
	    &r), PROTETS_ELOCKED);
	ck_assert_int_eq(tbl_lookup(&s.tro, ctr, strlen(ctr), buf,
	    sizeof(buf), &len), 0);
	ck_assert(len == 1 && buf[0] == '2');
	kill(pid, SIGCONT);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	s.t.lock_timeout_ms = TBL_LOCK_TIMEOUT_MS;
	ck_assert_int_eq(put(&s.t, k0, "v"), 0);
	ck_assert_uint_eq(SH_LOAD(&fp->busy), 0);
	crash_at(0);
	ck_assert_int_eq(tbl_update_counter(&s.t, ctr, strlen(ctr), 1, NULL,
	    &r), 0);
	ck_assert_int_eq(r, 3);
	ck_assert_uint_eq(crash_steps(), 2);	/* lock-free again */
	ck_assert_int_eq(batch_seen(&s.tro, kv, n), 0);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/*
 * A writer stopped inside shard 1's lock: writers of shard 0 go on
 * without waiting; shard 1 (and a batch that needs it) fails at once
 * with ELOCKED when told not to wait; readers of shard 1 see its last
 * commit.
 */
START_TEST(test_stopped_shard)
{
	struct seg	 s;
	char		 k0[24], k1[24], kb[64][24];
	protets_kv	 kv[64];
	size_t		 n, len;
	char		 buf[8];
	pid_t		 pid;
	int		 seed = 0, st;

	seg_new_shards(&s, 1 << 20, PROTETS_SET, 2);
	key_in(&s.t, 0, "a", &seed, k0, sizeof(k0));
	key_in(&s.t, 1, "a", &seed, k1, sizeof(k1));
	ck_assert_int_eq(tbl_insert(&s.t, k1, strlen(k1), "old", 3), 0);
	if ((pid = fork()) == 0) {
		crash_signal(SIGSTOP);
		crash_at(3);
		_exit(tbl_insert(&s.t, k1, strlen(k1), "new", 3) == 0 ? 0 : 2);
	}
	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	ck_assert(WIFSTOPPED(st));
	s.t.lock_timeout_ms = 0;
	ck_assert_int_eq(tbl_insert(&s.t, k0, strlen(k0), "v", 1), 0);
	ck_assert_int_eq(tbl_insert(&s.t, k1, strlen(k1), "v", 1),
	    PROTETS_ELOCKED);
	ck_assert_int_eq(tbl_lock_holder(&s.t), pid);
	n = keys_over(&s.t, 0x3, 2, "c", kb, kv);
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, n, 0), PROTETS_ELOCKED);
	ck_assert_int_eq(tbl_member(&s.tro, kb[0], strlen(kb[0])),
	    PROTETS_NOTFOUND);
	ck_assert_int_eq(tbl_lookup(&s.tro, k1, strlen(k1), buf, sizeof(buf),
	    &len), 0);
	ck_assert(len == 3 && memcmp(buf, "old", 3) == 0);
	ck_assert_int_eq(tbl_lookup(&s.tro, k0, strlen(k0), buf, sizeof(buf),
	    &len), 0);
	kill(pid, SIGCONT);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	s.t.lock_timeout_ms = TBL_LOCK_TIMEOUT_MS;
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, n, 0), 0);
	ck_assert_uint_eq(count_of(&s.t), 2 + n);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST
#else
/* ---------------------------------------------------------------- */
/*
 * Two writer processes at once on one table, disjoint keys, on one lock
 * and on four shards: every insert is there and the table checks.  (How
 * fast: make bench, wc*_2proc.)
 */
#define TWO_WRITERS_OPS	200000

START_TEST(test_two_writers)
{
	static const unsigned	nshards[] = { 1, 4 };
	struct seg		s;
	char			k[32];
	pid_t			pid[2];
	int			w, i, st;

	seg_new_shards(&s, 128 << 20, PROTETS_SET, nshards[_i]);
	for (w = 0; w < 2; w++) {
		if ((pid[w] = fork()) == 0) {
			for (i = 0; i < TWO_WRITERS_OPS; i++) {
				snprintf(k, sizeof(k), "w%d-%d", w, i);
				if (tbl_insert(&s.t, k, strlen(k), "value", 5))
					_exit(2);
			}
			_exit(0);
		}
		ck_assert_int_gt(pid[w], 0);
	}
	for (w = 0; w < 2; w++) {
		ck_assert_int_eq(waitpid(pid[w], &st, 0), pid[w]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ck_assert_uint_eq(count_of(&s.t), 2 * TWO_WRITERS_OPS);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/*
 * update_counter from several processes at once, lock-free (fastpath.c)
 * where it can: two writers increment 64 shared counters and 500 each of
 * their own; a third inserts and deletes other keys, makes counters of
 * its own change length (the lock, new entries) and increments the
 * shared ones too; a fourth reads the shared counters, which must never
 * go down.  The shared counters start at 1000000, whose text crosses a
 * word boundary (the key is 2 or 3 bytes): every so many increments
 * change two words and take the lock, while the others go on lock-free.
 * No increment is lost.  On four shards, and on one with the lock-free
 * path forced (as a table with write_concurrency gets it).
 */
#define TWO_COUNTERS_OPS	256000	/* 2000 a shared counter a writer */
#define TWO_COUNTERS_SHARED	16
#define TWO_COUNTERS_BASE	1000000

struct two_counters {
	int	stop;
	long	churned[TWO_COUNTERS_SHARED];	/* the churner's increments */
};

static const protets_counter_opts ctr_dflt = { .has_default = 1 };

static void __attribute__((noreturn))
counter_writer(struct seg *s, int w)
{
	char	k[32];
	int	i;

	s->t.fast = 1;
	for (i = 0; i < TWO_COUNTERS_OPS; i++) {
		if (i % 2)
			snprintf(k, sizeof(k), "s%d", i / 2 %
			    TWO_COUNTERS_SHARED);
		else
			snprintf(k, sizeof(k), "w%d-%d", w, i / 2 % 500);
		if (tbl_update_counter(&s->t, k, strlen(k), 1, &ctr_dflt,
		    NULL) != 0)
			_exit(2);
	}
	_exit(0);
}

static void __attribute__((noreturn))
churn_writer(struct seg *s, volatile struct two_counters *tc)
{
	protets_counter_opts	o = { .has_default = 1, .has_threshold = 1,
				    .threshold = 99999, .setvalue = 7 };
	char			k[32];
	int			i, j;

	s->t.fast = 1;
	for (i = 0; !tc->stop; i++) {
		snprintf(k, sizeof(k), "x%d", i % 3000);
		if ((i & 1 ? tbl_insert(&s->t, k, strlen(k), "value", 5) :
		    tbl_delete(&s->t, k, strlen(k))) != 0)
			_exit(2);
		/* 7 .. 99999, then 7 again: the text's length changes */
		snprintf(k, sizeof(k), "len%d", i % 50);
		if (tbl_update_counter(&s->t, k, strlen(k), 4999, &o,
		    NULL) != 0)
			_exit(3);
		j = i % TWO_COUNTERS_SHARED;
		snprintf(k, sizeof(k), "s%d", j);
		if (tbl_update_counter(&s->t, k, strlen(k), 1, NULL,
		    NULL) != 0)
			_exit(4);
		tc->churned[j]++;
	}
	_exit(0);
}

static void __attribute__((noreturn))
counter_reader(struct seg *s, volatile struct two_counters *tc)
{
	int64_t	last[TWO_COUNTERS_SHARED] = { 0 }, v;
	char	k[32], buf[32];
	size_t	n;
	int	i, e;

	while (!tc->stop)
		for (i = 0; i < TWO_COUNTERS_SHARED; i++) {
			snprintf(k, sizeof(k), "s%d", i);
			e = tbl_lookup(&s->tro, k, strlen(k), buf,
			    sizeof(buf) - 1, &n);
			if (e == PROTETS_EAGAIN)
				continue;
			if (e != 0 || tbl_counter_parse(buf, n, &v) != 0 ||
			    v < last[i])
				_exit(5);
			last[i] = v;
		}
	_exit(0);
}

/* Counter k's value, which must be want. */
static void
counter_is(struct seg *s, const char *k, int64_t want)
{
	char	buf[32];
	size_t	n;
	int64_t	v;

	ck_assert_int_eq(tbl_lookup(&s->t, k, strlen(k), buf, sizeof(buf) - 1,
	    &n), 0);
	ck_assert_int_eq(tbl_counter_parse(buf, n, &v), 0);
	ck_assert_msg(v == want, "%s = %lld, not %lld", k, (long long)v,
	    (long long)want);
}

START_TEST(test_two_counters)
{
	static const unsigned		 nshards[] = { 1, 4 };
	volatile struct two_counters	*tc;
	struct seg			 s;
	char				 k[32];
	pid_t				 pid[4];
	int				 w, i, st;

	tc = mmap(NULL, sizeof(*tc), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne((void *)tc, MAP_FAILED);
	seg_new_shards(&s, 64 << 20, PROTETS_SET, nshards[_i]);
	for (i = 0; i < TWO_COUNTERS_SHARED; i++) {
		snprintf(k, sizeof(k), "s%d", i);
		ck_assert_int_eq(put(&s.t, k, "1000000"), 0);
	}
	for (w = 0; w < 4; w++) {
		if ((pid[w] = fork()) == 0) {
			if (w < 2)
				counter_writer(&s, w);
			if (w == 2)
				churn_writer(&s, tc);
			counter_reader(&s, tc);
		}
		ck_assert_int_gt(pid[w], 0);
	}
	for (w = 0; w < 4; w++) {
		if (w == 2)
			tc->stop = 1;
		ck_assert_int_eq(waitpid(pid[w], &st, 0), pid[w]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "process %d: status %d", w, st);
	}
	for (i = 0; i < TWO_COUNTERS_SHARED; i++) {
		snprintf(k, sizeof(k), "s%d", i);
		counter_is(&s, k, TWO_COUNTERS_BASE + TWO_COUNTERS_OPS /
		    TWO_COUNTERS_SHARED + tc->churned[i]);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "w%d-%d", i / 500, i % 500);
		counter_is(&s, k, TWO_COUNTERS_OPS / 2 / 500);
	}
	check_ok(&s.t);
	seg_free(&s);
	munmap((void *)tc, sizeof(*tc));
}
END_TEST
#endif

#ifndef PROTETS_CRASHTEST
/*
 * Slots are given one to a thread while there are slots; once all 16
 * have been, a new thread takes one whose process is gone rather than
 * share a live thread's.  Sixteen processes each take one (fifteen stay
 * alive, waiting); the one that exited frees its slot for a seventeenth.
 */
static pid_t
slot_taker(struct seg *s, const char *k, const int *p)
{
	char	c;
	pid_t	pid;

	if ((pid = fork()) == 0) {
		if (tbl_update_counter(&s->t, k, strlen(k), 1,
		    &(protets_counter_opts){ .has_default = 1 }, NULL) != 0)
			_exit(2);
		if (p == NULL)
			_exit(0);
		close(p[1]);
		_exit(read(p[0], &c, 1) == 0 ? 0 : 3);	/* until EOF */
	}
	ck_assert_int_gt(pid, 0);
	return pid;
}

START_TEST(test_slots_reused)
{
	const struct tbl_fp	*fp;
	struct seg		 s;
	struct tbl		 v0;
	char			 k[24];
	pid_t			 pid[17];
	int			 p[2], i, st, seed = 0;

	seg_new_shards(&s, 1 << 20, PROTETS_SET, 2);
	key_in(&s.t, 0, "c", &seed, k, sizeof(k));
	tbl_view(&s.t, 0, &v0);
	fp = fp_area(&v0);
	ck_assert_int_eq(pipe(p), 0);
	for (i = 0; i < 16; i++) {
		pid[i] = slot_taker(&s, k, i < 15 ? p : NULL);
		/* in order: each has its slot before the next comes */
		while (SH_LOAD(&fp->slot[i].pid) != (uint64_t)pid[i])
			usleep(1000);
	}
	ck_assert_int_eq(waitpid(pid[15], &st, 0), pid[15]);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_uint_eq(SH_LOAD(&fp->used), 0xffff);
	pid[16] = slot_taker(&s, k, NULL);
	ck_assert_int_eq(waitpid(pid[16], &st, 0), pid[16]);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_uint_eq(SH_LOAD(&fp->slot[15].pid), (uint64_t)pid[16]);
	close(p[1]);
	for (i = 0; i < 15; i++) {
		ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	close(p[0]);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST
#endif

static Suite *
shards_suite(void)
{
	Suite	*s = suite_create("shards");
	TCase	*tc;

	tc = tcase_create("ops");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_format);
	tcase_add_loop_test(tc, test_differential, 0, 6);
	tcase_add_test(tc, test_batch_atomic);
	tcase_add_test(tc, test_check_during_batches);
	tcase_add_test(tc, test_open_header_flips);
#ifdef PROTETS_CRASHTEST
	tcase_add_loop_test(tc, test_crash_batch, 0, 2);
	tcase_add_test(tc, test_stopped_shard);
	tcase_add_test(tc, test_dirty_shard_closed);
#else
	tcase_add_loop_test(tc, test_two_writers, 0, 2);
	tcase_add_loop_test(tc, test_two_counters, 0, 2);
	tcase_add_test(tc, test_slots_reused);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(shards_suite());
	int	 nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
