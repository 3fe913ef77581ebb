/*
 * shm/lock.c - writer lock, seqlock, undo log and crash recovery.
 *
 * Writers serialise on a process-shared robust mutex.  A writer may be
 * SIGKILLed at any instruction; the kernel then marks the mutex
 * owner-dead, and the next locker gets EOWNERDEAD.  What that locker
 * finds is the dead writer's undo log: (offset, old word) records, each
 * written before the word it saves was changed.  Replaying them newest
 * first restores the last committed state, whichever instruction the
 * writer died at.  Replaying is idempotent (the log is emptied only after
 * every record is applied), so a recoverer that is itself killed leaves
 * the mutex owner-dead again and the next locker simply replays again.
 * Only once the state is restored and the sequence even again do we call
 * pthread_mutex_consistent: a mutex unlocked without it would become
 * ENOTRECOVERABLE forever.
 *
 * Readers do not lock: they run between two reads of an even sequence.
 * When the sequence stays odd (the writer is preempted, stopped or dead
 * mid-operation), they read the last committed state through an overlay
 * of the undo log instead of waiting (lk_ov_enter below).
 *
 * A reader gives up (EAGAIN, or the lock when its mapping is writable)
 * only after LK_READ_WAIT_MS of its own CPU time spent trying.
 *
 * A writer waits for the mutex at most t->lock_timeout_ms, then fails with
 * PROTETS_ELOCKED and records who held it: the robust mutex's futex word
 * holds the owner's thread id, which /proc maps to its process.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "fastpath.h"
#include "lock.h"

static inline struct tbl_stripe *
lk_stripe(const struct tbl *t)
{
	return (struct tbl_stripe *)(void *)(t->base + TBL_STRIPE_OFF);
}

static inline struct tbl_undo *
lk_undo(const struct tbl *t)
{
	return (struct tbl_undo *)(void *)(t->base + TBL_UNDO_OFF);
}

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

static inline void
lk_new_epoch(void)
{
	lk_once.epoch++;
}

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

__thread struct lk_ov *lk_ov_cur __attribute__((tls_model("initial-exec")));
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

int
lk_format(struct tbl *t)
{
	pthread_mutexattr_t	 a;
	struct tbl_stripe	*s;
	struct tbl_undo		*u;
	int			 e, i;

	if ((e = pthread_mutexattr_init(&a)) != 0)
		return e;
	/* PTHREAD_MUTEX_ROBUST is an enum in glibc: no #ifdef. */
	if ((e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) ||
	    (e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)))
		goto out;
	for (i = 0; i < TBL_NSTRIPES; i++) {
		s = lk_stripe(t) + i;
		u = lk_undo(t) + i;
		memset(s, 0, sizeof(*s));
		memset(u, 0, offsetof(struct tbl_undo, rec));
		u->cap = TBL_UNDO_CAP;
		if ((e = pthread_mutex_init(&s->mtx, &a)) != 0)
			goto out;
	}
	e = fp_format(t, &a);
out:
	pthread_mutexattr_destroy(&a);
	return e;
}

/*
 * A record may only restore a word of the state or of the heap: the
 * header, the locks and the logs themselves are never logged.  Checked for
 * every record before any is applied, so a torn or hostile log is refused
 * whole rather than half replayed.
 */
static int
lk_undo_valid(const struct tbl *t, const struct tbl_undo *u, uint64_t n)
{
	uint64_t	i, off;

	if (n > TBL_UNDO_CAP)
		return 0;
	for (i = 0; i < n; i++) {
		off = SH_LOAD(&u->rec[i].off);
		if (off >= TBL_STATE_OFF && (off & 7) == 0 &&
		    off < TBL_STATE_OFF + sizeof(struct tbl_state))
			continue;
		if (!tbl_inheap(t, off, 8, 8))
			return 0;
	}
	return 1;
}

/* Replay records [from, n) newest first. */
static void
lk_undo_apply(struct tbl *t, struct tbl_undo *u, uint64_t from, uint64_t n)
{
	uint64_t	i, off;

	for (i = n; i > from; i--) {
		off = SH_LOAD(&u->rec[i - 1].off);
		SH_STORE(tbl_word(t, off), SH_LOAD(&u->rec[i - 1].old));
		TBL_CRASHPOINT();
	}
}

/*
 * Move an odd sequence on by 2, still odd, before the undo log shrinks: an
 * overlay reader whose copy of the log had as many records as the log
 * ends with (0, after a commit) must still see that the writer moved.  An
 * even one stays: the operation changed nothing through the log.
 */
