/*
 * tests/shm_corrupt.c - check_shm: damaged segments: ECORRUPT, never a crash.
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
#include "tblint.h"

/* ---------------------------------------------------------------- */
/* Corruption: no crash, ECORRUPT reported. */

static void
populate(struct seg *s, int n, int vlen)
{
	char	k[32], v[512];
	int	i;

	memset(v, 'p', sizeof(v));
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "p%d", i);
		ck_assert_int_eq(tbl_insert(&s->t, k, strlen(k), v,
		    (size_t)(vlen >= 0 ? vlen : i % 300)), 0);
	}
}

/* Exercise every operation; the results are whatever they are. */
static int
poke_all(struct seg *s, int n)
{
	static unsigned char	buf[1024];
	char			k[32], msg[128];
	size_t			len;
	uint64_t		cnt;
	int			i, fails = 0;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "p%d", i);
		if (tbl_lookup(&s->tro, k, strlen(k), buf, sizeof(buf), &len)
		    == PROTETS_ECORRUPT)
			fails++;
	}
	(void)tbl_count(&s->tro, &cnt);
	(void)tbl_foldl(&s->tro, cb_count_stop, &i);
	(void)tbl_foldl(&s->tro, cb_count, &i);
	(void)put(&s->t, "p1", "replaced");
	(void)put(&s->t, "brand-new", "x");
	(void)tbl_delete(&s->t, "p2", 2);
	(void)tbl_check(&s->tro, msg, sizeof(msg));
	return fails;
}

/* First non-empty slot of chunk 0. */
static uint64_t
some_slot(struct seg *s)
{
	uint64_t	off = state_of(s)->ix_chunk[0], i;

	for (i = 0; i < TBL_IX_NB0 * TBL_BUCKET_SLOTS; i++)
		if (*word_at(s, off + (i / 7) * 64 + (i % 7) * 8) != 0)
			return off + (i / 7) * 64 + (i % 7) * 8;
	ck_abort_msg("no slot");
	return 0;
}

static unsigned
al_class_of_entry(struct seg *s, uint64_t eoff)
{
	return (unsigned)(*word_at(s, eoff) >> 48) & 0xff;
}

static void
expect_corrupt(struct seg *s, const char *what)
{
	char	msg[256];

	msg[0] = '\0';
	ck_assert_msg(tbl_check(&s->t, msg, sizeof(msg)) == PROTETS_ECORRUPT,
	    "%s: not detected", what);
	ck_assert_msg(msg[0] != '\0', "%s: no message", what);
	ck_assert_int_eq(tbl_check(&s->tro, msg, sizeof(msg)),
	    PROTETS_ECORRUPT);
	(void)poke_all(s, 300);
}

/*
 * ordered_set: damage to the ordered index is reported by tbl_check, and
 * walks over it end (ECORRUPT or a result), never loop or crash.
 */
static void
ord_walks_end(struct seg *s)
{
	char		k[PROTETS_KEY_MAX];
	size_t		klen;
	uint64_t	n;
	int		e, steps = 0;
	protets_match	m;

	e = tbl_foldl(&s->tro, cb_count, &steps);
	ck_assert(e == 0 || e == PROTETS_ECORRUPT);
	for (e = tbl_first(&s->tro, k, sizeof(k), &klen); e == 0 &&
	    steps < 100000; steps++)
		e = tbl_next(&s->tro, k, klen, k, sizeof(k), &klen);
	ck_assert_msg(e == PROTETS_NOTFOUND || e == PROTETS_ECORRUPT,
	    "walk: %d after %d steps", e, steps);
	e = tbl_last(&s->tro, k, sizeof(k), &klen);
	ck_assert(e == 0 || e == PROTETS_ECORRUPT);
	memset(&m, 0, sizeof(m));
	m.from = "k0050";
	m.flen = 5;
	e = tbl_select_count(&s->tro, &m, &n);
	ck_assert(e == 0 || e == PROTETS_ECORRUPT);
}

