/*
 * shm/index.c - the hash index (see index.h).
 *
 * Lookup cost: the geometry line of the state (hot), the home bucket (one
 * line) and the entry (one line for short entries): two dependent misses
 * when nothing is cached.  Overflow buckets are the exception; the load
 * factor keeps them rare.
 */
#include <string.h>

#include "alloc.h"
#include "crash.h"
#include "index.h"

_Static_assert(IX_NEXT_OFF == offsetof(struct tbl_bucket, next), "next");

/* The bucket at off (the scratch line if off is out of bounds: seg.h). */
static inline struct tbl_bucket *
ix_bk(const struct tbl *t, uint64_t off)
{
	return tbl_line(t, off);
}

/* The bucket at off, just bounded by the caller (tbl_word_in). */
static inline const struct tbl_bucket *
ix_bk_in(const struct tbl *t, uint64_t off)
{
	return (const struct tbl_bucket *)(const void *)tbl_word_in(t, off);
}

/*
 * Has a walk of a chain gone round, n buckets in?  A chain holds its home
 * bucket and at most every overflow bucket there is (state.overflow,
 * which tbl_check keeps honest), and one being linked: a cycle is found
 * after that many, not after as many buckets as fit in the segment.  A
 * writer who spoils the count spoils its own table: a count too high
 * lengthens this walk (bounded by the segment still), one too low fails
 * its long chains.  The state's line is read only for chains longer than
 * any the load factor makes.  ov: a reader's count, as its view has it
 * (through the overlay; a torn one fails the read's validation, and the
 * read is done again); else a writer's, under the lock.
 */
static inline __attribute__((always_inline)) int
ix_too_long_ov(const struct tbl *t, uint64_t n, int ov)
{
	if (n <= 8)
		return 0;
	return n > t->size / sizeof(struct tbl_bucket) ||
	    n > SH_OVLOAD(ov, &tbl_state(t)->overflow) + 2;
}

static int
ix_too_long(const struct tbl *t, uint64_t n)
{
	return ix_too_long_ov(t, n, 0);
}

int
ix_read_too_long(const struct tbl *t, uint64_t n)
{
	return ix_too_long_ov(t, n, 1);
}

uint64_t
ix_bitrev(uint64_t x)
{
	x = (x >> 1 & 0x5555555555555555ULL) | (x & 0x5555555555555555ULL) << 1;
	x = (x >> 2 & 0x3333333333333333ULL) | (x & 0x3333333333333333ULL) << 2;
	x = (x >> 4 & 0x0f0f0f0f0f0f0f0fULL) | (x & 0x0f0f0f0f0f0f0f0fULL) << 4;
	return __builtin_bswap64(x);
}

uint64_t
ix_chunk_buckets(unsigned j)
{
	return j == 0 ? TBL_IX_NB0 : (uint64_t)TBL_IX_NB0 << (j - 1);
}

/*
 * The reader functions a lookup runs are compiled twice (ov 0 and 1, see
 * SH_OVLOAD): the copy with plain loads unless a reader of this process
 * reads through an overlay.
 */
static inline __attribute__((always_inline)) int
ix_geom_ov(const struct tbl *t, uint64_t *level, uint64_t *split, int ov)
{
	const struct tbl_state	*st = tbl_state(t);

	*level = SH_OVLOAD(ov, &st->ix_level);
	*split = SH_OVLOAD(ov, &st->ix_split);
	if (*level > TBL_IX_NCHUNK - 2 ||
	    *split >= (uint64_t)TBL_IX_NB0 << *level)
		return PROTETS_ECORRUPT;
	return 0;
}

int
ix_geom(const struct tbl *t, uint64_t *level, uint64_t *split)
{
	return ix_geom_ov(t, level, split, 1);
}

uint64_t
ix_bucket_of(uint64_t h, uint64_t level, uint64_t split)
{
	uint64_t	m = (uint64_t)TBL_IX_NB0 << level, b;

	b = h & (m - 1);
	if (b < split)
		b = h & (2 * m - 1);
	return b;
}

static inline __attribute__((always_inline)) int
ix_boff_ov(const struct tbl *t, uint64_t b, uint64_t *offp, int ov)
{
	uint64_t	s = b >> TBL_IX_NB0_LOG, c, n, start;
	unsigned	j;

	j = s == 0 ? 0 : 64 - (unsigned)__builtin_clzll(s);
	if (j >= TBL_IX_NCHUNK)
		return PROTETS_ECORRUPT;
	n = ix_chunk_buckets(j);
	start = j == 0 ? 0 : n;
	c = SH_OVLOAD(ov, &tbl_state(t)->ix_chunk[j]);
	if (!tbl_inheap(t, c, n * sizeof(struct tbl_bucket), TBL_LINE))
		return PROTETS_ECORRUPT;
	*offp = c + (b - start) * sizeof(struct tbl_bucket);
	return 0;
}