static void
lk_bump(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	uint64_t		 seq = SH_LOAD(&s->seq);

	if ((seq & 1) == 0)
		return;		/* nothing changed: no reader to warn */
	SH_STORE(&s->seq, seq + 2);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	TBL_CRASHPOINT();
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
lk_dirty(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	uint64_t		 seq = SH_LOAD(&s->seq);

	if (seq & 1)
		return;
	SH_STORE(&s->seq, seq + 1);
	/* Readers must see the odd sequence before any change. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	TBL_CRASHPOINT();
}

/*
 * Is the batch of an undo log's tag committed?  Its leading shard is the
 * lowest of the batch (this one or below), and the batch committed once
 * the leader's xcommit is its number.  Returns 0 and sets *done, or
 * PROTETS_ECORRUPT for a tag no writer writes.
 */
static int
lk_tag_done(const struct tbl *t, uint64_t tag, int *done)
{
	const struct tbl_stripe	*ls;
	unsigned		 lead = TBL_XTAG_LEAD(tag);
	uint64_t		 seq = TBL_XTAG_SEQ(tag);

	*done = 0;
	if (tag == 0)
		return 0;
	if (seq == 0 || lead > t->shard || t->nshards < 2)
		return PROTETS_ECORRUPT;
	ls = (const struct tbl_stripe *)(const void *)(t->base -
	    (size_t)(t->shard - lead) * t->shard_size + TBL_STRIPE_OFF);
	*done = __atomic_load_n(&ls->xcommit, __ATOMIC_ACQUIRE) == seq;
	return 0;
}

/*
 * A batch this shard led was cut short: take and release the lock of
 * each follower in mask, which recovers its part (forward or back, as
 * lk_recover decides from our xcommit).  Ascending, as batches lock.
 */
static int
lk_xrepair(struct tbl *t, uint64_t mask)
{
	struct tbl	v;
	unsigned	k;
	int		e;

	if (t->nshards < 2 || t->shard >= t->nshards ||
	    (mask & ~((1ULL << t->nshards) - 1)) != 0 ||
	    (mask & ((2ULL << t->shard) - 1)) != 0)
		return PROTETS_ECORRUPT;
	for (k = t->shard + 1; k < t->nshards; k++) {
		if ((mask & 1ULL << k) == 0)
			continue;
		tbl_view(t, k, &v);
		if ((e = lk_repair(&v)) != 0)
			return e;
		TBL_CRASHPOINT();
	}
	return 0;
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
static int
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
		TBL_CRASHPOINT();
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
	TBL_CRASHPOINT();
	__atomic_store_n(&u->tag, 0, __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	seq = SH_LOAD(&s->seq);
	if (seq & 1)
		__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	return 0;
}

/*
 * The thread id in the mutex's futex word (glibc: the owner's tid in its
 * low 30 bits), 0 when unlocked or its owner died.  Shared memory: only
 * ever a hint.
 */
static pid_t
lk_owner_tid(const struct tbl *t)
{
	int	w = __atomic_load_n(&lk_stripe(t)->mtx.__data.__lock,
		    __ATOMIC_RELAXED);

	return (pid_t)((unsigned)w & 0x3fffffffu);
}

/* Who held t's lock when this thread's last attempt at it failed. */
static __thread struct {
	const unsigned char	*base;		/* NULL: no failure to report */
	pid_t			 pid;
} lk_last;

static void
lk_note_holder(const struct tbl *t)
{
	pid_t	tid = lk_owner_tid(t);

	lk_last.base = t->base;
	lk_last.pid = tid == 0 ? 0 : lk_tid_pid(tid);
}

pid_t
lk_holder(const struct tbl *t)
{
	pid_t	tid;

	if (lk_last.base == t->base)
		return lk_last.pid;
	tid = lk_owner_tid(t);
	return tid == 0 ? 0 : lk_tid_pid(tid);
}

/*
 * The tables whose lock this thread holds, so that a thread asking again
 * (a signal handler writing to the table whose write it interrupted) gets
 * EDEADLK instead of waiting for itself: a robust normal mutex would just
 * time out.  Kept here rather than read from the futex word, whose thread
 * id may be another pid namespace's.
 */
#define LK_HELD_MAX	(8 + TBL_SHARD_MAX)	/* a batch holds every shard */
static __thread const unsigned char *lk_held[LK_HELD_MAX];
static __thread unsigned lk_nheld;	/* lk_held[0 .. lk_nheld) */

static int
lk_held_slot(const unsigned char *base)
{
	unsigned	i;

	for (i = 0; i < lk_nheld; i++)
		if (lk_held[i] == base)
			return (int)i;
	return -1;
}

/* Beyond LK_HELD_MAX tables held at once, EDEADLK is not detected. */
static void
lk_held_set(const struct tbl *t, int held)
{
	int	i;

	if (held) {
		if (lk_nheld < LK_HELD_MAX)
			lk_held[lk_nheld++] = t->base;
	} else if ((i = lk_held_slot(t->base)) >= 0)
		lk_held[i] = lk_held[--lk_nheld];
}

/*
 * How often this thread's attempts on the lock of an unsharded table
 * find it held: a moving average in 1/1024ths.  Where that is the rule
 * (two writers hammering one lock), a spinner takes the lock at every
 * release and the lock's lines move between the CPUs at every operation,
 * while a sleeper lets the holder run on alone.
 *
 * A shard's lock is always watched before the sleep (lk_spin_first),
 * and its collisions are not counted here: the other writer is in
 * another shard nearly always (1 attempt in 18 with two writers on 16
 * shards, measured) and out of this one in a moment.  Counted, such
 * collisions come in bursts that pushed the average past
 * LK_SPIN_BUSY_MAX now and then, and each futex sleep that followed cost
 * tens of microseconds: two writers inserted 20% slower (make bench,
 * wc16_insert_2proc).
 */
static __thread int lk_busy_avg;

static void
lk_count_busy(const struct tbl *t, int busy)
{
	if (t->nshards <= 1)
		lk_busy_avg += ((busy ? 1024 : 0) - lk_busy_avg) / 16;
}

/* Watch a held lock a while before sleeping on it? */
static int
lk_spin_first(const struct tbl *t)
{
	return t->nshards > 1 || lk_busy_avg <= LK_SPIN_BUSY_MAX;
}

/*
 * Lock with the table handle's timeout; 0 does not wait at all.  *ts: the
 * deadline when the lock was waited for (its tv_sec left 0 when not), for
 * what comes after the lock to keep to (lk_quiesce).
 */
static int
lk_timedlock(struct tbl *t, struct timespec *ts)
{
	struct tbl_stripe	*s = lk_stripe(t);
	int			 ms, e, i;

	if (lk_held_slot(t->base) >= 0)
		return EDEADLK;
	/* Free (the usual case): no clock, no timed wait. */
	e = pthread_mutex_trylock(&s->mtx);
	lk_count_busy(t, e == EBUSY);
	if (e != EBUSY)
		return e;
	ms = __atomic_load_n(&t->lock_timeout_ms, __ATOMIC_RELAXED);
	if (ms <= 0)
		return ETIMEDOUT;
	/*
	 * Held.  Most operations hold the lock for well under a microsecond
	 * and a futex sleep costs tens of them to wake from: unless the lock
	 * is contended all the time (lk_busy_avg), watch the futex word a
	 * while first (reading it, so that the holder keeps its line) and
	 * try again once it is free or its owner dead.
	 */
	for (i = 0; lk_spin_first(t) && i < LK_LOCK_SPIN; i++) {
		lk_relax();
		if (lk_owner_tid(t) == 0 &&
		    (e = pthread_mutex_trylock(&s->mtx)) != EBUSY)
			return e;
	}
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
	return pthread_mutex_clocklock(&s->mtx, CLOCK_MONOTONIC, ts);
}

static int
lk_clean(const struct tbl *t)
{
	const struct tbl_stripe	*s = lk_stripe(t);
	const struct tbl_undo	*u = lk_undo(t);

	return SH_LOAD(&u->n) == 0 && (SH_LOAD(&s->seq) & 1) == 0 &&
	    SH_LOAD(&u->tag) == 0 && SH_LOAD(&s->xmask) == 0;
}

/*
 * Unlock, lock-free updaters let in again first; but after taking the
 * mutex failed (recovery refused or not done, a lock-free updater not
 * waited out), only if the state is clean: they would change words that a
 * dead writer's undo log is yet to restore, and no updater ever recovers.
 * Whoever next takes the mutex recovers, and lets them in when it unlocks.
 */
static void
lk_unlock(struct tbl *t, int failed)
{
	if (!failed || lk_clean(t))
		fp_open(t);
	pthread_mutex_unlock(&lk_stripe(t)->mtx);
}

/* Milliseconds left until deadline ts (tv_sec 0: the whole of ms). */
static int
lk_ms_left(const struct timespec *ts, int ms)
{
	struct timespec	now;
	int64_t		left;

	if (ts->tv_sec == 0)
		return ms;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = ((int64_t)ts->tv_sec - now.tv_sec) * 1000 +
	    (ts->tv_nsec - now.tv_nsec) / 1000000;
	return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * The mutex just taken (e: 0 or EOWNERDEAD), and fp_in_use: wait for
 * update_counter's lock-free updaters to leave the shard (fastpath.c)
 * before anything is read or changed, recovery included, within what is
 * left of the lock timeout (deadline ts).  On failure the mutex is
 * released, made consistent first, with the state as it is: whoever
 * takes it next finds it unclean and recovers.
 */
static int
lk_quiesce(struct tbl *t, int e, int nowait, const struct timespec *ts)
{
	struct tbl_stripe	*s = lk_stripe(t);
	pid_t			 pid = 0;
	int			 q;

	q = fp_quiesce(t, nowait ? 0 : lk_ms_left(ts,
	    __atomic_load_n(&t->lock_timeout_ms, __ATOMIC_RELAXED)), &pid);
	if (q == 0)
		return 0;
	if (e == EOWNERDEAD)
		(void)pthread_mutex_consistent(&s->mtx);
	lk_unlock(t, 1);
	lk_last.base = t->base;
	lk_last.pid = q == EDEADLK ? getpid() : pid;
	if (q == ETIMEDOUT || (q == EDEADLK && nowait))
		return nowait ? EBUSY : PROTETS_ELOCKED;
	return q;
}

/*
 * Take the mutex of stripe 0, recovering first if its last holder died.
 * Returns 0 with the lock held; otherwise the lock is not held: EBUSY
 * (nowait only), PROTETS_ELOCKED, EDEADLK, PROTETS_ECORRUPT or an errno.
 */
static int
lk_acquire(struct tbl *t, int nowait)
{
	struct tbl_stripe	*s = lk_stripe(t);
	struct timespec		 ts = { 0, 0 };
	int			 e, rc;

	if (nowait)
		e = pthread_mutex_trylock(&s->mtx);
	else
		e = lk_timedlock(t, &ts);
	if (__builtin_expect(lk_last.base != NULL, 0) &&
	    (e == 0 || e == EOWNERDEAD) && lk_last.base == t->base)
		lk_last.base = NULL;	/* that failure is history */
	if ((e == 0 || e == EOWNERDEAD) && fp_in_use(t) &&
	    (rc = lk_quiesce(t, e, nowait, &ts)) != 0)
		return rc;
	switch (e) {
	case 0:
		/* A clean unlock always leaves this; else replay anyway. */
		if (lk_clean(t)) {
			lk_held_set(t, 1);
			return 0;
		}
		rc = lk_recover(t);
		break;
	case EOWNERDEAD:
		rc = lk_recover(t);
		TBL_CRASHPOINT();
		/* Even when the log was refused: never ENOTRECOVERABLE. */
		(void)pthread_mutex_consistent(&s->mtx);
		break;
	case EBUSY:
		return EBUSY;
	case ETIMEDOUT:
		lk_note_holder(t);
		return PROTETS_ELOCKED;
	case EDEADLK:
		lk_last.base = t->base;
		lk_last.pid = getpid();
		return EDEADLK;
	case ENOTRECOVERABLE:
		return PROTETS_ECORRUPT;
	default:
		return e;
	}
	if (rc != 0)
		lk_unlock(t, 1);
	else
		lk_held_set(t, 1);
	return rc;
}

static void
lk_release(struct tbl *t)
{
	lk_held_set(t, 0);
	lk_unlock(t, 0);
}

/*
 * Write locks this thread's operation holds (a batch: one per shard).  An
 * operation's bookkeeping is per thread (lk_once, the allocator's blocks
 * freed by it): a write begun while another is under way, by a signal
 * handler on a table other than the one whose write it interrupted,
 * would take it over and leave the interrupted one without undo records
 * when it resumes.  It gets EDEADLK instead, as on the same table.
 */
static __thread unsigned lk_nwriting;

static int
lk_wbegin_in(struct tbl *t, int batch)
{
	int	e;

	if (!t->writable)
		return PROTETS_EACCES;
	if (lk_nwriting > 0 && !batch) {
		lk_last.base = t->base;
		lk_last.pid = getpid();
		return EDEADLK;
	}
	if ((e = lk_acquire(t, 0)) != 0)
		return e;
	lk_nwriting++;
	lk_new_epoch();
	lk_once.op++;
	TBL_CRASHPOINT();
	return 0;
}

int
lk_wbegin(struct tbl *t)
{
	return lk_wbegin_in(t, 0);
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

/* Make the sequence even again if we made it odd (lk_dirty), unlock. */
static void
lk_wend(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	uint64_t		 seq = SH_LOAD(&s->seq);

	if (seq & 1)
		__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	lk_nwriting--;
	lk_release(t);
}

void
lk_wcommit(struct tbl *t)
{
	TBL_CRASHPOINT();
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
	TBL_CRASHPOINT();
	lk_wend(t);
}

void
lk_wabort(struct tbl *t)
{
	lk_rollback_to(t, 0);
	lk_wend(t);
}

/*
 * Batches over several shards.  v[0..n) are views of the shards, in
 * ascending order; v[0] leads.  lk_xbegin locks them in that order (so
 * two batches cannot deadlock), numbers the batch in the leader's xnext,
 * records the followers in its xmask and tags every shard's undo log
 * with the batch.  lk_xcommit stores the number in the leader's xcommit:
 * the commit point of the whole batch, after which the recovery of any
 * of its shards discards that shard's log.  It then ends the followers
 * and, last, the leader: holding the leader's lock until every follower
 * log is empty, no later batch of that leader can commit while a tag of
 * this one remains.  A leader that dies leaves its xmask set, and whoever
 * next takes its lock recovers the followers first (lk_xrepair).
 */
static void
lk_tag(struct tbl *t, uint64_t tag)
{
	/* A tag is a change: readers (tbl_check) must not see it stand. */
	lk_dirty(t);
	__atomic_store_n(&lk_undo(t)->tag, tag, __ATOMIC_RELEASE);
	/* The tag is in place before any record of the batch. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	TBL_CRASHPOINT();
}

/* The end of one shard's part: log emptied, then untagged, unlocked. */
static void
lk_xend(struct tbl *t, int rollback)
{
	if (rollback)
		lk_rollback_to(t, 0);
	else {
		lk_bump(t);
		__atomic_store_n(&lk_undo(t)->n, 0, __ATOMIC_RELEASE);
		TBL_CRASHPOINT();
	}
	__atomic_store_n(&lk_undo(t)->tag, 0, __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	lk_wend(t);
}

/* End the first n shards of a batch: followers, xmask, then the leader. */
static void
lk_xfinish(struct tbl *v, unsigned n, int rollback)
{
	while (n-- > 1)
		lk_xend(&v[n], rollback);
	__atomic_store_n(&lk_stripe(&v[0])->xmask, 0, __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	lk_xend(&v[0], rollback);
}

int
lk_xbegin(struct tbl *v, unsigned n)
{
	struct tbl_stripe	*ls = lk_stripe(&v[0]);
	uint64_t		 seq, mask = 0, tag;
	unsigned		 i;
	int			 e;

	for (i = 1; i < n; i++) {
		if (v[i].shard <= v[i - 1].shard || v[i].shard >= v[0].nshards)
			return PROTETS_EINVAL;
		mask |= 1ULL << v[i].shard;
	}
	if (n < 2 || (e = lk_wbegin(&v[0])) != 0)
		return n < 2 ? PROTETS_EINVAL : e;
	lk_dirty(&v[0]);	/* before xnext, xmask and the tags */
	seq = SH_LOAD(&ls->xnext) + 1;
	__atomic_store_n(&ls->xnext, seq, __ATOMIC_RELEASE);
	__atomic_store_n(&ls->xmask, mask, __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	tag = TBL_XTAG(seq, v[0].shard);
	lk_tag(&v[0], tag);
	for (i = 1; i < n; i++) {
		if ((e = lk_wbegin_in(&v[i], 1)) != 0) {
			lk_xfinish(v, i, 1);
			return e;
		}
		lk_tag(&v[i], tag);
	}
	return 0;
}

void
lk_xcommit(struct tbl *v, unsigned n)
{
	uint64_t	tag = SH_LOAD(&lk_undo(&v[0])->tag);

	TBL_CRASHPOINT();
	/* The commit point of the whole batch. */
	__atomic_store_n(&lk_stripe(&v[0])->xcommit, TBL_XTAG_SEQ(tag),
	    __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	lk_xfinish(v, n, 0);
}

void
lk_xabort(struct tbl *v, unsigned n)
{
	lk_xfinish(v, n, 1);
}

void
lk_log(struct tbl *t, uint64_t off)
{
	struct tbl_undo	*u = lk_undo(t);
	uint64_t	 n, w;

	lk_dirty(t);
	if (off >= TBL_STATE_OFF && off < TBL_STATE_OFF +
	    sizeof(struct tbl_state)) {
		w = (off - TBL_STATE_OFF) / 8;
		if (lk_once.logged[w] == lk_once.epoch)
			return;		/* its oldest value is in the log */
		lk_once.logged[w] = lk_once.epoch;
	}
	n = SH_LOAD(&u->n);
	/* Every operation reserves its records first (lk_room): a bug. */
	if (n >= TBL_UNDO_CAP)
		abort();
	SH_STORE(&u->rec[n].off, off);
	SH_STORE(&u->rec[n].old, SH_LOAD(tbl_word(t, off)));
	/* The record is complete before n covers it ... */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	SH_STORE(&u->n, n + 1);
	/* ... and n covers it before the caller changes the word. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	TBL_CRASHPOINT();
}

void
lk_set(struct tbl *t, uint64_t off, uint64_t v)
{
	lk_log(t, off);
	SH_STORE(tbl_word(t, off), v);
	TBL_CRASHPOINT();
}

uint64_t
lk_room(const struct tbl *t)
{
	return TBL_UNDO_CAP - SH_LOAD(&lk_undo(t)->n);
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
	TBL_CRASHPOINT();
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

/*
 * Has this reader tried long enough?  Counted in its own CPU time: on a
 * busy machine a reader can be preempted for longer than LK_READ_WAIT_MS
 * between two attempts, and the wall clock then told it to give up (a
 * read-only reader: EAGAIN) after a single failed attempt, while writers
 * that keep committing were all it had met.  The first call starts the
 * count (a test may stop the reader there: TBL_READPOINT).
 */
static int
lk_waited_too_long(struct lk_rd *r)
{
	uint64_t	now = lk_cpu_ms() + 1;

	if (r->cpu0_ms == 0) {
		r->cpu0_ms = now;
		TBL_READPOINT();
		return 0;
	}
	return now - r->cpu0_ms > LK_READ_WAIT_MS;
}

static int
lk_rlock(struct tbl *t, struct lk_rd *r, int nowait)
{
	int	e;

	if ((e = lk_acquire(t, nowait)) != 0)
		return e;
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
 * writer can have left, no memory.
 */
static int
lk_ov_enter(struct tbl *t, struct lk_rd *r, uint64_t seq)
{
	struct tbl_undo	*u = lk_undo(t);
	struct lk_ov	*ov;
	uint64_t	 n, i, k;
	int		 done;

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
	/* A log recovery would refuse is no overlay either: EAGAIN. */
	if (!lk_undo_valid(t, u, n)) {
		free(ov);
		return PROTETS_ECORRUPT;
	}
	qsort(ov->rec, n, sizeof(ov->rec[0]), lk_ovrec_cmp);
	for (i = k = 0; i < n; i++)
		if (k == 0 || ov->rec[k - 1].off != ov->rec[i].off)
			ov->rec[k++] = ov->rec[i];
	/* A batch past its commit point: the memory is the committed state. */
	if (lk_tag_done(t, SH_LOAD(&u->tag), &done) != 0) {
		free(ov);
		return PROTETS_ECORRUPT;
	}
	if (done)
		k = 0;
	/* Loads of the records before the checks (see lk_rend). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&u->n, __ATOMIC_ACQUIRE) != n ||
	    SH_LOAD(&lk_stripe(t)->seq) != seq) {
		free(ov);
		return 1;
	}
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
 * never waiting for a live writer.  Only when no overlay can be had (a
 * log no writer leaves, a writer adding records all the time) does a
 * read-only reader give up with EAGAIN (the daemon repairs on its behalf)
 * and a writable one wait for the lock.  A reader that failed
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
		if ((e = lk_ov_enter(t, r, seq)) == 0)
			return 0;
		if (lk_waited_too_long(r)) {
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
	    lk_waited_too_long(r)) {
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

int
lk_failed_on(const struct tbl *t)
{
	return lk_last.base != NULL && lk_last.base == t->base;
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