START_TEST(test_ordered_corrupt)
{
	struct seg	 s;
	unsigned char	*snap;
	uint64_t	 n1, n2;
	char		 k[16];
	int		 i, c;

	seg_new_type(&s, 4 << 20, PROTETS_ORDERED_SET);
	for (i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "k%04d", i);
		ck_assert_int_eq(put(&s.t, k, "v"), 0);
	}
	check_ok(&s.t);
	snap = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	n1 = state_of(&s)->or_head[0];
	n2 = *word_at(&s, n1 + 32);
	for (c = 0; c < 7; c++) {
		memcpy(s.rw, snap, s.size);
		tbl_hints_forget();	/* a rewind: no writer's path holds */
		switch (c) {
		case 0:		/* a cycle on level 0 */
			*word_at(&s, n2 + 32) = n1;
			break;
		case 1:		/* a link out of the segment */
			*word_at(&s, n1 + 32) = s.size + 4096;
			break;
		case 2:		/* a link into the middle of an entry */
			*word_at(&s, n1 + 32) = *word_at(&s, n1) + 8;
			break;
		case 3:		/* two nodes swap entries: out of order */
			memcpy(word_at(&s, n1), snap + n2, 8);
			memcpy(word_at(&s, n2), snap + n1, 8);
			break;
		case 4:		/* a node's inline prefix */
			s.rw[n1 + 17] ^= 1;
			break;
		case 5:		/* a node's height beyond the maximum */
			*word_at(&s, n1 + 8) |= 0xffULL << 16;
			break;
		default:	/* a node dropped from level 0 only */
			state_of(&s)->or_head[0] = n2;
			break;
		}
		expect_corrupt(&s, "ordered index");
		ord_walks_end(&s);
	}
	free(snap);
	seg_free(&s);
}
END_TEST

START_TEST(test_corrupt)
{
	struct seg		 s;
	struct tbl_state	*st;
	unsigned char		*snap;
	uint64_t		 slot, e0;
	char			 k[32];
	int			 i;

	seg_new(&s, 4 << 20);
	populate(&s, 300, -1);
	for (i = 0; i < 300; i += 4) {
		snprintf(k, sizeof(k), "p%d", i);
		ck_assert_int_eq(tbl_delete(&s.t, k, strlen(k)), 0);
	}
	check_ok(&s.t);
	st = state_of(&s);
	snap = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	slot = some_slot(&s);

#define RESTORE()	(memcpy(s.rw, snap, s.size), tbl_hints_forget())
	/* slot pointing past the end, into the header, misaligned */
	*word_at(&s, slot) = (*word_at(&s, slot) & ~TBL_SLOT_OFFMASK) |
	    ((s.size + 4096) >> 3);
	expect_corrupt(&s, "slot past end");
	RESTORE();
	*word_at(&s, slot) = (*word_at(&s, slot) & ~TBL_SLOT_OFFMASK) | 8;
	expect_corrupt(&s, "slot into header");
	RESTORE();
	*word_at(&s, slot) = (*word_at(&s, slot) & ~TBL_SLOT_OFFMASK) |
	    ((s.size - 8) >> 3);
	expect_corrupt(&s, "slot at the last word");
	RESTORE();
	/* entry header: huge key length */
	e0 = (*word_at(&s, slot) & TBL_SLOT_OFFMASK) << 3;
	*word_at(&s, e0) |= 0xffffULL << 32;
	expect_corrupt(&s, "entry klen");
	RESTORE();
	/* entry key changed: now in the wrong bucket */
	s.rw[e0 + TBL_ENTRY_HDR] ^= 0x55;
	expect_corrupt(&s, "entry key");
	RESTORE();
	/* index geometry */
	st->ix_chunk[0] = s.size - 64;
	expect_corrupt(&s, "chunk 0");
	RESTORE();
	st->ix_chunk[0] += 8;
	expect_corrupt(&s, "chunk 0 misaligned");
	RESTORE();
	st->ix_level = 60;
	expect_corrupt(&s, "level");
	RESTORE();
	/* bucket link into itself */
	*word_at(&s, st->ix_chunk[0] +
	    offsetof(struct tbl_bucket, next)) = st->ix_chunk[0];
	expect_corrupt(&s, "link cycle");
	RESTORE();
	/* allocator */
	for (i = 0; i < TBL_NCLASS && st->al_free[i] == 0; i++)
		;
	ck_assert_int_lt(i, TBL_NCLASS);
	st->al_free[i] += 8;
	expect_corrupt(&s, "free list head");
	RESTORE();
	*word_at(&s, st->al_free[i]) = s.size * 2;
	expect_corrupt(&s, "free list link");
	RESTORE();
	*word_at(&s, st->al_free[i]) = st->al_free[i];
	expect_corrupt(&s, "free list cycle");
	RESTORE();
	st->top += 64;
	expect_corrupt(&s, "top");
	RESTORE();
	st->top = st->ceil + 4096;
	expect_corrupt(&s, "top above ceiling");
	RESTORE();
	st->used += 8;
	expect_corrupt(&s, "used");
	RESTORE();
	st->entries++;
	expect_corrupt(&s, "entries");
	RESTORE();
	/* overlap: a free block that is also an entry */
	st->al_free[al_class_of_entry(&s, e0)] = e0;
	expect_corrupt(&s, "overlap");
	RESTORE();
	/* a lock-free slot that does not exist in use (fastpath.c) */
	*word_at(&s, TBL_FP_OFF + offsetof(struct tbl_fp, used)) =
	    1ULL << TBL_FP_SLOTS;
	expect_corrupt(&s, "lock-free slots");
	RESTORE();
	check_ok(&s.t);
	free(snap);
	seg_free(&s);
#undef RESTORE
}
END_TEST

