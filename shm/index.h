/*
 * shm/index.h - the hash index: linear hashing over cache-line buckets.
 *
 * Bucket b of a table at level L with split pointer p holds the entries
 * whose hash h has h mod M == b, M = NB0 << L, or h mod 2M == b for the
 * buckets already split (b < p, and b >= M).  An insert that pushes the
 * load over TBL_IX_LOAD splits bucket p into p and p + M: growth costs
 * one bucket's worth of work per insert, never a rehash of the table.
 * Buckets live in chunks that never move: chunk 0 has NB0 buckets, chunk
 * j > 0 has NB0 << (j-1), so bucket b is in chunk floor(log2(b/NB0)) + 1.
 *
 * A slot is tag << 37 | entry offset >> 3, the tag being the low 27 bits
 * of the hash (ix_tag), so a lookup follows only the entries whose tag
 * matches, and a split of a table of fewer than 2^27 buckets finds in the
 * slot the hash bit that decides where an entry goes.
 * A bucket chain's slots are filled from the first: the first empty slot
 * ends the chain.
 */
#ifndef PROTETS_SHM_INDEX_H
#define PROTETS_SHM_INDEX_H

#include <stdint.h>

#include "alloc.h"
#include "entry.h"
#include "lock.h"
#include "seg.h"

/* Where ix_find found a key (or, on NOTFOUND, where it would go). */
struct ix_pos {
	uint64_t	home;		/* first bucket of the chain */
	uint64_t	slot;		/* offset of the slot */
	uint64_t	eoff;		/* entry */
	struct en_hdr	eh;		/* its validated header */
};

/* Undo records the write side may use per operation, split excluded. */
#define IX_UNDO_MAX	16

/*
 * The tag: the low bits of the hash.  Those the bucket is chosen by are
 * the same in a whole chain; the others filter lookups, and a split reads
 * the one bit it needs here instead of rehashing the key.
 */
static inline uint64_t
ix_tag(uint64_t h)
{
	return h & ((1ULL << (64 - TBL_TAG_SHIFT)) - 1);
}

static inline uint64_t
ix_slot(uint64_t h, uint64_t eoff)
{
	return ix_tag(h) << TBL_TAG_SHIFT | eoff >> 3;
}

static inline uint64_t
ix_slot_off(uint64_t v)
{
	return (v & TBL_SLOT_OFFMASK) << 3;
}

/* An iteration over the entries of one chain that match a key. */
struct ix_it {
	uint64_t	home;		/* first bucket of the chain */
	uint64_t	boff;		/* bucket to look at next, 0: done */
	unsigned	i;		/* slot to look at next */
	uint64_t	n;		/* buckets passed */
};

void	ix_format(struct tbl *t);

/* Start an iteration over the chain of hash h. */
int	ix_start(const struct tbl *t, uint64_t h, struct ix_it *it);
/*
 * The next entry of the chain with key, and value val (vlen bytes) unless
 * val is NULL.  Returns 0 (pos filled), PROTETS_NOTFOUND at the end,
 * PROTETS_ECORRUPT.  A writer may not change the chain between calls.
 */
int	ix_match(const struct tbl *t, const struct lk_rd *r, uint64_t h,
	    const void *key, size_t klen, const void *val, size_t vlen,
	    struct ix_it *it, struct ix_pos *pos);

/* ix_filter's choice for one entry: 1 remove, 0 keep, < 0 error. */
typedef int (*ix_filter_fn)(struct tbl *t, uint64_t slot, uint64_t eoff,
    const struct en_hdr *eh, void *arg);
int	ix_chain_size(const struct tbl *t, uint64_t home, uint64_t *slots,
	    uint64_t *buckets);
/*
 * Has a reader's walk of a chain gone round, n buckets in (more than
 * every overflow bucket there is, as its view reads the count)?
 */
int	ix_read_too_long(const struct tbl *t, uint64_t n);
int	ix_filter(struct tbl *t, uint64_t home, ix_filter_fn fn, void *arg,
	    uint64_t *nrem);
/*
 * Undo records ix_filter may need on a chain of that many slots and
 * buckets: per slot a move or a clear and the link word of a freed entry,
 * per bucket the link word of a freed overflow bucket, the cut link and
 * every state word once (lk_log records a state word once per operation).
 */
#define IX_FILTER_UNDO(slots, buckets) \
	((slots) * 2 + (buckets) * 2 + 8 + sizeof(struct tbl_state) / 8)

/*
 * Find key (hash h).  r: a reader's context (NULL for a writer holding
 * the lock), used to abandon long walks once a writer has started.
 * Returns 0, PROTETS_NOTFOUND, PROTETS_ECORRUPT (for a reader: maybe only
 * torn, lk_rend decides).
 */
int	ix_find(const struct tbl *t, const struct lk_rd *r, uint64_t h,
	    const void *key, size_t klen, struct ix_pos *pos);

/* Writers. */
int	ix_add(struct tbl *t, uint64_t home, uint64_t slot);
int	ix_remove(struct tbl *t, uint64_t home, uint64_t slot);
int	ix_grow(struct tbl *t);

/* Geometry, for walks (foldl, check). */
int	ix_geom(const struct tbl *t, uint64_t *level, uint64_t *split);
int	ix_boff(const struct tbl *t, uint64_t b, uint64_t *offp);
uint64_t ix_bucket_of(uint64_t h, uint64_t level, uint64_t split);
uint64_t ix_chunk_buckets(unsigned j);
/*
 * The bucket holding the hashes whose bit-reversal is c, and how many
 * low hash bits it is selected by: it holds every hash whose reversal
 * shares c's top *bitsp bits.
 */
int	ix_cursor(const struct tbl *t, uint64_t c, uint64_t *boffp,
	    unsigned *bitsp);
uint64_t ix_bitrev(uint64_t x);

/* Overflow buckets are blocks of this class. */
#define IX_OVF_CLASS	6
#define IX_NEXT_OFF	(TBL_BUCKET_SLOTS * 8)

#endif /* PROTETS_SHM_INDEX_H */
