/*
 * tests/shm_crash.c - check_shm: crash-point enumeration (the engine built with -DPROTETS_CRASHTEST).
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

#include "alloc.h"
#include "crash.h"
#include "protets.h"
#include "seg.h"
#include "table.h"
#include "tblint.h"

#include "shmutil.h"

#ifdef PROTETS_CRASHTEST
static int
dig_fold(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	uint64_t	*d = arg;

	d[0] += XXH3_64bits_withSeed(k, klen, 1) * 3 ^
	    XXH3_64bits_withSeed(v, vlen, 2);
	d[1]++;
	return 0;
}

/*
 * Contents digest, also checking count agrees with foldl; on an
 * ordered_set, d[0] also covers the order of the walk.
 */
static void
digest(struct tbl *t, uint64_t d[2])
{
	d[0] = d[1] = 0;
	ck_assert_int_eq(tbl_foldl(t, dig_fold, d), 0);
	ck_assert_uint_eq(count_of(t), d[1]);
	if (t->type == PROTETS_ORDERED_SET)
		d[0] ^= ord_digest(t);
}

/*
 * Crash-point enumeration: for each scenario and operation, kill a child
 * writer at every crash point k of the operation; the parent's next lock
 * recovers, the table passes tbl_check and its contents are exactly those
 * before or after the operation.
 */
enum { OP_NEW, OP_NEW_BIG, OP_REPLACE, OP_DEL_HEAD, OP_DEL_TAIL,
    OP_DEL_MISSING, OP_INSNEW_BATCH, OP_BATCH, OP_DELOBJ, OP_TAKE,
    OP_COUNTER_NEW, OP_COUNTER, OP_COUNTER_HINT, OP_COUNTER_LONGER,
    OP_CLEAR, OP_BAG_ADD, OP_BAG_DELOBJ, OP_BAG_TAKE, OP_BAG_DELETE,
    OP_NOPS };

static const char *const op_names[OP_NOPS] = { "new", "big", "replace",
    "del-head", "del-tail", "missing", "insert-new-batch", "batch",
    "delete-object", "take", "counter-new", "counter", "counter-hint",
    "counter-longer", "clear", "bag-add",
    "bag-delete-object", "bag-take", "bag-delete" };

struct crash_sc {
	char	keys[32][24];	/* keys of bucket 0's chain, in order */
	int	nkeys;
	char	ctr[24];	/* a counter, "41", outside bucket 0 */
};

/*
 * Scenario: bucket 0 holds nchain keys (9 that move on its split, the
 * rest stay), other buckets fill the table up to nfill entries (no more
 * ever, so that with nfill == LOAD * NB0 the next new key splits), and
 * deleted entries of OP_NEW's size class leave blocks on a free list.
 */
static void
sc_setup(struct seg *s, struct crash_sc *sc, int nchain, int nfill)
{
	char	k[24], v[64];
	int	seed = 0, i, n;

	memset(v, 'f', sizeof(v));
	sc->nkeys = 0;
	for (i = 0; i < nchain; i++) {
		key_with_hash(k, sizeof(k), "c", 31, i < 9 ? 16 : 0, &seed);
		ck_assert_int_eq(tbl_insert(&s->t, k, strlen(k), v, 20), 0);
		snprintf(sc->keys[sc->nkeys++], sizeof(sc->keys[0]), "%s", k);
	}
	/* 8 + 5 + 8 bytes: class 24, as "newkey" => "newvalue" */
	for (i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "gone%d", i);
		ck_assert_int_eq(tbl_insert(&s->t, k, strlen(k), v, 8), 0);
	}
	for (i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "gone%d", i);
		ck_assert_int_eq(tbl_delete(&s->t, k, strlen(k)), 0);
	}
	key_with_hash(sc->ctr, sizeof(sc->ctr), "ctr", 15, 3, &seed);
	ck_assert_int_eq(put(&s->t, sc->ctr, "41"), 0);
	for (n = nchain + 1; n < nfill; n++) {
		key_with_hash(k, sizeof(k), "f", 15, 1 + n % 15, &seed);
		ck_assert_int_eq(tbl_insert(&s->t, k, strlen(k), v, 20), 0);
	}
	ck_assert_uint_eq(count_of(&s->t), (uint64_t)nfill);
	ck_assert_uint_ne(state_of(s)->al_free[1], 0);	/* class 24 */
	if (s->t.type == PROTETS_BAG || s->t.type == PROTETS_DUPLICATE_BAG) {
		/* 11 more values of the chain's first key: overflow */
		for (i = 0; i < 11; i++) {
			snprintf(v, sizeof(v), "bagvalue%d", i);
			ck_assert_int_eq(put(&s->t, sc->keys[0], v), 0);
		}
	}
	check_ok(&s->t);
}