int
ix_boff(const struct tbl *t, uint64_t b, uint64_t *offp)
{
	return ix_boff_ov(t, b, offp, 1);
}

static inline __attribute__((always_inline)) int
ix_home_ov(const struct tbl *t, uint64_t h, uint64_t *offp, int ov)
{
	uint64_t	level, split;
	int		e;

	if ((e = ix_geom_ov(t, &level, &split, ov)) != 0)
		return e;
	return ix_boff_ov(t, ix_bucket_of(h, level, split), offp, ov);
}

static __attribute__((noinline)) int
ix_home_slow(const struct tbl *t, uint64_t h, uint64_t *offp)
{
	return ix_home_ov(t, h, offp, 1);
}

static int
ix_home(const struct tbl *t, uint64_t h, uint64_t *offp)
{
	if (SH_OV_ANY())
		return ix_home_slow(t, h, offp);
	return ix_home_ov(t, h, offp, 0);
}

int
ix_cursor(const struct tbl *t, uint64_t c, uint64_t *boffp, unsigned *bitsp)
{
	uint64_t	level, split, m, h, b;
	int		e;

	if ((e = ix_geom(t, &level, &split)) != 0)
		return e;
	m = (uint64_t)TBL_IX_NB0 << level;
	h = ix_bitrev(c);
	b = h & (m - 1);
	*bitsp = TBL_IX_NB0_LOG + (unsigned)level;
	if (b < split) {
		b = h & (2 * m - 1);
		(*bitsp)++;
	}
	return ix_boff(t, b, boffp);
}

/* Follow a chain link: 0 at the end, ECORRUPT for a bad link. */
static inline __attribute__((always_inline)) int
ix_next_ov(const struct tbl *t, uint64_t boff, uint64_t *nextp, int ov)
{
	uint64_t	next = SH_OVLOAD(ov, &ix_bk_in(t, boff)->next);

	if (next != 0 && !tbl_inheap(t, next, sizeof(struct tbl_bucket), 8))
		return PROTETS_ECORRUPT;
	*nextp = next;
	return 0;
}

static int
ix_next(const struct tbl *t, uint64_t boff, uint64_t *nextp)
{
	return ix_next_ov(t, boff, nextp, 1);
}

int
ix_start(const struct tbl *t, uint64_t h, struct ix_it *it)
{
	int	e;

	memset(it, 0, sizeof(*it));
	if ((e = ix_home(t, h, &it->home)) != 0)
		return e;
	it->boff = it->home;
	return 0;
}

static inline __attribute__((always_inline)) int
ix_match_ov(const struct tbl *t, const struct lk_rd *r, uint64_t h,
    const void *key, size_t klen, const void *val, size_t vlen,
    struct ix_it *it, struct ix_pos *pos, int ov)
{
	const struct tbl_bucket	*bk;
	uint64_t		 v, tag = ix_tag(h);
	unsigned		 i;
	int			 e;

	if (it->boff == 0)
		return PROTETS_NOTFOUND;
	pos->home = it->home;
	for (;;) {
		bk = ix_bk_in(t, it->boff);	/* home, or ix_next_ov's */
		for (i = it->i; i < TBL_BUCKET_SLOTS; i++) {
			v = SH_OVLOAD(ov, &bk->slot[i]);
			if (v == 0) {
				it->boff = 0;
				return PROTETS_NOTFOUND;
			}
			if (v >> TBL_TAG_SHIFT != tag)
				continue;
			pos->eoff = ix_slot_off(v);
			if ((e = en_read(t, pos->eoff, &pos->eh)) != 0)
				return e;
			if (en_keyeq(t, pos->eoff, &pos->eh, key, klen) &&
			    (val == NULL ||
			    en_valeq(t, pos->eoff, &pos->eh, val, vlen))) {
				pos->slot = it->boff + i * 8;
				it->i = i + 1;
				return 0;
			}
		}
		if ((e = ix_next_ov(t, it->boff, &it->boff, ov)) != 0)
			return e;
		it->i = 0;
		if (it->boff == 0)
			return PROTETS_NOTFOUND;
		/* Cycles (ix_too_long_ov), or the writer moved. */
		it->n++;
		if (ix_too_long_ov(t, it->n, ov) ||
		    ((it->n & 15) == 15 && lk_rstale(t, r)))
			return PROTETS_ECORRUPT;
	}
}

