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
 * atomic adds into the shard its thread number picks) and empties it.
 *
 * A block is on two lists: its handle's (every block the handle has,
 * taken or free), and its thread's (pt_mine: the blocks it has taken, on
 * any handle; a cache miss looks there, by serial, with no lock).  Three
 * rare events change them, under one mutex (pt_mtx):
 *
 *   - a thread's first operation on a handle takes a free block of the
 *     handle (one an ended thread left) or makes one;
 *   - a thread's end (the destructor of pt_key) adds each of its blocks
 *     to its table and gives it back to its handle's free blocks: a
 *     handle has as many blocks as threads ever used it at once, and the
 *     counts of ended threads are in the segment when they are joined;
 *   - protets_close adds every taken block, frees the free ones, and
 *     leaves each taken one to its thread, marked closed (y NULL): the
 *     thread frees it at its next cache miss, or at its end.
 *
 * A forked child (pthread_atfork) is a new generation: the blocks of its
 * one thread are emptied (their counts are the parent's, which adds
 * them), and the blocks of the parent's other threads, which do not run
 * in the child, are of an old generation: never added, freed at close.
 * A child forked by a raw system call (no fork handler runs) adds its
 * parent's counts again.
 *
 * So what the segment shows lags each live thread by less than
 * TBL_TALLY_FOLD operations per handle; a process killed (or a handle
 * never closed) loses less than that per live thread and handle.
 * Operations through a read-only mapping are not counted (the segment is
 * not writable to them).  No initial-exec TLS (libprotets may be
 * dlopen'ed); the key is deleted when the library is unloaded, so no
 * destructor of it runs after (a thread still running then keeps its
 * blocks until their handles close).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tally.h"

__thread struct pt_tc pt_tc[PT_TC_WAYS];
static __thread uint64_t pt_tid;	/* this thread's number, 0: none yet */
static __thread struct pt_tcount *pt_mine;	/* the blocks it took */
static __thread int	 pt_keyset;	/* pt_key set: its end runs */
static uint64_t		 pt_serials, pt_tids;	/* atomic */
static uint64_t		 pt_gen;	/* under pt_mtx: forks so far */
static pthread_mutex_t	 pt_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t	 pt_once = PTHREAD_ONCE_INIT;
static pthread_key_t	 pt_key;
static int		 pt_keyed;

static void
pt_prepare(void)
{
	pthread_mutex_lock(&pt_mtx);
}

static void
pt_parent(void)
{
	pthread_mutex_unlock(&pt_mtx);
}

/* The child: a new generation; its thread's blocks hold the parent's. */
static void
pt_child(void)
{
	struct pt_tcount	*c;

	pt_gen++;
	for (c = pt_mine; c != NULL; c = c->mine) {
		memset(c->op, 0, sizeof(c->op));
		c->left = TBL_TALLY_FOLD;
		c->gen = pt_gen;
	}
	pthread_mutex_init(&pt_mtx, NULL);
}

/* A thread ends: its counts to their tables, its blocks to their handles. */
static void
pt_thread_end(void *arg)
{
	struct pt_tcount	*c, *next;
	struct pt_tally		*y;

	(void)arg;
	pthread_mutex_lock(&pt_mtx);
	for (c = pt_mine; c != NULL; c = next) {
		next = c->mine;
		if ((y = __atomic_load_n(&c->y, __ATOMIC_RELAXED)) == NULL) {
			free(c);
			continue;
		}
		if (c->left != TBL_TALLY_FOLD)
			pt_table_tally_fold(y->t, c);
		c->taken = 0;
		c->nfree = y->nfree;
		y->nfree = c;
	}
	pt_mine = NULL;
	pt_keyset = 0;
	memset(pt_tc, 0, sizeof(pt_tc));	/* serial 0 matches nothing */
	pthread_mutex_unlock(&pt_mtx);
}

static void
pt_setup(void)
{
	pt_keyed = pthread_key_create(&pt_key, pt_thread_end) == 0;
	(void)pthread_atfork(pt_prepare, pt_parent, pt_child);
}

/* Unloaded (dlclose): no thread's end may call pt_thread_end any more. */
__attribute__((destructor)) static void
pt_fini(void)
{
	if (pt_keyed) {
		pt_keyed = 0;
		(void)pthread_key_delete(pt_key);
	}
}

void
pt_tally_init(struct pt_tally *y, struct protets_table *t)
{
	y->serial = __atomic_add_fetch(&pt_serials, 1, __ATOMIC_RELAXED);
	y->way = (y->serial & (PT_TC_WAYS - 1)) * sizeof(struct pt_tc);
	y->t = t;
	y->list = NULL;
	y->nfree = NULL;
}

void
pt_tally_fold(struct pt_tcount *c, const struct tbl *tb)
{
	tbl_tally_add(tb, (unsigned)c->tid, c->op);
	memset(c->op, 0, sizeof(c->op));
	c->left = TBL_TALLY_FOLD;
}

/* This thread's block on the handle of serial; frees closed ones met. */
static struct pt_tcount *
pt_find(uint64_t serial)
{
	struct pt_tcount	**pp, *c;

	for (pp = &pt_mine; (c = *pp) != NULL;) {
		if (__atomic_load_n(&c->y, __ATOMIC_ACQUIRE) == NULL) {
			*pp = c->mine;
			free(c);
		} else if (c->serial == serial)
			return c;
		else
			pp = &c->mine;
	}
	return NULL;
}

/* A block of y for this thread: a free one, or a new one; NULL: none. */
static struct pt_tcount *
pt_take(struct pt_tally *y)
{
	struct pt_tcount	*c;

	(void)pthread_once(&pt_once, pt_setup);
	if (!pt_keyset && pt_keyed &&
	    pthread_setspecific(pt_key, &pt_key) == 0)
		pt_keyset = 1;
	pthread_mutex_lock(&pt_mtx);
	if ((c = y->nfree) != NULL)
		y->nfree = c->nfree;
	else if ((c = aligned_alloc(64, sizeof(*c))) != NULL) {
		memset(c, 0, sizeof(*c));
		c->next = y->list;
		y->list = c;
	}
	if (c != NULL) {
		memset(c->op, 0, sizeof(c->op));
		c->left = TBL_TALLY_FOLD;
		c->tid = pt_tid;
		c->serial = y->serial;
		c->gen = pt_gen;
		c->taken = 1;
		__atomic_store_n(&c->y, y, __ATOMIC_RELAXED);
		c->mine = pt_mine;
		pt_mine = c;
	}
	pthread_mutex_unlock(&pt_mtx);
	return c;
}

void
pt_tally_slow(struct pt_tally *y, const struct tbl *tb, unsigned op,
    uint64_t n)
{
	struct pt_tc	*w = &pt_tc[y->serial & (PT_TC_WAYS - 1)];
	struct pt_tcount *c;

	if (pt_tid == 0)
		pt_tid = __atomic_add_fetch(&pt_tids, 1, __ATOMIC_RELAXED);
	if ((c = pt_find(y->serial)) == NULL && (c = pt_take(y)) == NULL)
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

	pthread_mutex_lock(&pt_mtx);
	for (c = y->list; c != NULL; c = next) {
		next = c->next;
		if (!c->taken || c->gen != pt_gen) {
			free(c);	/* free, or a thread's not here */
			continue;
		}
		if (tb != NULL && c->left != TBL_TALLY_FOLD)
			pt_tally_fold(c, tb);
		__atomic_store_n(&c->y, NULL, __ATOMIC_RELEASE);
	}
	y->list = NULL;
	y->nfree = NULL;
	pthread_mutex_unlock(&pt_mtx);
}
