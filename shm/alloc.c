/*
 * shm/alloc.c - size-class allocator inside a segment.
 *
 * Size classes keep entries of one shape (the common case: millions of
 * keys of the same size) packed without per-block headers or splitting:
 * a 14-byte key with a 32-byte value is a 54-byte entry in a 56-byte
 * block.  Classes are 8 bytes apart up to 256, then four per power of two
 * (at most 25% internal waste) up to TBL_CLASS_MAX, enough for the largest
 * entry.  Nothing is coalesced: a deleted entry's block is reused by the
 * next entry of its class.  When the heap meets the chunk area, entries
 * may take a free block of up to 8 classes larger (AL_FALLBACK) rather
 * than fail, and then any allocation but an index split's (AL_NOSPLIT)
 * may split a free block of a larger class (al_split).
 */
#include <string.h>

#include "alloc.h"
#include "crash.h"
#include "lock.h"

#define AL_FALLBACK_SPAN	8
#define AL_SPLIT_PIECES		2	/* al_split: blocks a split leaves */

_Static_assert(16 + 8 * (AL_SMALL_CLASSES - 1) == 256, "small classes");
_Static_assert(AL_SMALL_CLASSES + (21 - 8) * 4 == TBL_NCLASS, "classes");

unsigned
al_class(uint64_t sz)
{
	unsigned	e;
	uint64_t	step;

	if (sz <= 16)
		return 0;
	if (sz <= 256)
		return (unsigned)((sz + 7) / 8 - 2);
	e = 63 - (unsigned)__builtin_clzll(sz - 1);	/* 2^e < sz <= 2^(e+1) */
	step = 1ULL << (e - 2);
	return AL_SMALL_CLASSES + (e - 8) * 4 +
	    (unsigned)((sz - (1ULL << e) + step - 1) / step - 1);
}

void
al_format(struct tbl *t)
{
	struct tbl_state	*st = tbl_state(t);

	st->top = TBL_HEAP_OFF;
	st->ceil = t->size & ~(uint64_t)1023;
	st->used = 0;
}

/* A free-list link must be a whole block below the top. */
static int
al_valid_block(const struct tbl *t, uint64_t off, uint64_t csz)
{
	return tbl_inheap(t, off, csz, 8) &&
	    off + csz <= SH_LOAD(&tbl_state(t)->top);
}

static void
al_add_used(struct tbl *t, uint64_t delta)
{
	struct tbl_state	*st = tbl_state(t);

	lk_set(t, TBL_STATE_FIELD(used), SH_LOAD(&st->used) + delta);
}

/*
 * Blocks freed by the current operation stay out of its allocations.
 * A freed block was reachable from the last commit, and a caller writes
 * an allocated block's body without undo records: reusing it in the same
 * operation would leave a roll back with the old links restored to a
 * block whose contents were overwritten (and an overlay reader, lock_read.c,
 * reading it).  Frees push on the front of their list (LIFO), so the
 * blocks this operation freed into a class are the first of its list: a
 * pop skips that many and unlinks the next one.  (Not popping from such
 * a class at all would bump a new block instead, forever: a workload that
 * frees and allocates one class in one operation, a batch replacing
 * values of one size, would grow the class without bound.)  Per thread,
 * as the writer's operation (lk_op_id); a roll back leaves the counts as
 * they were, which only skips more than needed.
 */
static __thread struct {
	uint64_t	op;
	uint32_t	n[TBL_NCLASS_PAD];	/* blocks freed per class */
} al_fresh;

static uint32_t
al_freed_now(unsigned cls)
{
	return al_fresh.op == lk_op_id() ? al_fresh.n[cls] : 0;
}