static __attribute__((noinline)) int
ix_match_slow(const struct tbl *t, const struct lk_rd *r, uint64_t h,
    const void *key, size_t klen, const void *val, size_t vlen,
    struct ix_it *it, struct ix_pos *pos)
{
	return ix_match_ov(t, r, h, key, klen, val, vlen, it, pos, 1);
}

int
ix_match(const struct tbl *t, const struct lk_rd *r, uint64_t h,
    const void *key, size_t klen, const void *val, size_t vlen,
    struct ix_it *it, struct ix_pos *pos)
{
	if (SH_OV_ANY())
		return ix_match_slow(t, r, h, key, klen, val, vlen, it, pos);
	return ix_match_ov(t, r, h, key, klen, val, vlen, it, pos, 0);
}

int
ix_find(const struct tbl *t, const struct lk_rd *r, uint64_t h,
    const void *key, size_t klen, struct ix_pos *pos)
{
	struct ix_it	it;
	int		e;

	if ((e = ix_start(t, h, &it)) != 0)
		return e;
	pos->home = it.home;
	return ix_match(t, r, h, key, klen, NULL, 0, &it, pos);
}

/*
 * A fresh overflow bucket holding slot, not yet linked.  flags: 0, or
 * AL_NOSPLIT for a split's buckets (ix_split_undo counts a record each).
 */
static int
ix_newbucket(struct tbl *t, uint64_t slot, int flags, uint64_t *offp)
{
	struct tbl_bucket	*bk;
	unsigned		 cls, i;
	int			 e;

	if ((e = al_alloc(t, sizeof(*bk), AL_NOTENTRY | flags, offp,
	    &cls)) != 0)
		return e;
	bk = ix_bk(t, *offp);
	SH_STORE(&bk->slot[0], slot);
	for (i = 1; i < TBL_BUCKET_SLOTS; i++)
		SH_STORE(&bk->slot[i], 0);
	SH_STORE(&bk->next, 0);
	CRASH_POINT();
	return 0;
}

static void
ix_count_overflow(struct tbl *t, int delta)
{
	struct tbl_state	*st = tbl_state(t);

	lk_set(t, TBL_STATE_FIELD(overflow),
	    SH_LOAD(&st->overflow) + (uint64_t)(int64_t)delta);
}

int
ix_add(struct tbl *t, uint64_t home, uint64_t slot)
{
	struct tbl_bucket	*bk;
	uint64_t		 boff = home, next, nb, n;
	unsigned		 i;
	int			 e;

	for (n = 0;; n++) {
		bk = ix_bk(t, boff);
		for (i = 0; i < TBL_BUCKET_SLOTS; i++) {
			if (SH_LOAD(&bk->slot[i]) == 0) {
				lk_set(t, boff + i * 8, slot);
				return 0;
			}
		}
		if ((e = ix_next(t, boff, &next)) != 0)
			return e;
		if (next == 0)
			break;
		if (ix_too_long(t, n))
			return PROTETS_ECORRUPT;
		boff = next;
	}
	if ((e = ix_newbucket(t, slot, 0, &nb)) != 0)
		return e;
	lk_set(t, boff + IX_NEXT_OFF, nb);
	ix_count_overflow(t, 1);
	return 0;
}

/*
 * Remove the slot at off from the chain starting at home, keeping the
 * chain packed: its last slot moves into the hole, and an overflow bucket
 * left empty is unlinked and freed.
 */
int
ix_remove(struct tbl *t, uint64_t home, uint64_t off)
{
	uint64_t	prev = 0, last = home, next, n, loff;
	unsigned	k;
	int		e;

	for (n = 0;; n++) {
		if ((e = ix_next(t, last, &next)) != 0)
			return e;
		if (next == 0)
			break;
		if (ix_too_long(t, n))
			return PROTETS_ECORRUPT;
		prev = last;
		last = next;
	}
	for (k = TBL_BUCKET_SLOTS; k > 0; k--)
		if (SH_LOAD(&ix_bk(t, last)->slot[k - 1]) != 0)
			break;
	if (k == 0)
		return PROTETS_ECORRUPT;	/* empty bucket in a chain */
	loff = last + (k - 1) * 8;
	if (loff != off)
		lk_set(t, off, SH_LOAD(tbl_word(t, loff)));
	lk_set(t, loff, 0);
	if (k == 1 && prev != 0) {
		lk_set(t, prev + IX_NEXT_OFF, 0);
		al_free(t, last, IX_OVF_CLASS);
		ix_count_overflow(t, -1);
	}
	return 0;
}

