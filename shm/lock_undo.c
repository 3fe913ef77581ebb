/*
 * shm/lock_undo.c - the undo log and the sequence; the recovery of a dead
 * holder's write.
 *
 * Every store a writer makes to state reachable from the last commit is
 * preceded by a record (offset, old word) in the stripe's undo log
 * (lk_log), written before the word it saves is changed; the first record
 * of an operation makes the sequence odd (lk_dirty).  Replaying the
 * records newest first restores the last committed state, whichever
 * instruction the writer died at.  Replaying is idempotent (the log is
 * emptied only after every record is applied), so a recoverer that is
 * itself killed leaves the lock owner-dead again and the next locker
 * simply replays again.
 *
 * The sequence only ever moves up: +1 from even at an operation's first
 * change, +2 from odd before the log shrinks (a commit, a roll back, a
 * recovery: lk_bump, so that an overlay reader's copy of the log can
 * never match again), +1 from odd at the end.  No record may restore it
 * (lk_undo_valid): a value a reader saw is never taken again.
 */

#include "crash.h"
#include "lockint.h"

/*
 * State words logged by the current operation of this thread.  A word of
 * the state (a counter, a free-list head) may change many times in one
 * operation; only its first change needs a record, since replay restores
 * the oldest value.  The record stays valid until the operation ends or
 * rolls back to a savepoint, so the epoch changes at lk_wbegin, at every
 * savepoint (a roll back to it must find a record of every word changed
 * after it) and at every roll back.  Per thread: writers of one table are
 * serialised by its mutex, and a thread runs one operation at a time.
 */
#define LK_STATE_WORDS	(sizeof(struct tbl_state) / 8)

static __thread struct {
	uint64_t	epoch;
	uint64_t	op;		/* operations begun by this thread */
	uint64_t	rollbacks;	/* roll backs by it, aborts included */
	uint64_t	logged[LK_STATE_WORDS];	/* epoch of its record */
} lk_once;

uint64_t
lk_op_id(void)
{
	return lk_once.op;
}

uint64_t
lk_rollbacks(void)
{
	return lk_once.rollbacks;
}

static void
lk_new_epoch(void)
{
	lk_once.epoch++;
}

void
lk_op_new(void)
{
	lk_new_epoch();
	lk_once.op++;
}

/*
 * A record may only restore a word of the state or of the heap: the
 * header, the locks and the logs themselves are never logged.  Checked for
 * every record before any is applied, so a torn or hostile log is refused
 * whole rather than half replayed.
 */
/* May a record restore the word at off (a word of the state or heap)? */
static int
lk_rec_ok(const struct tbl *t, uint64_t off)
{
	if (off >= TBL_STATE_OFF && (off & 7) == 0 &&
	    off < TBL_STATE_OFF + sizeof(struct tbl_state))
		return 1;
	return tbl_inheap(t, off, 8, 8);
}

int
lk_undo_valid(const struct tbl *t, const struct tbl_undo *u, uint64_t n)
{
	uint64_t	i;

	if (n > TBL_UNDO_CAP)
		return 0;
	for (i = 0; i < n; i++)
		if (!lk_rec_ok(t, SH_LOAD(&u->rec[i].off)))
			return 0;
	return 1;
}

/*
 * Replay records [from, n) newest first.  Each offset is read once and
 * checked where it is used: the log is in memory any writer of the table
 * may change under the replay, validated or not (a record it spoils is
 * skipped: that table's damage, never a store outside it).
 */
static void
lk_undo_apply(struct tbl *t, struct tbl_undo *u, uint64_t from, uint64_t n)
{
	uint64_t	i, off;

	if (n > TBL_UNDO_CAP)
		n = TBL_UNDO_CAP;
	for (i = n; i > from; i--) {
		off = SH_LOAD(&u->rec[i - 1].off);
		if (lk_rec_ok(t, off))
			SH_STORE(tbl_word_in(t, off),
			    SH_LOAD(&u->rec[i - 1].old));
		CRASH_POINT();
	}
}

/*
 * Move an odd sequence on by 2, still odd, before the undo log shrinks: an
 * overlay reader whose copy of the log had as many records as the log
 * ends with (0, after a commit) must still see that the writer moved.  An
 * even one stays: the operation changed nothing through the log.
 */
void
lk_bump(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	uint64_t		 seq = SH_LOAD(&s->seq);

	if ((seq & 1) == 0)
		return;		/* nothing changed: no reader to warn */
	SH_STORE(&s->seq, seq + 2);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	CRASH_POINT();
}

/*
 * Make the sequence odd before the operation's first change (lk_log).
 * Lazily, rather than in lk_wbegin: an operation that changes nothing, or
 * one word with a single store (an update_counter in place), leaves the
 * sequence alone, so readers of the stripe never retry for it and its
 * line stays in every reader's cache.  Readers see such a word old or new,
 * as a whole.
 */
