/*
 * shm/alloc.h - the allocator inside a segment.
 *
 * The heap grows up from TBL_HEAP_OFF to state.top; index chunks grow down
 * from the end of the segment to state.ceil; the two meet at EFULL.  Heap
 * blocks come in TBL_NCLASS size classes, each with a LIFO free list
 * threaded through the first word of its free blocks.  A block carries no
 * header: its owner knows its class (entries record it, overflow buckets
 * are all of class al_class(64)).  Chunks are never freed.
 *
 * All functions must be called by a writer between lk_wbegin and commit;
 * every change goes through the undo log.
 */
#ifndef PROTETS_SHM_ALLOC_H
#define PROTETS_SHM_ALLOC_H

#include <stdint.h>

#include "seg.h"

/* al_alloc flags */
#define AL_FALLBACK	0x1	/* may hand out a block of a larger class */
#define AL_NOTENTRY	0x2	/* for what may look like an entry header:
				 * a recycled block moves state.recast */
#define AL_LINE		0x4	/* whole cache lines of its own, when the
				 * heap has room: sz rounded up to 64, at
				 * an offset that is a multiple of 64 */
#define AL_NOSPLIT	0x8	/* never split a larger free block: for a
				 * caller whose undo reservation counts one
				 * record per allocation (ix_split) */

#define AL_SMALL_CLASSES	31	/* 16..256 step 8 */

/* Class of a request of sz bytes (1..TBL_CLASS_MAX), and its block size. */
unsigned	al_class(uint64_t sz);

/* Inline: every entry header check of every lookup asks it. */
static inline uint64_t
al_csize(unsigned cls)
{
	unsigned	j, e;

	if (cls < AL_SMALL_CLASSES)
		return 16 + 8 * (uint64_t)cls;
	j = cls - AL_SMALL_CLASSES;
	e = 8 + j / 4;
	return (1ULL << e) + (uint64_t)(j % 4 + 1) * (1ULL << (e - 2));
}

/* Set up the allocator of a fresh segment (no undo log: not yet shared). */
void	al_format(struct tbl *t);

/*
 * Allocate a block for sz bytes.  Its contents are garbage; its first
 * word is already in the undo log, the rest is unreachable from committed
 * state and may be written freely.  Returns 0, PROTETS_EFULL or
 * PROTETS_ECORRUPT.
 */
int	al_alloc(struct tbl *t, uint64_t sz, int flags, uint64_t *offp,
	    unsigned *clsp);
/* Return a block of class cls to its free list. */
void	al_free(struct tbl *t, uint64_t off, unsigned cls);
/* Allocate an index chunk of sz bytes (a multiple of 1024). */
int	al_chunk(struct tbl *t, uint64_t sz, uint64_t *offp);

/*
 * What the allocator holds and could still give, read by a reader (under
 * its seqlock validation, through SH_RLOAD):
 * held: the heap below state.top and the chunks above state.ceil, what
 * the quota counts; room: what may still be taken between them (cut to
 * the quota); largest: the largest block to be had now, off the top or
 * from a free list (0: none).  The quota is the header's, 0: none.
 */
struct al_figures {
	uint64_t	held;
	uint64_t	room;
	uint64_t	largest;
	uint64_t	quota;
};
void	al_figures(const struct tbl *t, struct al_figures *f);

/* Undo records al_alloc/al_free/al_chunk may need. */
#define AL_UNDO_MAX	8

#endif /* PROTETS_SHM_ALLOC_H */