/* A write position in a chain. */
struct ix_cur {
	uint64_t	boff;
	unsigned	i;
};

/*
 * Append to the new half of a split.  The new chain is unreachable until
 * the split pointer moves, so its words need no undo records.
 */
static int
ix_put_new(struct tbl *t, struct ix_cur *b, uint64_t v)
{
	uint64_t	nb;
	int		e;

	if (b->i == TBL_BUCKET_SLOTS) {
		if ((e = ix_newbucket(t, v, AL_NOSPLIT, &nb)) != 0)
			return e;
		SH_STORE(&ix_bk(t, b->boff)->next, nb);
		ix_count_overflow(t, 1);
		b->boff = nb;
		b->i = 1;
		return 0;
	}
	SH_STORE(&ix_bk(t, b->boff)->slot[b->i], v);
	b->i++;
	return 0;
}

/* Keep in the old chain: rewrite it in place, packed. */
static void
ix_put_old(struct tbl *t, struct ix_cur *a, uint64_t v, uint64_t from)
{
	uint64_t	off;

	if (a->i == TBL_BUCKET_SLOTS) {
		/* The writer never passes the reader: the next bucket exists. */
		a->boff = SH_LOAD(&ix_bk(t, a->boff)->next);
		a->i = 0;
	}
	off = a->boff + a->i * 8;
	if (off != from)
		lk_set(t, off, v);
	a->i++;
}

/* After a split: clear the old chain after position a, free its tail. */
static void
ix_trim(struct tbl *t, struct ix_cur *a)
{
	uint64_t	next, f, n, lim;
	unsigned	i;

	/* a->boff is home, or a bucket ix_put_old wrote to. */
	for (i = a->i; i < TBL_BUCKET_SLOTS; i++)
		if (SH_LOAD(&ix_bk(t, a->boff)->slot[i]) != 0)
			lk_set(t, a->boff + i * 8, 0);
	f = SH_LOAD(&ix_bk(t, a->boff)->next);
	if (f == 0)
		return;
	lk_set(t, a->boff + IX_NEXT_OFF, 0);
	/*
	 * The tail was walked and checked (ix_filter), but another writer of
	 * the table may have relinked it since: each link checked again, the
	 * walk bounded by the overflow buckets there were (the count goes
	 * down as they are freed).
	 */
	lim = SH_LOAD(&tbl_state(t)->overflow) + 2;
	for (n = 1; f != 0 && tbl_inheap(t, f, sizeof(struct tbl_bucket), 8) &&
	    n <= lim && n <= t->size / sizeof(struct tbl_bucket); n++) {
		next = SH_LOAD(&ix_bk(t, f)->next);
		al_free(t, f, IX_OVF_CLASS);
		ix_count_overflow(t, -1);
		f = next;
	}
}

/* Slots and buckets of the chain at home, for ix_filter's reservation. */
int
ix_chain_size(const struct tbl *t, uint64_t home, uint64_t *slots,
    uint64_t *buckets)
{
	struct tbl_bucket	*bk;
	uint64_t	boff = home, nb;
	unsigned	i;
	int		e;

	*slots = 0;
	for (nb = 1;; nb++) {
		bk = ix_bk(t, boff);
		for (i = 0; i < TBL_BUCKET_SLOTS; i++)
			if (SH_LOAD(&bk->slot[i]) != 0)
				(*slots)++;
		if ((e = ix_next(t, boff, &boff)) != 0)
			return e;
		if (boff == 0)
			break;
		if (ix_too_long(t, nb))
			return PROTETS_ECORRUPT;
	}
	*buckets = nb;
	return 0;
}

/*
 * Remove from the chain at home every entry fn selects (fn returns 1;
 * 0 keeps it, a negative value aborts with that error), keeping the
 * order of the others: the kept slots are packed towards the head in
 * their order, as a split does, and the emptied tail is freed.  The
 * removed entries are freed; *nrem counts them.  The caller reserved
 * IX_FILTER_UNDO(slots, buckets) undo records.
 */