static int
crash_op(struct tbl *t, const struct crash_sc *sc, int op)
{
	static unsigned char	big[5000];
	protets_kv		kv[3];
	char			k2[24];
	int			n = 0, e, seed = 1000;
	int64_t			r;
	protets_counter_opts	o = { 0, 0, 0, 1, 7 };

	tbl_hints_forget();	/* the same path counted and crashed */
	switch (op) {
	case OP_NEW:
		return put(t, "newkey", "newvalue");
	case OP_NEW_BIG:
		memset(big, 'B', sizeof(big));
		return tbl_insert(t, "newbig", 6, big, sizeof(big));
	case OP_REPLACE:
		return put(t, sc->keys[0], "replaced-value");
	case OP_DEL_HEAD:
		return tbl_delete(t, sc->keys[0], strlen(sc->keys[0]));
	case OP_DEL_TAIL:
		return tbl_delete(t, sc->keys[sc->nkeys - 1],
		    strlen(sc->keys[sc->nkeys - 1]));
	case OP_INSNEW_BATCH:
	case OP_BATCH:
		/* one new key in bucket 0's chain (a split, when full) */
		key_with_hash(k2, sizeof(k2), "b", 31, 16, &seed);
		kv[0] = (protets_kv){ "newkey", 6, "newvalue", 8 };
		kv[1] = (protets_kv){ k2, strlen(k2), "v2", 2 };
		if (op == OP_BATCH)	/* and a replace */
			kv[2] = (protets_kv){ sc->keys[0],
			    strlen(sc->keys[0]), "replaced", 8 };
		else
			kv[2] = (protets_kv){ "third", 5, big, 300 };
		return tbl_insert_many(t, kv, 3, op == OP_INSNEW_BATCH);
	case OP_DELOBJ:
		return tbl_delete_object(t, sc->keys[0], strlen(sc->keys[0]),
		    "ffffffffffffffffffff", 20, NULL);
	case OP_TAKE:
	case OP_BAG_TAKE:
		e = tbl_take(t, sc->keys[0], strlen(sc->keys[0]),
		    cb_count, &n);
		return e != 0 ? e : n == (op == OP_TAKE ? 1 : 12) ? 0 : -1;
	case OP_COUNTER_NEW:
		e = tbl_update_counter(t, "newctr", 6, 5, &o, &r);
		return e != 0 ? e : r == 12 ? 0 : -1;
	case OP_COUNTER:
		e = tbl_update_counter(t, sc->ctr, strlen(sc->ctr), 1, &o, &r);
		return e != 0 ? e : r == 42 ? 0 : -1;
	case OP_COUNTER_HINT:
	case OP_COUNTER_LONGER:
		/*
		 * An increment of 0 changes nothing but leaves this
		 * process a hint (table_counter.c): the update goes through it,
		 * in place (42: lock-free, in a slot, as on a sharded
		 * table) or as a new entry ("100", longer: the lock).
		 */
		t->fast = 1;
		e = tbl_update_counter(t, sc->ctr, strlen(sc->ctr), 0, &o, &r);
		if (e != 0 || r != 41)
			return e != 0 ? e : -1;
		e = tbl_update_counter(t, sc->ctr, strlen(sc->ctr),
		    op == OP_COUNTER_HINT ? 1 : 59, &o, &r);
		return e != 0 ? e : r == (op == OP_COUNTER_HINT ? 42 : 100) ?
		    0 : -1;
	case OP_CLEAR:
		return tbl_clear(t);
	case OP_BAG_ADD:
		return put(t, sc->keys[0], "another value");
	case OP_BAG_DELOBJ:
		return tbl_delete_object(t, sc->keys[0], strlen(sc->keys[0]),
		    "bagvalue3", 9, NULL);
	case OP_BAG_DELETE:
		return tbl_delete(t, sc->keys[0], strlen(sc->keys[0]));
	default:
		return tbl_delete(t, "missing", 7);
	}
}