/* Pop a block of class cls; with align, only one at a multiple of it. */
static int
al_pop_at(struct tbl *t, unsigned cls, uint64_t align, uint64_t *offp)
{
	uint64_t		 link, off, next, csz = al_csize(cls);
	uint32_t		 skip = al_freed_now(cls), i;

	link = TBL_STATE_FIELD(al_free[cls]);
	for (i = 0;; i++) {
		if ((off = SH_LOAD(tbl_word(t, link))) == 0)
			return PROTETS_EFULL;
		if (!al_valid_block(t, off, csz))
			return PROTETS_ECORRUPT;
		if (i == skip)
			break;
		link = off;		/* a block freed by this operation */
	}
	if (align != 0 && off % align != 0)
		return PROTETS_EFULL;	/* the list's next one is not */
	next = SH_LOAD(tbl_word(t, off));
	if (next != 0 && !al_valid_block(t, next, csz))
		return PROTETS_ECORRUPT;
	lk_set(t, link, next);
	/* The caller overwrites the link: keep it for a roll back. */
	lk_log(t, off);
	al_add_used(t, csz);
	*offp = off;
	return 0;
}

static int
al_pop(struct tbl *t, unsigned cls, uint64_t *offp)
{
	return al_pop_at(t, cls, 0, offp);
}

/*
 * The room between top and ceil (already bounded by the segment) that
 * quota (0: none) leaves: the heap and the chunks together hold at most
 * quota bytes, top + (size - ceil) of them now.
 */
static inline uint64_t
al_cut(const struct tbl *t, uint64_t top, uint64_t ceil, uint64_t quota)
{
	uint64_t	held = top + (t->size - ceil), room = ceil - top;

	if (quota == 0)
		return room;
	if (quota <= held)
		return 0;
	return quota - held < room ? quota - held : room;
}

/*
 * The free space between the top of the heap and the ceiling of the
 * chunks: read once, and bounded by the segment before any arithmetic (a
 * writer of a public table may write anything there: a top above the
 * ceiling made csz > ceil - top wrap, and blocks go past the mapping).
 * *roomp: what may still be taken from it, ceil - top cut to the quota
 * (layout.h, tbl_hdr): the heap and the chunks together hold at most
 * quota bytes, counted from the segment's start.  The quota is read once
 * too; any value is safe (it only ever lowers the room).
 * Returns 0 with *topp, *ceilp, *roomp; PROTETS_ECORRUPT.
 */
static inline __attribute__((always_inline)) int
al_room(const struct tbl *t, uint64_t *topp, uint64_t *ceilp,
    uint64_t *roomp)
{
	struct tbl_state	*st = tbl_state(t);
	uint64_t		 top = SH_LOAD(&st->top), ceil = SH_LOAD(&st->ceil);

	if (top < TBL_HEAP_OFF || top > ceil || ceil > t->size)
		return PROTETS_ECORRUPT;
	*topp = top;
	*ceilp = ceil;
	*roomp = al_cut(t, top, ceil,
	    __atomic_load_n(&tbl_hdr(t)->quota, __ATOMIC_RELAXED));
	return 0;
}

/* A block of class cls off the top of the heap, if it has room. */
static int
al_bump(struct tbl *t, unsigned cls, uint64_t *offp, unsigned *clsp)
{
	uint64_t	top, ceil, room, csz = al_csize(cls);
	int		e;

	if ((e = al_room(t, &top, &ceil, &room)) != 0)
		return e;
	if (csz > room)
		return PROTETS_EFULL;
	lk_set(t, TBL_STATE_FIELD(top), top + csz);
	al_add_used(t, csz);
	CRASH_POINT();
	*offp = top;
	*clsp = cls;
	return 0;
}

/*
 * Move top up to a multiple of TBL_LINE, the gap becoming a free block
 * (8 bytes are too few for one: the gap is then 72), if the heap has room
 * for that and csz more.  Returns 0, PROTETS_EFULL.
 */
static int
al_align_top(struct tbl *t, uint64_t csz)
{
	uint64_t	top, ceil, room, gap;
	unsigned	gcls;
	int		e;

	if ((e = al_room(t, &top, &ceil, &room)) != 0)
		return e;
	if ((gap = (TBL_LINE - top % TBL_LINE) % TBL_LINE) == 0)
		return csz <= room ? 0 : PROTETS_EFULL;
	if (gap < 16)
		gap += TBL_LINE;
	if (csz > room || gap > room - csz)
		return PROTETS_EFULL;
	gcls = al_class(gap);
	lk_set(t, TBL_STATE_FIELD(top), top + gap);
	al_add_used(t, gap);
	al_free(t, top, gcls);		/* al_csize(gcls) == gap */
	return 0;
}

