/*
 * tally.c - the library's per-thread counts of table operations.
 *
 * Counting must cost an operation nearly nothing, and a handle may be
 * used by many threads at once.  So each thread counts on a block of its
 * own for each handle it uses (struct pt_tcount, on lines of its own, no
 * atomic), found through a small per-thread cache keyed by the handle's
 * serial number (serials are never reused, so an entry for a closed
 * handle can never match again).  Every TBL_TALLY_FOLD operations the
 * thread adds its block to the segment's counts (tbl_tally_add: relaxed
 * atomic adds into the shard its thread number picks) and empties it;
 * protets_close adds what every thread's block still holds.
 *
 * So what the segment shows lags each live thread by less than
 * TBL_TALLY_FOLD operations per handle; a process killed (or a handle
 * never closed) loses less than that per thread and handle; the blocks of
 * threads that ended stay on the handle's list and are added at its close.
 * A forked child inherits its parent's blocks as they were, and may add
 * them again.  Operations through a read-only mapping are not counted
 * (the segment is not writable to them).
 *
 * A block belongs to the handle: pushed on its list (lock-free, only ever
 * grown until the close), freed by protets_close.  The cache entry may
 * outlive it, harmlessly: its serial is the closed handle's.
 */
#include <stdlib.h>
#include <string.h>

#include "tally.h"

__thread struct pt_tc pt_tc[PT_TC_WAYS];
static __thread uint64_t pt_tid;	/* this thread's number, 0: none yet */
static uint64_t pt_serials, pt_tids;	/* atomic: the last handed out */

void
pt_tally_init(struct pt_tally *y)
{
	y->serial = __atomic_add_fetch(&pt_serials, 1, __ATOMIC_RELAXED);
	y->way = (y->serial & (PT_TC_WAYS - 1)) * sizeof(struct pt_tc);
	y->list = NULL;
}

void
pt_tally_fold(struct pt_tcount *c, const struct tbl *tb)
{
	tbl_tally_add(tb, (unsigned)c->tid, c->op);
	memset(c->op, 0, sizeof(c->op));
	c->left = TBL_TALLY_FOLD;
}

/* This thread's block on y, made if need be; NULL without memory. */
static struct pt_tcount *
pt_tally_block(struct pt_tally *y)
{
	struct pt_tcount	*c, *head;

	if (pt_tid == 0)
		pt_tid = __atomic_add_fetch(&pt_tids, 1, __ATOMIC_RELAXED);
	/* only this thread pushes blocks of its number: no race to find */
	for (c = __atomic_load_n(&y->list, __ATOMIC_ACQUIRE); c != NULL;
	    c = c->next)
		if (c->tid == pt_tid)
			return c;
	if ((c = aligned_alloc(64, sizeof(*c))) == NULL)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->tid = pt_tid;
	c->left = TBL_TALLY_FOLD;
	head = __atomic_load_n(&y->list, __ATOMIC_RELAXED);
	do
		c->next = head;
	while (!__atomic_compare_exchange_n(&y->list, &head, c, 1,
	    __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	return c;
}

void
pt_tally_slow(struct pt_tally *y, const struct tbl *tb, unsigned op,
    uint64_t n)
{
	struct pt_tc	*w = &pt_tc[y->serial & (PT_TC_WAYS - 1)];
	struct pt_tcount *c;

	if ((c = pt_tally_block(y)) == NULL)
		return;		/* not counted: no memory */
	w->serial = y->serial;
	w->c = c;
	c->op[op] += n;
	if (--c->left == 0)
		pt_tally_fold(c, tb);
}

void
pt_tally_close(struct pt_tally *y, const struct tbl *tb)
{
	struct pt_tcount	*c, *next;

	for (c = y->list; c != NULL; c = next) {
		next = c->next;
		if (tb != NULL && c->left != TBL_TALLY_FOLD)
			pt_tally_fold(c, tb);
		free(c);
	}
	y->list = NULL;
}