/*
 * Which crash points an enumeration visits.  The plain build: the writer
 * killed at every step, and at every third the recoverer killed at every
 * step of its own.  Under ASan, where a fork costs milliseconds and CI
 * must stay under 15 minutes: the writer at the first step, every third
 * and past the last, the recoverers at every sixth.  ASan looks for memory errors in code that is the
 * same at every step (recovery is a walk over the log), so every state
 * need not be visited twice; the plain build proves each one.
 */
static int
crash_visit(unsigned long k, unsigned long steps)
{
#ifdef __SANITIZE_ADDRESS__
	return k == 1 || k > steps || k % 3 == 0;
#else
	(void)k;
	(void)steps;
	return 1;
#endif
}

static int
crash_visit_recovery(unsigned long k)
{
#ifdef __SANITIZE_ADDRESS__
	return k % 6 == 3;
#else
	return k % 3 == 0;
#endif
}

static pid_t
crash_child(struct seg *s, const struct crash_sc *sc, int op, unsigned long k)
{
	pid_t	pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		crash_at(k);
		_exit(crash_op(&s->t, sc, op) == 0 ? 0 : 2);
	}
	return pid;
}


static void
crash_verify(struct seg *s, const uint64_t *d0, const uint64_t *d1,
    unsigned long k, int *before, int *after)
{
	uint64_t	d[2];

	check_ok(&s->t);	/* takes the lock: recovers */
	digest(&s->tro, d);
	if (d[0] == d0[0] && d[1] == d0[1])
		(*before)++;
	else {
		ck_assert_msg(d[0] == d1[0] && d[1] == d1[1],
		    "step %lu: neither before nor after", k);
		(*after)++;
	}
}

static void
crash_enumerate_ops(unsigned type, int nchain, int nfill, int test_recovery,
    const int *ops, int nops)
{
	static struct seg	s;
	struct crash_sc		sc;
	unsigned char		*snap, *dead;
	uint64_t		d0[2], d1[2];
	unsigned long		steps, k, j;
	int			op, oi, before, after, rkills;
	unsigned long		total = 0, kills = 0, allrkills = 0;
	unsigned long		allsteps[OP_NOPS];

	seg_new_type(&s, 1 << 20, type);
	sc_setup(&s, &sc, nchain, nfill);
	snap = malloc(s.size);
	dead = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	for (oi = 0; oi < nops; oi++) {
		op = ops[oi];
		memcpy(s.rw, snap, s.size);
		digest(&s.tro, d0);
		crash_at(0);	/* count, never kill */
		ck_assert_int_eq(crash_op(&s.t, &sc, op), 0);
		steps = crash_steps();
		allsteps[op] = steps;
		total += steps;
		digest(&s.tro, d1);
		check_ok(&s.t);
		ck_assert_uint_gt(steps, 0);
		before = after = rkills = 0;
		for (k = 1; k <= steps + 1; k++) {
			if (!crash_visit(k, steps))
				continue;
			memcpy(s.rw, snap, s.size);
			tbl_hints_forget();
			ck_assert_int_eq(crash_wait(crash_child(&s, &sc, op,
			    k)), k <= steps);
			kills += k <= steps;
			if (test_recovery && k <= steps &&
			    crash_visit_recovery(k) &&
			    (steps < 60 || k % 15 == 0)) {
				/* kill the recoverer too, at each step (long
				 * operations: at every 15th step of theirs) */
				memcpy(dead, s.rw, s.size);
				for (j = 1; j < 10000; j++) {
					pid_t p = fork();
					if (p == 0) {
						crash_at(j);
						_exit(tbl_repair(&s.t) ? 2 : 0);
					}
					if (!crash_wait(p))
						break;
					rkills++;
					crash_verify(&s, d0, d1, k, &before,
					    &after);
					memcpy(s.rw, dead, s.size);
					tbl_hints_forget();
				}
			}
			crash_verify(&s, d0, d1, k, &before, &after);
			/* and the table goes on working */
			if (k % 7 == 0) {
				ck_assert_int_eq(put(&s.t, "after", "crash"), 0);
				check_ok(&s.t);
			}
		}
		/* killed before the commit: before; after it: after */
		ck_assert_int_gt(before, 0);
		if (op != OP_DEL_MISSING)
			ck_assert_int_gt(after, 0);
		if (test_recovery)
			ck_assert_int_gt(rkills, 0);
		allrkills += rkills;
	}
	fprintf(stderr, "crash %s chain=%d fill=%d: %lu kills of %lu steps, "
	    "%lu recoverers killed; steps per op:",
	    type == PROTETS_SET ? "set" : type == PROTETS_BAG ? "bag" :
	    type == PROTETS_ORDERED_SET ? "ordered_set" : "duplicate_bag",
	    nchain, nfill, kills, total, allrkills);
	for (oi = 0; oi < nops; oi++)
		fprintf(stderr, " %s %lu", op_names[ops[oi]], allsteps[ops[oi]]);
	fprintf(stderr, "\n");
	free(snap);
	free(dead);
	seg_free(&s);
}