int
ix_filter(struct tbl *t, uint64_t home, ix_filter_fn fn, void *arg,
    uint64_t *nrem)
{
	struct tbl_bucket	*bk;
	struct ix_cur	 a = { home, 0 };
	struct en_hdr	 eh;
	uint64_t	 rb, v, next, n = 0, nb = 0;
	unsigned	 i;
	int		 e, m;

	*nrem = 0;
	for (rb = home; rb != 0; rb = next) {
		if (ix_too_long(t, nb++))
			return PROTETS_ECORRUPT;
		if ((e = ix_next(t, rb, &next)) != 0)
			return e;
		bk = ix_bk(t, rb);
		for (i = 0; i < TBL_BUCKET_SLOTS; i++) {
			v = SH_LOAD(&bk->slot[i]);
			if (v == 0)
				break;
			if ((e = en_read(t, ix_slot_off(v), &eh)) != 0)
				return e;
			if ((m = fn(t, v, ix_slot_off(v), &eh, arg)) < 0)
				return m;
			if (m > 0) {
				al_free(t, ix_slot_off(v), eh.cls);
				n++;
			} else
				ix_put_old(t, &a, v, rb + i * 8);
		}
		CRASH_POINT();
	}
	if (n > 0)
		ix_trim(t, &a);
	*nrem = n;
	return 0;
}

/*
 * Does the entry of slot v go to bucket p + M (its hash has bit m)?  The
 * tag holds that bit while M < 2^27; past that, the key is read.
 */
static int
ix_moves(const struct tbl *t, uint64_t v, uint64_t m, int *mv)
{
	struct en_hdr	eh;
	int		e;

	if (m < 1ULL << (64 - TBL_TAG_SHIFT)) {
		*mv = (v >> TBL_TAG_SHIFT & m) != 0;
		return 0;
	}
	if ((e = en_read(t, ix_slot_off(v), &eh)) != 0)
		return e;
	*mv = (en_keyhash(t, ix_slot_off(v), &eh) & m) != 0;
	return 0;
}

/* Move the entries of bucket p that belong to p + M; all or nothing. */
static int
ix_split_chain(struct tbl *t, uint64_t old, uint64_t nbk, uint64_t m)
{
	struct tbl_bucket	*bk;
	struct ix_cur	 a = { old, 0 }, b = { nbk, 0 };
	uint64_t	 rb, v, next;
	unsigned	 i;
	int		 e, mv;

	bk = ix_bk(t, nbk);
	for (i = 0; i < TBL_BUCKET_SLOTS; i++)
		SH_STORE(&bk->slot[i], 0);
	SH_STORE(&bk->next, 0);
	for (rb = old; rb != 0; rb = next) {
		bk = ix_bk(t, rb);
		next = SH_LOAD(&bk->next);
		for (i = 0; i < TBL_BUCKET_SLOTS; i++) {
			v = SH_LOAD(&bk->slot[i]);
			if (v == 0)
				break;
			if ((e = ix_moves(t, v, m, &mv)) != 0)
				return e;
			if (mv) {
				if ((e = ix_put_new(t, &b, v)) != 0)
					return e;
			} else
				ix_put_old(t, &a, v, rb + i * 8);
		}
		CRASH_POINT();
	}
	ix_trim(t, &a);
	return 0;
}

/*
 * Undo records a split needs, given the chain's slots and buckets and, of
 * its slots, how many move to the new chain and how many of those kept
 * change place (they pack towards the head behind the slots leaving): a
 * record per kept slot that moves, the cleared tail of the last kept
 * bucket and its link, a record per overflow bucket freed or allocated
 * (the block's link word: a split's buckets never come out of a larger
 * block, AL_NOSPLIT, which would cost up to four records each), and each
 * word of the state at most once (lk_log
 * records a state word once per savepoint epoch).
 */
static uint64_t
ix_split_undo(uint64_t nb, uint64_t moved, uint64_t moves)
{
	return moves + TBL_BUCKET_SLOTS + 1 + nb + moved / TBL_BUCKET_SLOTS +
	    1 + sizeof(struct tbl_state) / 8 + 16;
}

/*
 * The exact count, from every key's hash: only for a chain too long for
 * the bound (a hot key's), as it reads every entry twice.
 */
