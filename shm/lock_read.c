/*
 * shm/lock_read.c - readers: the seqlock, and the overlay of the undo log
 * through which they read past a stalled writer.
 *
 * Readers do not lock: they run between two reads of an even sequence.
 * When the sequence stays odd (the writer is preempted, stopped or dead
 * mid-operation), they read the last committed state through an overlay
 * of the undo log instead of waiting (lk_ov_enter).  A reader gives up
 * (EAGAIN, or the lock when its mapping is writable) only after
 * LK_READ_WAIT_MS of its own CPU time spent trying, or LK_READ_WALL_MS
 * and LK_READ_WALL_TRIES failed attempts (lk_waited_too_long).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "crash.h"
#include "lockint.h"

/*
 * Overlay mode.  Every store a writer makes to state reachable from the
 * last commit is preceded by an undo record of the word's old value
 * (lk_log), blocks freed by an operation are not reused in it, and new
 * blocks are reachable only through logged words: so the last committed
 * state is the current memory with each logged word replaced by its
 * oldest record.  A reader copies the log, sorted by offset, keeping each
 * offset's first record, and SH_RLOAD looks words up in it (lk_ov_cur).
 * The copy is consistent while the sequence and the record count do not
 * move: a writer that goes on adds records (before changing any word not
 * yet logged), and one that commits or rolls back moves the sequence
 * first (lk_wcommit, lk_rollback_to).
 */
struct lk_ovrec {
	uint64_t	off;
	uint64_t	idx;		/* position in the log: oldest wins */
	uint64_t	old;
};

struct lk_ov {
	const unsigned char	*base;
	uint64_t		 size;	/* of the mapping: words beyond are not ours */
	struct lk_ov		*prev;	/* a read this one is nested in */
	uint64_t		 seq;	/* odd sequence of the copy */
	uint64_t		 logn;	/* records in the log at the copy */
	uint64_t		 n;	/* distinct offsets in rec */
	struct lk_ovrec		 rec[];
};

__thread struct lk_ov *lk_ov_cur;

int lk_ov_active;