static const int set_ops[] = { OP_NEW, OP_NEW_BIG, OP_REPLACE,
    OP_DEL_HEAD, OP_DEL_TAIL, OP_DEL_MISSING, OP_INSNEW_BATCH, OP_BATCH,
    OP_DELOBJ, OP_TAKE, OP_COUNTER_NEW, OP_COUNTER, OP_COUNTER_HINT,
    OP_COUNTER_LONGER, OP_CLEAR };
static const int bag_ops[] = { OP_NEW, OP_BAG_ADD, OP_DEL_TAIL,
    OP_DEL_MISSING, OP_INSNEW_BATCH, OP_BAG_DELOBJ, OP_BAG_TAKE,
    OP_BAG_DELETE, OP_CLEAR };

#define NOPS(a)	((int)(sizeof(a) / sizeof((a)[0])))

/*
 * A set: every step of every operation, from a chain (bucket 0) of nchain
 * entries in a table of nfill, and with recoverers killed at every step
 * of recovery too.
 */
static const struct {
	int	nchain, nfill, recovery;
} set_cases[] = {
	{ 3, 20, 0 },		/* plain chain, no split on insert */
	{ 13, 64, 0 },		/* an overflow bucket; inserts split it */
	{ 8, 30, 0 },		/* deleting frees the overflow bucket */
	{ 13, 64, 1 },		/* recoverers killed */
};

START_TEST(test_crash_set)
{
#ifdef __SANITIZE_ADDRESS__
	/* the last case visits the same writer steps, and recoverers too */
	if (set_cases[_i].nchain == 13 && !set_cases[_i].recovery)
		return;
#endif
	crash_enumerate_ops(PROTETS_SET, set_cases[_i].nchain,
	    set_cases[_i].nfill, set_cases[_i].recovery, set_ops,
	    NOPS(set_ops));
}
END_TEST

/* Bags: a key with 12 values over two buckets; with and without split. */
START_TEST(test_crash_bag)
{
	unsigned	type = _i < 2 ? PROTETS_BAG : PROTETS_DUPLICATE_BAG;

	crash_enumerate_ops(type, _i % 2 ? 13 : 3, _i % 2 ? 64 : 20,
	    _i == 1, bag_ops, NOPS(bag_ops));
}
END_TEST

/*
 * ordered_set: every step of every set operation (insert new and
 * replace, batches, delete, take, delete_object, counters, clear) with
 * the ordered index in play; the digest covers the walk's order and
 * tbl_check the index's.  With a split, and with recoverers killed.
 */
START_TEST(test_crash_ordered)
{
	crash_enumerate_ops(PROTETS_ORDERED_SET, _i ? 13 : 3, _i ? 64 : 20,
	    _i == 1, set_ops, NOPS(set_ops));
}
END_TEST

