/*
 * shm/lock_mutex.c - taking the stripe's lock: its lock word within a
 * time-out, update_counter's lock-free updaters waited out (fastpath.c),
 * a dead holder's write recovered (lock_undo.c); the locks this thread
 * holds, naming the holder; the module's clocks.
 *
 * Writers serialise on the stripe's lock word (owner.c: the engine's own
 * mutex, whose word names the holder's process and nothing any process
 * follows).  A writer may be SIGKILLed at any instruction; the next
 * locker finds the holder dead, takes the word over (EOWNERDEAD) and
 * recovers what the dead writer left (lock_undo.c) before it does
 * anything else.  Recovery is idempotent: a recoverer killed in it is
 * recovered in turn.  A clean unlock always leaves the state clean, so a
 * clean state is all a locker checks for, whoever held the lock before.
 *
 * A writer waits for the lock at most t->lock_timeout_ms, then fails with
 * PROTETS_ELOCKED and records who held it (the pid in the lock word, when
 * the holder is of this pid namespace).  Most operations hold the lock
 * for well under a microsecond, and a futex sleep costs tens of them to
 * wake from: a held lock is watched a while first (lk_spin_first).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "fastpath.h"
#include "lockint.h"
#include "owner.h"
#include "tally.h"

void
lk_format(struct tbl *t)
{
	int	i;

	for (i = 0; i < TBL_NSTRIPES; i++) {
		memset(lk_stripe(t) + i, 0, sizeof(struct tbl_stripe));
		memset(lk_undo(t) + i, 0, offsetof(struct tbl_undo, rec));
		lk_undo(t)[i].cap = TBL_UNDO_CAP;
	}
	memset(t->base + TBL_NS_OFF, 0, TBL_NS_SLOTS * sizeof(uint64_t));
	fp_format(t);
}

/* Who held t's lock when this thread's last attempt at it failed. */
static __thread struct {
	const unsigned char	*base;		/* NULL: no failure to report */
	pid_t			 pid;
} lk_last;

void
lk_note(const struct tbl *t, pid_t pid)
{
	lk_last.base = t->base;
	lk_last.pid = pid;
}

static void
lk_note_holder(const struct tbl *t)
{
	lk_last.base = t->base;
	lk_last.pid = ow_holder(t, &lk_stripe(t)->lock);
}

pid_t
lk_holder(const struct tbl *t)
{
	if (lk_last.base == t->base)
		return lk_last.pid;
	return ow_holder(t, &lk_stripe(t)->lock);
}

/*
 * The tables whose lock this thread holds, so that a thread asking again
 * (a signal handler writing to the table whose write it interrupted) gets
 * EDEADLK instead of waiting for itself: the lock word names processes,
 * not threads (owner.c), and its own process's hold is a live one.
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
	e = ow_take(t, &s->lock);
	lk_count_busy(t, e == EBUSY);
	if (e != EBUSY)
		return e;
	ty_event(t, TBL_TY_LOCK_WAIT);
	ms = __atomic_load_n(&t->lock_timeout_ms, __ATOMIC_RELAXED);
	if (ms <= 0)	/* one try, which a dead holder does not fail */
		return (e = ow_trylock(t, &s->lock, 1)) == EBUSY ? ETIMEDOUT :
		    e;
	/*
	 * Held.  Most operations hold the lock for well under a microsecond
	 * and a futex sleep costs tens of them to wake from: unless the lock
	 * is contended all the time (lk_busy_avg), watch the futex word a
	 * while first (reading it, so that the holder keeps its line) and
	 * try again once it is free.
	 */
	for (i = 0; lk_spin_first(t) && i < LK_LOCK_SPIN; i++) {
		lk_relax();
		if (ow_free(&s->lock) && ow_take(t, &s->lock) == 0)
			return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
	return ow_lock(t, &s->lock, ts);
}

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
 * Take t's lock word, at once (nowait) or within t->lock_timeout_ms.
 * Returns 0 or EOWNERDEAD with it held (its last holder died: recover),
 * this thread's last failure on t forgotten and the lock counted as this
 * thread's until lk_mx_unlock; else EBUSY (nowait, this thread's hold
 * included), EDEADLK (this thread holds it), PROTETS_ELOCKED (timed out, the holder noted) or an errno.
 * *ts: the deadline when the lock was waited for (tv_sec 0 when not).
 */