/* Random damage anywhere in the state, index or heap: never a crash. */
START_TEST(test_corrupt_fuzz)
{
	struct seg		 s;
	struct tbl_state	*st;
	unsigned char		*snap;
	uint64_t		 off, lo, span;
	unsigned		 r = 777;
	char			 msg[128];
	int			 i, e, found = 0;

	seg_new(&s, 1 << 20);
	populate(&s, 400, -1);
	for (i = 0; i < 400; i += 3) {
		snprintf(msg, sizeof(msg), "p%d", i);
		ck_assert_int_eq(tbl_delete(&s.t, msg, strlen(msg)), 0);
	}
	st = state_of(&s);
	snap = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	for (i = 0; i < 400; i++) {
		memcpy(s.rw, snap, s.size);
		tbl_hints_forget();
		switch (rnd(&r) % 3) {
		case 0:		/* state */
			lo = TBL_STATE_OFF;
			span = sizeof(struct tbl_state);
			break;
		case 1:		/* heap */
			lo = TBL_HEAP_OFF;
			span = st->top - TBL_HEAP_OFF;
			break;
		default:	/* index chunks */
			lo = st->ceil;
			span = s.size - st->ceil;
			break;
		}
		off = lo + ((uint64_t)rnd(&r) * 8) % span;
		off &= ~7ULL;
		*word_at(&s, off) ^= (uint64_t)(rnd(&r) | 1) << (rnd(&r) % 40);
		e = tbl_check(&s.t, msg, sizeof(msg));
		ck_assert(e == 0 || e == PROTETS_ECORRUPT);
		found += e != 0;
		(void)poke_all(&s, 400);
		e = tbl_check(&s.t, msg, sizeof(msg));
		ck_assert(e == 0 || e == PROTETS_ECORRUPT);
	}
	ck_assert_int_gt(found, 100);
	free(snap);
	seg_free(&s);
}
END_TEST

/*
 * A dead writer's undo log that points outside the state and heap is
 * refused whole: the table answers ECORRUPT (writers, writable readers)
 * or EAGAIN (read-only readers), and the mutex stays usable.
 */