/*
 * The allocator's split: a table whose heap is exhausted, with free
 * blocks only of a big class (every other 3000-byte entry deleted); a
 * batch of three small entries of three classes takes them out of those
 * blocks, each split leaving pieces on the free lists.  Every step is
 * killed, the recoverer too at every third; the table is before or
 * after, and passes tbl_check.  _i: set, ordered_set (its index nodes
 * are split off too).
 */
static int
split_op(struct tbl *t)
{
	static const protets_kv	kv[3] = {
		{ "split-a", 7, "0123456789abcdef0123456789abcdef", 32 },
		{ "split-bb", 8, "0123456789abcdef0123456789abcdef"
		    "0123456789abcdef0123456789abcdef", 64 },
		{ "split-ccc", 9, "0123456789", 10 },
	};

	return tbl_insert_many(t, kv, 3, 1);
}

/* Blocks on the free list of class cls. */
static uint64_t
free_blocks(struct seg *s, unsigned cls)
{
	uint64_t	off, n = 0;

	for (off = state_of(s)->al_free[cls]; off != 0 && n < s->size;
	    off = *(uint64_t *)(void *)(s->rw + off))
		n++;
	return n;
}

START_TEST(test_crash_split)
{
	static struct seg	s;
	unsigned char		*snap, *dead;
	uint64_t		d0[2], d1[2], top, nbig;
	unsigned long		steps, k, j;
	unsigned		big_cls;
	int			n, e, before = 0, after = 0, rkills = 0;

	seg_new_type(&s, tbl_min_size() + 256 * 1024,
	    _i ? PROTETS_ORDERED_SET : PROTETS_SET);
	n = fill_keys(&s.t, "big-", 3000, &e);
	ck_assert_int_eq(e, PROTETS_EFULL);
	/* what the heap has left, to the last block a key can take */
	(void)fill_keys(&s.t, "pad-", 100, NULL);
	(void)fill_keys(&s.t, "dot-", 1, NULL);
	delete_every(&s.t, "big-", n, 2);
	check_ok(&s.t);
	snap = malloc(s.size);
	dead = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	digest(&s.tro, d0);
	top = state_of(&s)->top;
	big_cls = al_class(8 + strlen("big-0") + 3000);
	nbig = free_blocks(&s, big_cls);
	ck_assert_uint_ge(nbig, (uint64_t)n / 2 - 1);
	crash_at(0);	/* count, never kill */
	ck_assert_int_eq(split_op(&s.t), 0);
	steps = crash_steps();
	digest(&s.tro, d1);
	check_ok(&s.t);
	/* the blocks came out of big ones (the top had a few bytes left) */
	ck_assert_uint_lt(free_blocks(&s, big_cls), nbig);
	ck_assert_uint_le(state_of(&s)->top - top, 64);
	ck_assert_uint_eq(d1[1], d0[1] + 3);
	for (k = 1; k <= steps + 1; k++) {
		pid_t	pid;

		if (!crash_visit(k, steps))
			continue;
		memcpy(s.rw, snap, s.size);
		tbl_hints_forget();
		if ((pid = fork()) == 0) {
			crash_at(k);
			_exit(split_op(&s.t) == 0 ? 0 : 2);
		}
		ck_assert_int_gt(pid, 0);
		ck_assert_int_eq(crash_wait(pid), k <= steps);
		for (j = 1; k <= steps && crash_visit_recovery(k) && j < 10000;
		    j++) {
			memcpy(dead, s.rw, s.size);
			if ((pid = fork()) == 0) {
				crash_at(j);
				_exit(tbl_repair(&s.t) ? 2 : 0);
			}
			if (!crash_wait(pid))
				break;
			rkills++;
			crash_verify(&s, d0, d1, k, &before, &after);
			memcpy(s.rw, dead, s.size);
			tbl_hints_forget();
		}
		crash_verify(&s, d0, d1, k, &before, &after);
	}
	ck_assert_int_gt(before, 0);
	ck_assert_int_gt(after, 0);
	ck_assert_int_gt(rkills, 0);
	fprintf(stderr, "crash %s split: %lu steps, %d recoverers killed\n",
	    _i ? "ordered_set" : "set", steps, rkills);
	free(snap);
	free(dead);
	seg_free(&s);
}
END_TEST