static int
ix_split_exact(const struct tbl *t, uint64_t old, uint64_t m,
    uint64_t nb, uint64_t *need)
{
	struct tbl_bucket	*bk;
	uint64_t	rb, v, b, kept = 0, moved = 0, pos = 0, moves = 0;
	unsigned	i;
	int		e, mv;

	/* The nb buckets ix_split_need walked. */
	for (rb = old, b = 0; rb != 0 && b < nb; b++) {
		bk = ix_bk(t, rb);
		for (i = 0; i < TBL_BUCKET_SLOTS; i++, pos++) {
			v = SH_LOAD(&bk->slot[i]);
			if (v == 0)
				break;
			if ((e = ix_moves(t, v, m, &mv)) != 0)
				return e;
			if (mv)
				moved++;
			else if (kept++ != pos)
				moves++;
		}
		if ((e = ix_next(t, rb, &rb)) != 0)
			return e;
	}
	*need = ix_split_undo(nb, moved, moves);
	return 0;
}

/*
 * Undo records a split of the chain at old needs.  Which slots move is
 * only known from their keys' hashes, a random read of each entry, which
 * ix_split_chain has to do anyway: so bound it from the slots alone (any
 * of them may move, or change place), and count exactly only when the
 * bound does not fit in the undo log.
 */
static int
ix_split_need(const struct tbl *t, uint64_t old, uint64_t m, uint64_t *need)
{
	struct tbl_bucket	*bk;
	uint64_t	rb, nb = 0, slots = 0;
	unsigned	i;
	int		e;

	for (rb = old; rb != 0;) {
		if (ix_too_long(t, nb++))
			return PROTETS_ECORRUPT;
		bk = ix_bk(t, rb);
		for (i = 0; i < TBL_BUCKET_SLOTS; i++, slots++)
			if (SH_LOAD(&bk->slot[i]) == 0)
				break;
		if ((e = ix_next(t, rb, &rb)) != 0)
			return e;
	}
	*need = ix_split_undo(nb, slots, slots);
	if (*need <= lk_room(t))
		return 0;
	return ix_split_exact(t, old, m, nb, need);
}

/*
 * Split bucket p.  A split is an optimisation: when it cannot be done
 * (no room for a chunk or an overflow bucket, or for its undo records) it
 * is rolled back to its start and skipped, and the insert that asked for
 * it still succeeds.
 */
static int
ix_split(struct tbl *t)
{
	struct tbl_state	*st = tbl_state(t);
	uint64_t		 level, split, m, sp, c, old, nbk, need;
	int			 e;

	if ((e = ix_geom(t, &level, &split)) != 0)
		return e;
	m = (uint64_t)TBL_IX_NB0 << level;
	sp = lk_savepoint(t);
	if (split == 0 && SH_LOAD(&st->ix_chunk[level + 1]) == 0) {
		e = al_chunk(t, m * sizeof(struct tbl_bucket), &c);
		if (e != 0)
			return e == PROTETS_EFULL ? 0 : e;
		lk_set(t, TBL_STATE_FIELD(ix_chunk[level + 1]), c);
	}
	if ((e = ix_boff(t, split, &old)) != 0 ||
	    (e = ix_boff(t, split + m, &nbk)) != 0 ||
	    (e = ix_split_need(t, old, m, &need)) != 0)
		return e;
	if (lk_room(t) < need) {
		lk_rollback_to(t, sp);
		return 0;
	}
	if ((e = ix_split_chain(t, old, nbk, m)) != 0) {
		if (e != PROTETS_EFULL)
			return e;
		lk_rollback_to(t, sp);
		return 0;
	}
	if (split + 1 == m) {
		lk_set(t, TBL_STATE_FIELD(ix_level), level + 1);
		lk_set(t, TBL_STATE_FIELD(ix_split), 0);
	} else
		lk_set(t, TBL_STATE_FIELD(ix_split), split + 1);
	return 0;
}

int
ix_grow(struct tbl *t)
{
	uint64_t	level, split, nb;
	int		e;

	if ((e = ix_geom(t, &level, &split)) != 0)
		return e;
	nb = ((uint64_t)TBL_IX_NB0 << level) + split;
	if (SH_LOAD(&tbl_state(t)->entries) <= TBL_IX_LOAD * nb)
		return 0;
	if (level + 2 >= TBL_IX_NCHUNK)
		return 0;	/* as large as it gets */
	return ix_split(t);
}

void
ix_format(struct tbl *t)
{
	struct tbl_state	*st = tbl_state(t);
	uint64_t		 sz = TBL_IX_NB0 * sizeof(struct tbl_bucket);

	st->ceil -= sz;
	st->used += sz;
	st->ix_chunk[0] = st->ceil;
	st->ix_level = 0;
	st->ix_split = 0;
	memset(t->base + st->ceil, 0, sz);
}
