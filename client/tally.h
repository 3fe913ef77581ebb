/*
 * tally.h - a table handle's operation counts, per thread (tally.c).
 *
 * pt_count is what an operation pays (about a dozen instructions): a look
 * in this thread's small cache of its count blocks, keyed by the handle's
 * serial number, an add and a count down on a line this thread alone
 * writes.  Every TBL_TALLY_FOLD operations the block is added to the
 * segment (tbl_tally_add) and emptied.
 */
#ifndef PROTETS_TALLY_H
#define PROTETS_TALLY_H

#include <stdint.h>

#include "layout.h"
#include "table.h"

/*
 * One thread's counts on one handle.  Line 0 is what an operation
 * touches; line 1 is the bookkeeping, changed under tally.c's mutex (but
 * mine, its thread's alone, and y, atomic).
 */
struct pt_tally;
struct pt_tcount {
	int64_t		 left;		/* operations to a fold */
	uint64_t	 op[TBL_TY_NOPS];
	uint64_t	 tid;		/* the thread's number */
	/* the handle's list, all its blocks */
	struct pt_tcount *next __attribute__((aligned(64)));
	struct pt_tcount *nfree;	/* the handle's free blocks */
	struct pt_tcount *mine;		/* its thread's list */
	struct pt_tally	*y;		/* atomic; NULL: closed */
	uint64_t	 serial;	/* y's, while taken */
	uint64_t	 gen;		/* pt_gen when taken */
	int		 taken;		/* a thread's, or free */
} __attribute__((aligned(64)));

/* The handle's part: serial names it in the threads' caches. */
struct protets_table;
struct pt_tally {
	uint64_t	 serial;	/* unique in the process, never 0 */
	size_t		 way;		/* its way's offset */
	struct protets_table *t;	/* its handle: folds at thread end */
	struct pt_tcount *list;		/* all blocks; under the mutex */
	struct pt_tcount *nfree;	/* those of ended threads; ditto */
};

/* This thread's cache: the count blocks of the handles it used last. */
#define PT_TC_WAYS	8
struct pt_tc {
	uint64_t		 serial;
	struct pt_tcount	*c;
};
extern __thread struct pt_tc pt_tc[PT_TC_WAYS]
    __attribute__((visibility("hidden")));

void	pt_tally_init(struct pt_tally *, struct protets_table *);
/* Fold every thread's counts into tb (no operation may be running). */
void	pt_tally_close(struct pt_tally *, const struct tbl *tb);
/* The cache missed: find or make this thread's block, then count. */
void	pt_tally_slow(struct pt_tally *, const struct tbl *tb, unsigned op,
	    uint64_t n);
/* Add c's counts to tb's segment and empty it. */
void	pt_tally_fold(struct pt_tcount *c, const struct tbl *tb);

/*
 * What the table's handle t provides, out of line: the mapping's current
 * table for the two calls above (table.c).
 */
void	pt_table_tally_slow(struct protets_table *, unsigned op, uint64_t n);
void	pt_table_tally_fold(struct protets_table *, struct pt_tcount *);

/*
 * n operations of kind op (enum tbl_tally_op) through handle t.
 * PROTETS_NO_TALLY compiles the counting out: `make bench` builds the
 * benchmark so once more to show what it costs (bench/tally_cost.sh).
 */
static inline void
pt_count(struct protets_table *t, struct pt_tally *y, unsigned op,
    uint64_t n)
{
#ifdef PROTETS_NO_TALLY
	(void)t;
	(void)y;
	(void)op;
	(void)n;
	return;
#endif
	struct pt_tc	 *w = (struct pt_tc *)(void *)((char *)pt_tc + y->way);
	struct pt_tcount *c;

	if (__builtin_expect(w->serial != y->serial, 0)) {
		pt_table_tally_slow(t, op, n);
		return;
	}
	c = w->c;
	c->op[op] += n;
	if (__builtin_expect(--c->left == 0, 0))
		pt_table_tally_fold(t, c);
}

#endif /* PROTETS_TALLY_H */