#ifndef __SANITIZE_ADDRESS__	/* see shm_tests_crash */
/*
 * Every writer step paired with every recoverer step, on a table of one
 * stripe (batches over shards: check_shards_crash).  For each operation
 * and each crash point k of it, the writer is killed at k; then for each
 * step j of the recovery that follows, a recoverer is stopped at j, a
 * second one after it (on the state the first left) stopped at j too, and
 * the table then recovered whole.  At every one of these moments:
 *
 *  - a read-only reader (through the undo log when it must) sees exactly
 *    the state the recovery will end on: before the operation when the
 *    writer died before its commit point, after it otherwise;
 *  - the stripe's sequence has never gone back (a value a reader saw is
 *    never taken again: a rollback restoring it would let optimistic
 *    readers accept state from the middle of a change), and once the
 *    writer has made it odd, the end is past every value seen;
 *  - the recovered table passes tbl_check and holds that same state.
 *
 * The writer's points include the stores that make the sequence odd and
 * move it on (lock_undo.c: lk_dirty, lk_bump), so that no state the lock
 * protocol passes through is missed.
 */
struct pr_obs {
	uint64_t	seq0;		/* before the operation */
	uint64_t	last;		/* the last sequence seen */
	int		odd;		/* the writer made it odd */
};

static uint64_t
pr_seq(struct seg *s)
{
	return __atomic_load_n(&((struct tbl_stripe *)(void *)(s->rw +
	    TBL_STRIPE_OFF))->seq, __ATOMIC_ACQUIRE);
}

/* One moment: the reader's view is want, the sequence never went back. */
static void
pr_observe(struct seg *s, struct pr_obs *o, const uint64_t *want,
    const char *what, int op, unsigned long k, unsigned long j)
{
	uint64_t	d[2], seq = pr_seq(s);

	ck_assert_msg(seq >= o->last, "%s k=%lu j=%lu (%s): sequence went "
	    "back from %llu to %llu", op_names[op], k, j, what,
	    (unsigned long long)o->last, (unsigned long long)seq);
	o->last = seq;
	o->odd |= (seq & 1) != 0;
	digest(&s->tro, d);
	ck_assert_msg(d[0] == want[0] && d[1] == want[1], "%s k=%lu j=%lu "
	    "(%s): a reader sees neither what recovery ends on", op_names[op],
	    k, j, what);
}

/* A recoverer stopped at its step j: its pid, 0 if it finished first. */
static pid_t
pr_recoverer(struct seg *s, unsigned long j)
{
	pid_t	pid;
	int	st;

	if ((pid = fork()) == 0) {
		crash_signal(SIGSTOP);
		crash_at(j);
		_exit(tbl_repair(&s->t) == 0 ? 0 : 2);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	if (WIFSTOPPED(st))
		return pid;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "recoverer failed: %#x", st);
	return 0;
}

static void
pr_kill(pid_t pid)
{
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}

/* The end of it all: recovered whole, want, the sequence even and past. */
static void
pr_final(struct seg *s, struct pr_obs *o, const uint64_t *want, int op,
    unsigned long k, unsigned long j)
{
	check_ok(&s->t);	/* takes the lock: recovers */
	pr_observe(s, o, want, "recovered", op, k, j);
	ck_assert_uint_eq(o->last & 1, 0);
	if (o->odd)
		ck_assert_msg(o->last > o->seq0, "%s k=%lu: sequence back at "
		    "%llu after a change", op_names[op], k,
		    (unsigned long long)o->last);
}