uint64_t
lk_ov_word(const struct lk_ov *ov, const uint64_t *p, uint64_t v)
{
	uint64_t	off = (uint64_t)((const unsigned char *)p - ov->base);
	uint64_t	lo = 0, hi = ov->n, mid;

	/* A word of another table (a read nested in ours): not overlaid. */
	if ((const unsigned char *)p < ov->base || off >= ov->size)
		return v;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ov->rec[mid].off == off)
			return ov->rec[mid].old;
		if (ov->rec[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return v;
}

static int
lk_ovrec_cmp(const void *a, const void *b)
{
	const struct lk_ovrec	*x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Has this reader tried long enough?  Counted in its own CPU time: on a
 * busy machine a reader can be preempted for longer than LK_READ_WAIT_MS
 * between two attempts, and the wall clock then told it to give up (a
 * read-only reader: EAGAIN) after a single failed attempt, while writers
 * that keep committing were all it had met.  But where each sched_yield
 * hands its CPU away for a time slice, 100 ms of CPU can take tens of
 * seconds (review: 43 s, two busy loops on the reader's CPU), so the wall
 * clock ends the wait too: after LK_READ_WALL_MS, once LK_READ_WALL_TRIES
 * attempts have failed (a reader preempted past it does not give up for
 * that alone).  The first call starts both counts (a test may stop the
 * reader there: CRASH_READ_POINT).
 */
static int
lk_waited_too_long(const struct tbl *t, struct lk_rd *r)
{
	uint64_t	cpu = lk_cpu_ms() + 1, wall = (uint64_t)clk_now_ms();

	if (r->cpu0_ms == 0) {
		r->cpu0_ms = cpu;
		r->wall0_ms = wall;
		r->waits = 0;
		CRASH_READ_POINT();
		return 0;
	}
	r->waits++;
	if (cpu > r->cpu0_ms && cpu - r->cpu0_ms > (uint64_t)t->read_wait_ms)
		return 1;
	return r->waits >= LK_READ_WALL_TRIES && wall - r->wall0_ms >
	    (uint64_t)t->read_wait_ms * LK_READ_WALL_FACTOR;
}

static int
lk_rlock(struct tbl *t, struct lk_rd *r, int nowait)
{
	int	e;

	if ((e = lk_acquire(t, nowait)) != 0)
		return e;
	if (lk_retired(t)) {
		lk_release(t);
		return PROTETS_ESTALE;
	}
	r->locked = 1;
	r->seq = SH_LOAD(&lk_stripe(t)->seq);
	return 0;
}

static void
lk_ov_leave(struct lk_rd *r)
{
	if (r->ov == NULL)
		return;
	lk_ov_cur = r->ov->prev;
	__atomic_fetch_sub(&lk_ov_active, 1, __ATOMIC_RELAXED);
	free(r->ov);
	r->ov = NULL;
}

/*
 * Copy the undo log of a writer that keeps the sequence odd (seq) and
 * read through it from now on.  Returns 0 in overlay mode, 1 when the
 * writer moved meanwhile (wait or try again), or an error: a log no
 * writer can have left (PROTETS_ECORRUPT: the writer had not moved, so
 * the log is what it left, not one it was rewriting under the copy), no
 * memory.
 */
static int
lk_ov_enter(struct tbl *t, struct lk_rd *r, uint64_t seq)
{
	struct tbl_undo	*u = lk_undo(t);
	struct lk_ov	*ov;
	uint64_t	 n, i, k;
	int		 done = 0, bad;

	n = __atomic_load_n(&u->n, __ATOMIC_ACQUIRE);
	if (n > TBL_UNDO_CAP)
		return PROTETS_ECORRUPT;
	if ((ov = malloc(sizeof(*ov) + (n + 1) * sizeof(ov->rec[0]))) == NULL)
		return ENOMEM;
	for (i = 0; i < n; i++) {
		ov->rec[i].off = SH_LOAD(&u->rec[i].off);
		ov->rec[i].idx = i;
		ov->rec[i].old = SH_LOAD(&u->rec[i].old);
	}
	/*
	 * A log recovery would refuse, or a batch tag no batch leaves, is no
	 * overlay either.  (A batch past its commit point: the memory is the
	 * committed state.)
	 */
	bad = !lk_undo_valid(t, u, n) ||
	    lk_tag_done(t, SH_LOAD(&u->tag), &done) != 0;
	/* Loads of the records before the checks (see lk_rend). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&u->n, __ATOMIC_ACQUIRE) != n ||
	    SH_LOAD(&lk_stripe(t)->seq) != seq || CRASH_OV_VOIDED()) {
		free(ov);
		return 1;
	}
	if (bad) {
		free(ov);
		return PROTETS_ECORRUPT;
	}
	qsort(ov->rec, n, sizeof(ov->rec[0]), lk_ovrec_cmp);
	for (i = k = 0; i < n; i++)
		if (k == 0 || ov->rec[k - 1].off != ov->rec[i].off)
			ov->rec[k++] = ov->rec[i];
	if (done)
		k = 0;
	ov->base = t->base;
	ov->size = t->size;
	ov->prev = lk_ov_cur;
	ov->seq = seq;
	ov->logn = n;
	ov->n = k;
	r->ov = ov;
	r->seq = seq;
	lk_ov_cur = ov;
	__atomic_fetch_add(&lk_ov_active, 1, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Wait for an even sequence.  A writer normally keeps it odd for a few
 * microseconds; if it stays odd, the writer is preempted, stopped or dead.
 * A writable mapping then tries the lock, which recovers a dead writer;
 * otherwise the reader reads the committed state through the overlay,
 * never waiting for a live writer.  Only when no overlay can be had does
 * a read-only reader give up with EAGAIN (the daemon repairs on its
 * behalf) and a writable one wait for the lock: at once for a log no
 * writer leaves (waiting would not mend it: a table's writer may write
 * one, and a reader spinning on it for LK_READ_WAIT_MS was a way to burn
 * the daemon's CPU), after lk_waited_too_long for a writer adding records
 * all the time.  A reader that failed
 * LK_READ_RETRIES validations reads under the lock whenever it is free.
 */
static int
lk_rwait(struct tbl *t, struct lk_rd *r)
{
	struct tbl_stripe	*s = lk_stripe(t);
	uint64_t		 seq;
	unsigned		 i;
	int			 e;

	for (i = 0;; i++) {
		seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if ((seq & 1) == 0) {
			/* On seq's line: a retired table costs no miss. */
			if (lk_retired(t))
				return PROTETS_ESTALE;
			if (t->writable && r->tries >= LK_READ_RETRIES &&
			    (e = lk_rlock(t, r, 1)) != EBUSY)
				return e;
			r->seq = seq;
			return 0;
		}
		if (i < LK_SPIN) {
			lk_relax();
			continue;
		}
		if (t->writable && (e = lk_rlock(t, r, 1)) != EBUSY)
			return e;
		/* Retired while its lock is held (lk_retire's ELOCKED). */
		if (lk_retired(t))
			return PROTETS_ESTALE;
		if ((e = lk_ov_enter(t, r, seq)) == 0)
			return 0;
		if (e == PROTETS_ECORRUPT)
			return t->writable ? lk_rlock(t, r, 0) :
			    PROTETS_EAGAIN;
		if (e != 1)
			return e;
		if (lk_waited_too_long(t, r)) {
			if (!t->writable)
				return PROTETS_EAGAIN;
			return lk_rlock(t, r, 0);
		}
		sched_yield();
	}
}

int
lk_rbegin(struct tbl *t, struct lk_rd *r)
{
	memset(r, 0, sizeof(*r));
	return lk_rwait(t, r);
}

int
lk_rbegin_locked(struct tbl *t, struct lk_rd *r)
{
	memset(r, 0, sizeof(*r));
	if (t->writable)
		return lk_rlock(t, r, 0);
	return lk_rwait(t, r);
}

/*
 * Has the writer moved since r began?  The record count is read first:
 * a writer changes the sequence before shrinking the log.
 */
static int
lk_rmoved(const struct tbl *t, const struct lk_rd *r)
{
	uint64_t	n;

	if (__builtin_expect(r->ov != NULL, 0)) {
		n = __atomic_load_n(&lk_undo(t)->n, __ATOMIC_ACQUIRE);
		return SH_LOAD(&lk_stripe(t)->seq) != r->seq ||
		    n != r->ov->logn;
	}
	return SH_LOAD(&lk_stripe(t)->seq) != r->seq;
}

/*
 * Returns 0 when what was read since lk_rbegin is consistent, 1 when it
 * must be read again, or an error with the lock not held.  Overlay mode
 * ends here either way.
 */
int
lk_rend(struct tbl *t, struct lk_rd *r)
{
	int	e, moved;

	if (r->locked)
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	moved = lk_rmoved(t, r);
	lk_ov_leave(r);
	if (!moved)
		return 0;
	r->tries++;
	if (r->tries >= LK_READ_RETRIES && r->tries % 16 == 0 &&
	    lk_waited_too_long(t, r)) {
		if (!t->writable)
			return PROTETS_EAGAIN;
		/* Starved by writers that keep committing: queue for the lock. */
		if ((e = lk_rlock(t, r, 0)) != 0)
			return e;
		return 1;
	}
	if ((e = lk_rwait(t, r)) != 0)
		return e;
	return 1;
}

/* Has a writer moved since lk_rbegin?  Lets long walks give up early. */
int
lk_rstale(const struct tbl *t, const struct lk_rd *r)
{
	if (r == NULL || r->locked)
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return lk_rmoved(t, r);
}

void
lk_rdone(struct tbl *t, struct lk_rd *r)
{
	lk_ov_leave(r);
	if (r->locked) {
		r->locked = 0;
		lk_release(t);
	}
}

/* Is this thread reading t through an overlay? */
static const struct lk_ov *
lk_ov_of(const struct tbl *t)
{
	return lk_ov_cur != NULL && lk_ov_cur->base == t->base ?
	    lk_ov_cur : NULL;
}

uint64_t
lk_undo_count(const struct tbl *t)
{
	if (lk_ov_of(t) != NULL)
		return 0;
	return SH_LOAD(&lk_undo(t)->n);
}

uint64_t
lk_xpending(const struct tbl *t)
{
	if (lk_ov_of(t) != NULL)
		return 0;
	return SH_LOAD(&lk_undo(t)->tag) | SH_LOAD(&lk_stripe(t)->xmask);
}

uint64_t
lk_wseq(const struct tbl *t)
{
	return SH_LOAD(&lk_stripe(t)->seq);
}

uint64_t
lk_seq(const struct tbl *t)
{
	const struct lk_ov	*ov = lk_ov_of(t);

	if (ov != NULL)
		return ov->seq - 1;	/* the commit the overlay shows */
	return SH_LOAD(&lk_stripe(t)->seq);
}

uint64_t
lk_cpu_ms(void)
{
	struct timespec ts;

	/* Never another clock: cpu0_ms and now must be of the same one. */
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