/*
 * AL_LINE: a block of whole lines (the class of a multiple of 64 is that
 * size exactly) at a line boundary: the head of its free list if it is
 * so placed, else off an aligned top.  0, or PROTETS_EFULL when neither
 * is to be had (the caller then allocates as usual).
 */
static int
al_alloc_line(struct tbl *t, uint64_t sz, uint64_t *offp, unsigned *clsp)
{
	unsigned	cls = al_class((sz + TBL_LINE - 1) &
			    ~(uint64_t)(TBL_LINE - 1));
	int		e;

	if ((e = al_pop_at(t, cls, TBL_LINE, offp)) != PROTETS_EFULL) {
		*clsp = cls;
		return e;
	}
	if ((e = al_align_top(t, al_csize(cls))) != 0)
		return e;
	return al_bump(t, cls, offp, clsp);
}

/* Is sz the size of a class exactly?  Its class in *clsp. */
static int
al_exact(uint64_t sz, unsigned *clsp)
{
	if (sz < 16 || sz > TBL_CLASS_MAX)
		return 0;
	*clsp = al_class(sz);
	return al_csize(*clsp) == sz;
}

/*
 * Cut rem bytes (a multiple of 8) into at most AL_SPLIT_PIECES blocks of
 * exact class sizes, the larger first: their classes in pc.  Returns how
 * many, or -1 when rem cannot be so cut.
 */
static int
al_pieces(uint64_t rem, unsigned pc[AL_SPLIT_PIECES])
{
	unsigned	c;

	if (rem == 0)
		return 0;
	if (al_exact(rem, &pc[0]))
		return 1;
	if (rem > TBL_CLASS_MAX)
		return -1;
	for (c = al_class(rem); c-- > 0;)
		if (al_exact(rem - al_csize(c), &pc[1])) {
			pc[0] = c;
			return 2;
		}
	return -1;
}

/*
 * The heap is exhausted and the request's class (and, with AL_FALLBACK,
 * the next AL_FALLBACK_SPAN) has no free block: split a free block of a
 * larger class.  The request takes the block's start, as class cls or
 * (AL_FALLBACK) the smallest above it whose rest can be cut into at most
 * AL_SPLIT_PIECES blocks of exact class sizes; the pieces go on their
 * free lists, counted as freed by this operation (al_fresh: it never
 * allocates them again).  Blocks are never merged, so every piece is a
 * block for good: no offset inside one ever held an entry's start
 * before (update_counter's hints, layout.h).  Returns 0 with *offp and
 * *clsp set, PROTETS_EFULL or PROTETS_ECORRUPT.
 */
static int
al_split(struct tbl *t, unsigned cls, int flags, uint64_t *offp,
    unsigned *clsp)
{
	unsigned	c, u, pc[AL_SPLIT_PIECES];
	uint64_t	csz, off, p;
	int		n = -1, i, e;

	for (c = cls + 1; c < TBL_NCLASS; c++) {
		if (SH_LOAD(&tbl_state(t)->al_free[c]) == 0)
			continue;
		csz = al_csize(c);
		for (u = cls; u < c; u++)
			if ((n = al_pieces(csz - al_csize(u), pc)) >= 0 ||
			    (flags & AL_FALLBACK) == 0)
				break;
		if (n < 0)
			continue;
		if ((e = al_pop(t, c, &off)) != 0) {
			if (e == PROTETS_EFULL)
				continue;	/* only blocks freed by this op */
			return e;
		}
		CRASH_POINT();
		for (i = 0, p = off + al_csize(u); i < n; i++) {
			al_free(t, p, pc[i]);
			p += al_csize(pc[i]);
		}
		*offp = off;
		*clsp = u;
		return 0;
	}
	return PROTETS_EFULL;
}

