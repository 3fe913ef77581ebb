/*
 * shm/lock.c - writers: begin, commit, abort, repair.
 *
 * A write takes the stripe's lock (lock_mutex.c: the mutex, then
 * update_counter's lock-free updaters waited out, then, if the last
 * holder left a write half done, its recovery from the undo log).  The
 * operation then changes the table through the log; its commit empties
 * the log (the commit point), makes the sequence even and unlocks; an
 * abort rolls everything back instead.
 *
 * An operation's bookkeeping is per thread (which state words its log
 * already holds, which blocks it freed): a thread runs one write at a
 * time, and a write begun inside another (a signal handler's) gets
 * EDEADLK (lk_nwriting).
 */
#include <errno.h>
#include <unistd.h>

#include "crash.h"
#include "fastpath.h"
#include "lockint.h"

/*
 * Write locks this thread's operation holds (a batch: one per shard).  An
 * operation's bookkeeping is per thread (lk_once, the allocator's blocks
 * freed by it): a write begun while another is under way, by a signal
 * handler on a table other than the one whose write it interrupted,
 * would take it over and leave the interrupted one without undo records
 * when it resumes.  It gets EDEADLK instead, as on the same table.
 */
static __thread unsigned lk_nwriting;

static inline int
lk_wbegin_in(struct tbl *t, int batch)
{
	int	e;

	if (!t->writable)
		return PROTETS_EACCES;
	if (lk_nwriting > 0 && !batch) {
		lk_note(t, getpid());
		return EDEADLK;
	}
	if ((e = lk_acquire(t, 0)) != 0)
		return e;
	if (lk_retired(t)) {
		lk_release(t);
		return PROTETS_ESTALE;
	}
	lk_nwriting++;
	lk_op_new();
	CRASH_POINT();
	return 0;
}

int
lk_wbegin(struct tbl *t)
{
	return lk_wbegin_in(t, 0);
}

int
lk_wbegin_shard(struct tbl *t)
{
	return lk_wbegin_in(t, 1);
}

int
lk_fast_begin(void)
{
	if (lk_nwriting > 0)
		return EDEADLK;
	lk_nwriting++;
	return 0;
}

void
lk_fast_end(void)
{
	lk_nwriting--;
}

void
lk_wend(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	uint64_t		 seq = SH_LOAD(&s->seq);

	if (seq & 1)
		__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELEASE);
	CRASH_POINT();
	lk_nwriting--;
	lk_release(t);
}

void
lk_wcommit(struct tbl *t)
{
	CRASH_POINT();
	/*
	 * The commit point: from here on recovery keeps the new state.  The
	 * sequence moves first (lk_bump: overlay readers).  An operation that
	 * logged nothing left the sequence even (lk_dirty) and needs neither:
	 * the log's line stays where it is, in another CPU's cache perhaps.
	 */
	if (SH_LOAD(&lk_stripe(t)->seq) & 1) {
		lk_bump(t);
		__atomic_store_n(&lk_undo(t)->n, 0, __ATOMIC_RELEASE);
	}
	CRASH_POINT();
	lk_wend(t);
}

void
lk_wabort(struct tbl *t)
{
	lk_rollback_to(t, 0);
	lk_wend(t);
}

int
lk_repair(struct tbl *t)
{
	int	e;

	if (!t->writable)
		return PROTETS_EACCES;
	if ((e = lk_acquire(t, 0)) != 0)
		return e;
	lk_release(t);
	return 0;
}