START_TEST(test_bad_undo)
{
	struct seg	 s;
	struct tbl_undo	*u;
	uint64_t	*seq;
	char		 buf[64], msg[128];

	seg_new(&s, 1 << 20);
	populate(&s, 50, 10);
	u = (struct tbl_undo *)(void *)(s.rw + TBL_UNDO_OFF);
	seq = (uint64_t *)(void *)(s.rw + TBL_STRIPE_OFF +
	    offsetof(struct tbl_stripe, seq));
	u->rec[0].off = TBL_STATE_FIELD(entries);
	u->rec[0].old = 50;
	u->rec[1].off = TBL_STRIPE_OFF;		/* the mutex: refused */
	u->rec[1].old = 0;
	u->n = 2;
	(*seq)++;
	ck_assert_int_eq(put(&s.t, "p1", "x"), PROTETS_ECORRUPT);
	ck_assert_int_eq(put(&s.t, "p1", "x"), PROTETS_ECORRUPT);
	ck_assert_int_eq(get(&s.tro, "p1", buf, sizeof(buf)), PROTETS_EAGAIN);
	ck_assert_int_eq(get(&s.t, "p1", buf, sizeof(buf)), PROTETS_ECORRUPT);
	ck_assert_int_eq(tbl_check(&s.t, msg, sizeof(msg)), PROTETS_ECORRUPT);
	ck_assert_int_eq(tbl_repair(&s.t), PROTETS_ECORRUPT);
	/* an administrator clears the log: all is well, no ENOTRECOVERABLE */
	u->n = 1;
	ck_assert_int_eq(tbl_repair(&s.t), 0);
	ck_assert_int_eq(*seq & 1, 0);
	ck_assert_int_eq(put(&s.t, "p1", "x"), 0);
	ck_assert_int_eq(get(&s.tro, "p1", buf, sizeof(buf)), 0);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/*
 * The allocator's top and ceiling, rewritten by whoever may write the
 * table: a top above the ceiling made the room check (csz > ceil - top)
 * wrap, and the next insert wrote its entry over the index chunks above
 * the ceiling, or past the mapping (trust issue: over the header of the
 * victim's next table).  Every allocation now bounds both by the segment
 * first: the insert fails with ECORRUPT and writes nothing.
 */
START_TEST(test_heap_bounds)
{
	static const uint64_t	 tops[] = { 0, 64, 1 << 20, 1ULL << 62 };
	struct seg		 s;
	struct tbl_state	*st;
	unsigned char		*snap;
	char			 v[600];
	size_t			 i;

	seg_new(&s, 1 << 20);
	populate(&s, 50, 10);
	st = state_of(&s);
	snap = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	memset(v, 'x', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	for (i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		/* the top above the ceiling, or past the mapping */
		st->top = tops[i] == 0 ? st->ceil + 64 : s.size + tops[i];
		memcpy(snap + TBL_STATE_FIELD(top), &st->top, 8);
		ck_assert_int_eq(put(&s.t, "brand-new", v), PROTETS_ECORRUPT);
		ck_assert_int_eq(memcmp(snap, s.rw, s.size), 0);
		memcpy(s.rw, snap, s.size);
	}
	/* a ceiling past the mapping */
	st->top = TBL_HEAP_OFF + 1024;
	st->ceil = s.size + 4096;
	memcpy(snap, s.rw, s.size);
	ck_assert_int_eq(put(&s.t, "brand-new", v), PROTETS_ECORRUPT);
	ck_assert_int_eq(memcmp(snap, s.rw, s.size), 0);
	free(snap);
	seg_free(&s);
}
END_TEST

/* Add this file's tests to tc. */
void
shm_tests_corrupt(TCase *tc)
{
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_ordered_corrupt);
	tcase_add_test(tc, test_corrupt_fuzz);
	tcase_add_test(tc, test_bad_undo);
	tcase_add_test(tc, test_heap_bounds);
}