int
al_alloc(struct tbl *t, uint64_t sz, int flags, uint64_t *offp,
    unsigned *clsp)
{
	struct tbl_state	*st = tbl_state(t);
	unsigned		 cls, c;
	int			 e;

	if (sz == 0 || sz > TBL_CLASS_MAX)
		return PROTETS_EINVAL;
	if ((flags & AL_LINE) && sz <= TBL_CLASS_MAX - TBL_LINE &&
	    (e = al_alloc_line(t, sz, offp, clsp)) != PROTETS_EFULL)
		return e;
	cls = al_class(sz);
	if ((e = al_pop(t, cls, offp)) != PROTETS_EFULL)
		goto popped;
	if ((e = al_bump(t, cls, offp, clsp)) != PROTETS_EFULL)
		return e;
	for (c = cls + 1; (flags & AL_FALLBACK) && c < TBL_NCLASS &&
	    c <= cls + AL_FALLBACK_SPAN; c++) {
		if ((e = al_pop(t, c, offp)) != PROTETS_EFULL) {
			cls = c;
			goto popped;
		}
	}
	if (flags & AL_NOSPLIT)
		return PROTETS_EFULL;
	if ((e = al_split(t, cls, flags, offp, &cls)) != 0)
		return e;
popped:
	if (e != 0)
		return e;
	*clsp = cls;
	/*
	 * A freed block may have been an entry, and a block that is none
	 * may look like one's header (layout.h, recast); one off the top
	 * never held a committed entry.
	 */
	if (flags & AL_NOTENTRY)
		lk_set(t, TBL_STATE_FIELD(recast), SH_LOAD(&st->recast) + 1);
	return 0;
}

void
al_free(struct tbl *t, uint64_t off, unsigned cls)
{
	struct tbl_state	*st = tbl_state(t);

	if (al_fresh.op != lk_op_id()) {
		memset(&al_fresh, 0, sizeof(al_fresh));
		al_fresh.op = lk_op_id();
	}
	al_fresh.n[cls]++;
	lk_set(t, off, SH_LOAD(&st->al_free[cls]));
	lk_set(t, TBL_STATE_FIELD(al_free[cls]), off);
	al_add_used(t, -al_csize(cls));
	CRASH_POINT();
}

int
al_chunk(struct tbl *t, uint64_t sz, uint64_t *offp)
{
	uint64_t	top, ceil, room;
	int		e;

	if ((e = al_room(t, &top, &ceil, &room)) != 0)
		return e;
	if (sz > room)
		return PROTETS_EFULL;
	lk_set(t, TBL_STATE_FIELD(ceil), ceil - sz);
	al_add_used(t, sz);
	CRASH_POINT();
	*offp = ceil - sz;
	return 0;
}

void
al_figures(const struct tbl *t, struct al_figures *f)
{
	struct tbl_state	*st = tbl_state(t);
	uint64_t		 top, ceil, room;
	unsigned		 c;

	memset(f, 0, sizeof(*f));
	f->quota = __atomic_load_n(&tbl_hdr(t)->quota, __ATOMIC_RELAXED);
	top = SH_RLOAD(&st->top);
	ceil = SH_RLOAD(&st->ceil);
	if (top < TBL_HEAP_OFF || top > ceil || ceil > t->size)
		return;		/* torn or damaged: the reader retries */
	f->held = top + (t->size - ceil);
	f->room = room = al_cut(t, top, ceil, f->quota);
	/* Off the top: the largest class that fits the room. */
	if (room >= 16) {
		c = al_class(room < TBL_CLASS_MAX ? room : TBL_CLASS_MAX);
		if (al_csize(c) > room)
			c--;
		f->largest = al_csize(c);
	}
	for (c = TBL_NCLASS; c-- > 0 && al_csize(c) > f->largest;)
		if (SH_RLOAD(&st->al_free[c]) != 0) {
			f->largest = al_csize(c);
			break;
		}
}