static inline void
lk_dirty_in(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	uint64_t		 seq = SH_LOAD(&s->seq);

	if (seq & 1)
		return;
	SH_STORE(&s->seq, seq + 1);
	/* Readers must see the odd sequence before any change. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	CRASH_POINT();
}

/* The same for lock_batch.c (lk_log's own is inlined: every record). */
void
lk_dirty(struct tbl *t)
{
	lk_dirty_in(t);
}

/*
 * Roll back whatever the last holder left in the log and make the
 * sequence even; roll forward instead (discard the log) when it is part
 * of a batch over several shards that committed.  A shard that led a
 * batch first has its followers recovered.  Safe to run on a clean
 * stripe, and to run again after being interrupted at any point.  A log
 * that fails validation leaves the stripe untouched and odd: readers then
 * get EAGAIN or ECORRUPT, never a half-restored table.
 */
int
lk_recover(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	struct tbl_undo		*u = lk_undo(t);
	uint64_t		 n, seq, mask, tag;
	int			 e, done;

	if ((mask = SH_LOAD(&s->xmask)) != 0) {
		if ((e = lk_xrepair(t, mask)) != 0)
			return e;
		__atomic_store_n(&s->xmask, 0, __ATOMIC_RELEASE);
		CRASH_POINT();
	}
	n = SH_LOAD(&u->n);
	tag = SH_LOAD(&u->tag);
	if ((e = lk_tag_done(t, tag, &done)) != 0 || !lk_undo_valid(t, u, n))
		return PROTETS_ECORRUPT;
	/*
	 * Move the sequence before the log shrinks, as a commit does: an
	 * overlay reader that copied the log earlier must not find the same
	 * (sequence, count) once the words are restored and the log emptied.
	 * Still odd; a recoverer killed here leaves it odd for the next.
	 */
	lk_bump(t);
	if (!done)
		lk_undo_apply(t, u, 0, n);
	__atomic_store_n(&u->n, 0, __ATOMIC_RELEASE);
	CRASH_POINT();
	__atomic_store_n(&u->tag, 0, __ATOMIC_RELEASE);
	CRASH_POINT();
	seq = SH_LOAD(&s->seq);
	if (seq & 1)
		__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELEASE);
	CRASH_POINT();
	return 0;
}

int
lk_clean(const struct tbl *t)
{
	const struct tbl_stripe	*s = lk_stripe(t);
	const struct tbl_undo	*u = lk_undo(t);

	return SH_LOAD(&u->n) == 0 && (SH_LOAD(&s->seq) & 1) == 0 &&
	    SH_LOAD(&u->tag) == 0 && SH_LOAD(&s->xmask) == 0;
}

/* lk_log; the word's address (tbl_word: bounded once, for lk_set too). */
static inline uint64_t *
lk_log_in(struct tbl *t, uint64_t off)
{
	struct tbl_undo	*u = lk_undo(t);
	uint64_t	*p = tbl_word(t, off), n, w;

	lk_dirty_in(t);
	if (off >= TBL_STATE_OFF && off < TBL_STATE_OFF +
	    sizeof(struct tbl_state)) {
		w = (off - TBL_STATE_OFF) / 8;
		if (lk_once.logged[w] == lk_once.epoch)
			return p;	/* its oldest value is in the log */
		lk_once.logged[w] = lk_once.epoch;
	}
	n = SH_LOAD(&u->n);
	/*
	 * Every operation reserves its records first (lk_room), so a full
	 * log is another writer's doing, under this one's lock: nothing is
	 * recorded (this table's damage), nothing written outside the log.
	 */
	if (n >= TBL_UNDO_CAP || p == tbl_scratch)
		return p;	/* (no record of a word out of the table) */
	SH_STORE(&u->rec[n].off, off);
	SH_STORE(&u->rec[n].old, SH_LOAD(p));
	/* The record is complete before n covers it ... */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	SH_STORE(&u->n, n + 1);
	/* ... and n covers it before the caller changes the word. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	CRASH_POINT();
	return p;
}

void
lk_log(struct tbl *t, uint64_t off)
{
	(void)lk_log_in(t, off);
}

void
lk_set(struct tbl *t, uint64_t off, uint64_t v)
{
	SH_STORE(lk_log_in(t, off), v);
	CRASH_POINT();
}

uint64_t
lk_room(const struct tbl *t)
{
	uint64_t	n = SH_LOAD(&lk_undo(t)->n);

	return n < TBL_UNDO_CAP ? TBL_UNDO_CAP - n : 0;
}

uint64_t
lk_savepoint(const struct tbl *t)
{
	lk_new_epoch();
	return SH_LOAD(&lk_undo(t)->n);
}

void
lk_rollback_to(struct tbl *t, uint64_t sp)
{
	struct tbl_undo	*u = lk_undo(t);

	lk_new_epoch();
	lk_once.rollbacks++;
	lk_bump(t);
	lk_undo_apply(t, u, sp, SH_LOAD(&u->n));
	__atomic_store_n(&u->n, sp, __ATOMIC_RELEASE);
	CRASH_POINT();
}