/* Writer killed at k; recoverers at every step. Returns the pairs run. */
static unsigned long
pr_step(struct seg *s, const struct crash_sc *sc, const unsigned char *snap,
    unsigned char *dead, int op, unsigned long k, const uint64_t *d0,
    const uint64_t *d1)
{
	struct pr_obs	o;
	const uint64_t	*want;
	uint64_t	d[2];
	unsigned long	j;
	pid_t		pid;

	memcpy(s->rw, snap, s->size);
	tbl_hints_forget();
	o.seq0 = o.last = pr_seq(s);
	o.odd = 0;
	ck_assert_int_eq(crash_wait(crash_child(s, sc, op, k)), 1);
	/* what recovery ends on, learnt on a copy */
	memcpy(dead, s->rw, s->size);
	check_ok(&s->t);
	digest(&s->tro, d);
	ck_assert((d[0] == d0[0] && d[1] == d0[1]) ||
	    (d[0] == d1[0] && d[1] == d1[1]));
	want = d[0] == d0[0] && d[1] == d0[1] ? d0 : d1;
	memcpy(s->rw, dead, s->size);
	tbl_hints_forget();
	pr_observe(s, &o, want, "writer dead", op, k, 0);
	for (j = 1;; j++) {
		struct pr_obs	oj = o;

		ck_assert_msg(j < 10000, "%s k=%lu: a recovery without end",
		    op_names[op], k);
		memcpy(s->rw, dead, s->size);
		tbl_hints_forget();
		if ((pid = pr_recoverer(s, j)) == 0)
			break;		/* past its last step */
		pr_observe(s, &oj, want, "recoverer stopped", op, k, j);
		pr_kill(pid);
		pr_observe(s, &oj, want, "recoverer killed", op, k, j);
		if ((pid = pr_recoverer(s, j)) != 0) {
			pr_observe(s, &oj, want, "second recoverer stopped",
			    op, k, j);
			pr_kill(pid);
		}
		pr_final(s, &oj, want, op, k, j);
	}
	memcpy(s->rw, dead, s->size);
	tbl_hints_forget();
	pr_final(s, &o, want, op, k, j);
	return j;
}

static void
pr_enumerate(unsigned type, int nchain, int nfill, const int *ops, int nops)
{
	static struct seg	s;
	struct crash_sc		sc;
	unsigned char		*snap, *dead;
	uint64_t		d0[2], d1[2];
	unsigned long		steps, k, pairs = 0;
	int			oi;

	seg_new_type(&s, 1 << 20, type);
	sc_setup(&s, &sc, nchain, nfill);
	snap = malloc(s.size);
	dead = malloc(s.size);
	ck_assert(snap != NULL && dead != NULL);
	memcpy(snap, s.rw, s.size);
	for (oi = 0; oi < nops; oi++) {
		memcpy(s.rw, snap, s.size);
		tbl_hints_forget();
		digest(&s.tro, d0);
		crash_at(0);	/* count, never kill */
		ck_assert_int_eq(crash_op(&s.t, &sc, ops[oi]), 0);
		steps = crash_steps();
		digest(&s.tro, d1);
		for (k = 1; k <= steps; k++)
			pairs += pr_step(&s, &sc, snap, dead, ops[oi], k, d0,
			    d1);
	}
	fprintf(stderr, "crash pairs %s chain=%d fill=%d: %lu writer steps x "
	    "recoverer steps\n", type == PROTETS_SET ? "set" :
	    type == PROTETS_ORDERED_SET ? "ordered_set" : "bag", nchain,
	    nfill, pairs);
	free(snap);
	free(dead);
	seg_free(&s);
}

/* A set with an overflow chain whose inserts split; an ordered_set. */
START_TEST(test_crash_pairs)
{
	if (_i == 0)
		pr_enumerate(PROTETS_SET, 13, 64, set_ops, NOPS(set_ops));
	else
		pr_enumerate(PROTETS_ORDERED_SET, 3, 20, set_ops,
		    NOPS(set_ops));
}
END_TEST
#endif


/* Add this file's tests to tc. */
void
shm_tests_crash(TCase *tc)
{
	tcase_add_loop_test(tc, test_crash_set, 0, NOPS(set_cases));
	tcase_add_loop_test(tc, test_crash_bag, 0, 4);
	tcase_add_loop_test(tc, test_crash_ordered, 0, 2);
	tcase_add_loop_test(tc, test_crash_split, 0, 2);
#ifndef __SANITIZE_ADDRESS__
	/*
	 * Not under ASan: a fork of an ASan process costs milliseconds, and
	 * the 18,043 pairs would take CI far past 15 minutes (every 7th
	 * writer step alone ran over 5 minutes of an idle CI run).  The
	 * recovery paths run under ASan in test_crash_* above, recoverers
	 * killed too.
	 */
	tcase_add_loop_test(tc, test_crash_pairs, 0, 2);
#endif
}
#endif /* PROTETS_CRASHTEST */