static int
lk_mx_lock(struct tbl *t, int nowait, struct timespec *ts)
{
	int	e;

	/*
	 * nowait: a reader trying again and again; kill(pid, 0) alone says
	 * whether the holder is gone (a writer, or REPAIR, reads /proc).
	 * Held by this thread: busy, as a trylock says.
	 */
	if (nowait)
		e = lk_held_slot(t->base) >= 0 ? EBUSY :
		    ow_trylock(t, &lk_stripe(t)->lock, 0);
	else
		e = lk_timedlock(t, ts);
	switch (e) {
	case 0:
	case EOWNERDEAD:
		if (__builtin_expect(lk_last.base != NULL, 0) &&
		    lk_last.base == t->base)
			lk_last.base = NULL;	/* that failure is history */
		/* from here on (recovery included) asking again: EDEADLK */
		lk_held_set(t, 1);
		return e;
	case ETIMEDOUT:
		lk_note_holder(t);
		ty_event(t, TBL_TY_LOCK_TIMEOUT);
		return PROTETS_ELOCKED;
	case EDEADLK:
		lk_note(t, getpid());
		return EDEADLK;
	default:
		return e;
	}
}

static void
lk_mx_unlock(struct tbl *t)
{
	lk_held_set(t, 0);
	ow_unlock(&lk_stripe(t)->lock);
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
	lk_mx_unlock(t);
}

/*
 * The lock just taken, and fp_in_use: wait for update_counter's
 * lock-free updaters to leave the shard (fastpath.c) before anything is
 * read or changed, recovery included, within what is left of the lock
 * timeout (deadline ts).  On failure the lock is released with the state
 * as it is: whoever takes it next finds it unclean and recovers.
 */
static int
lk_quiesce(struct tbl *t, int nowait, const struct timespec *ts)
{
	pid_t	pid = 0;
	int	q;

	q = fp_quiesce(t, nowait ? 0 : lk_ms_left(ts,
	    __atomic_load_n(&t->lock_timeout_ms, __ATOMIC_RELAXED)), &pid);
	if (q == 0)
		return 0;
	lk_unlock(t, 1);
	lk_note(t, q == EDEADLK ? getpid() : pid);
	if (q == ETIMEDOUT || (q == EDEADLK && nowait)) {
		if (!nowait)
			ty_event(t, TBL_TY_LOCK_TIMEOUT);
		return nowait ? EBUSY : PROTETS_ELOCKED;
	}
	return q;
}

int
lk_acquire(struct tbl *t, int nowait)
{
	struct timespec	ts = { 0, 0 };
	int		e, rc;

	if ((e = lk_mx_lock(t, nowait, &ts)) != 0 && e != EOWNERDEAD)
		return e;
	if (fp_in_use(t) && (rc = lk_quiesce(t, nowait, &ts)) != 0)
		return rc;
	/*
	 * A clean unlock always leaves the state clean; a dead holder may
	 * have too (then there is nothing to replay), or not.  A taker
	 * killed from here on is taken over in turn; one killed in
	 * lk_recover leaves the log for the next.
	 */
	if (e == EOWNERDEAD) {
		CRASH_POINT();
		ty_recovered(t, ow_dead_pid(), !lk_clean(t));
	}
	if (lk_clean(t))
		return 0;
	rc = lk_recover(t);
	if (rc != 0)
		lk_unlock(t, 1);
	return rc;
}

void
lk_release(struct tbl *t)
{
	lk_unlock(t, 0);
}

int
lk_retire(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	int			 e;

	if ((e = lk_acquire(t, 0)) != 0) {
		/*
		 * A live holder kept the lock (stopped, say): retired all the
		 * same.  Its write may still commit here; every later writer
		 * checks the mark once it holds the lock, its unlock leaves the
		 * lock-free updaters out (fp_open), and readers check the mark
		 * in overlay mode too.
		 */
		if (e == PROTETS_ELOCKED) {
			__atomic_store_n(&s->retired, 1, __ATOMIC_RELEASE);
			__atomic_store_n(&fp_area(t)->busy, 1,
			    __ATOMIC_RELEASE);
		}
		return e;
	}
	if (!SH_LOAD(&s->retired)) {
		/* retired before seq: a reader that sees seq move sees it. */
		__atomic_store_n(&s->retired, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&fp_area(t)->busy, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&s->seq, SH_LOAD(&s->seq) + 2,
		    __ATOMIC_RELEASE);
	}
	lk_release(t);	/* fp_open leaves a retired shard closed */
	return 0;
}

int
lk_busy(struct tbl *t)
{
	return !ow_free(&lk_stripe(t)->lock) || !lk_clean(t);
}

int
lk_is_retired(struct tbl *t)
{
	return SH_LOAD(&lk_stripe(t)->retired) != 0;
}

int
lk_unretire(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	int			 e;

	if (!SH_LOAD(&s->retired))
		return 0;
	if ((e = lk_acquire(t, 0)) != 0)
		return e;
	if (SH_LOAD(&s->retired)) {
		/* seq on, never back: a reader that saw it retired stays so */
		__atomic_store_n(&s->seq, SH_LOAD(&s->seq) + 2,
		    __ATOMIC_RELEASE);
		__atomic_store_n(&s->retired, 0, __ATOMIC_RELEASE);
	}
	lk_release(t);	/* lock-free updaters let in again */
	return 0;
}

int
lk_failed_on(const struct tbl *t)
{
	return lk_last.base != NULL && lk_last.base == t->base;
}

