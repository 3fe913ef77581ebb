/*
 * shm/hash.h - the hash index: linear hashing over cache-line buckets.
 *
 * Bucket b of a table at level L with split pointer p holds the entries
 * whose hash h has h mod M == b, M = NB0 << L, or h mod 2M == b for the
 * buckets already split (b < p, and b >= M).  An insert that pushes the
 * load over TBL_IX_LOAD splits bucket p into p and p + M: growth costs
 * one bucket's worth of work per insert, never a rehash of the table.
 * Buckets live in chunks that never move: chunk 0 has NB0 buckets, chunk
 * j > 0 has NB0 << (j-1), so bucket b is in chunk floor(log2(b/NB0)) + 1.
 *
 * A slot is tag << 40 | entry offset >> 3, the tag being the top 24 bits
 * of the hash, so a lookup follows only the entries whose tag matches.
 * A bucket chain's slots are filled from the first: the first empty slot
 * ends the chain.
 */
#ifndef PROTETS_SHM_HASH_H
#define PROTETS_SHM_HASH_H

#include <stdint.h>

#include "entry.h"
#include "layout.h"
#include "lock.h"

/* Where ix_find found a key (or, on NOTFOUND, where it would go). */
struct ix_pos {
	uint64_t	home;		/* first bucket of the chain */
	uint64_t	slot;		/* offset of the slot */
	uint64_t	eoff;		/* entry */
	struct en_hdr	eh;		/* its validated header */
};

/* Undo records the write side may use per operation, split excluded. */
#define IX_UNDO_MAX	16

static inline uint64_t
ix_slot(uint64_t h, uint64_t eoff)
{
	return (h >> TBL_TAG_SHIFT) << TBL_TAG_SHIFT | eoff >> 3;
}

static inline uint64_t
ix_slot_off(uint64_t v)
{
	return (v & TBL_SLOT_OFFMASK) << 3;
}

void	ix_format(struct tbl *t);

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

#endif /* PROTETS_SHM_HASH_H */
