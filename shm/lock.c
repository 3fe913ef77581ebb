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
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crash.h"
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
	uint64_t	logged[LK_STATE_WORDS];	/* epoch of its record */
} lk_once;

uint64_t
lk_op_id(void)
{
	return lk_once.op;
}

static inline void
lk_new_epoch(void)
{
	lk_once.epoch++;
}

static inline void
lk_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static uint64_t
lk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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
 * Roll back whatever the last holder left in the log and make the
 * sequence even.  Safe to run on a clean stripe, and to run again after
 * being interrupted at any point.  A log that fails validation leaves the
 * stripe untouched and odd: readers then get EAGAIN or ECORRUPT, never a
 * half-restored table.
 */
static int
lk_recover(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	struct tbl_undo		*u = lk_undo(t);
	uint64_t		 n, seq;

	n = SH_LOAD(&u->n);
	if (!lk_undo_valid(t, u, n))
		return PROTETS_ECORRUPT;
	lk_undo_apply(t, u, 0, n);
	__atomic_store_n(&u->n, 0, __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	seq = SH_LOAD(&s->seq);
	if (seq & 1)
		__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	return 0;
}

static int
lk_clean(const struct tbl *t)
{
	return SH_LOAD(&lk_undo(t)->n) == 0 &&
	    (SH_LOAD(&lk_stripe(t)->seq) & 1) == 0;
}

/*
 * Take the mutex of stripe 0, recovering first if its last holder died.
 * Returns 0 with the lock held; otherwise the lock is not held: EBUSY
 * (nowait only), PROTETS_ELOCKED, PROTETS_ECORRUPT or an errno.
 */
static int
lk_acquire(struct tbl *t, int nowait)
{
	struct tbl_stripe	*s = lk_stripe(t);
	struct timespec		 ts;
	int			 e, rc;

	if (nowait)
		e = pthread_mutex_trylock(&s->mtx);
	else {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += LK_LOCK_TIMEOUT_MS / 1000;
		e = pthread_mutex_clocklock(&s->mtx, CLOCK_MONOTONIC, &ts);
	}
	switch (e) {
	case 0:
		/* A clean unlock always leaves this; else replay anyway. */
		if (lk_clean(t))
			return 0;
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
		return PROTETS_ELOCKED;
	case ENOTRECOVERABLE:
		return PROTETS_ECORRUPT;
	default:
		return e;
	}
	if (rc != 0)
		pthread_mutex_unlock(&s->mtx);
	return rc;
}

static void
lk_release(struct tbl *t)
{
	pthread_mutex_unlock(&lk_stripe(t)->mtx);
}

int
lk_wbegin(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);
	uint64_t		 seq;
	int			 e;

	if (!t->writable)
		return PROTETS_EACCES;
	if ((e = lk_acquire(t, 0)) != 0)
		return e;
	lk_new_epoch();
	lk_once.op++;
	seq = SH_LOAD(&s->seq);
	SH_STORE(&s->seq, seq + 1);
	/* Readers must see the odd sequence before any change. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	return 0;
}

/* Make the sequence even again (it is odd: we made it so) and unlock. */
static void
lk_wend(struct tbl *t)
{
	struct tbl_stripe	*s = lk_stripe(t);

	__atomic_store_n(&s->seq, SH_LOAD(&s->seq) + 1, __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	lk_release(t);
}

void
lk_wcommit(struct tbl *t)
{
	TBL_CRASHPOINT();
	/* The commit point: from here on recovery keeps the new state. */
	__atomic_store_n(&lk_undo(t)->n, 0, __ATOMIC_RELEASE);
	TBL_CRASHPOINT();
	lk_wend(t);
}

void
lk_wabort(struct tbl *t)
{
	lk_rollback_to(t, 0);
	lk_wend(t);
}

void
lk_log(struct tbl *t, uint64_t off)
{
	struct tbl_undo	*u = lk_undo(t);
	uint64_t	 n, w;

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

static int
lk_waited_too_long(struct lk_rd *r)
{
	uint64_t	now = lk_now_ms();

	if (r->t0_ms == 0) {
		r->t0_ms = now;
		return 0;
	}
	return now - r->t0_ms > LK_READ_WAIT_MS;
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

/*
 * Wait for an even sequence.  A writer normally keeps it odd for a few
 * microseconds; if it stays odd, the writer is preempted, stopped or dead.
 * A writable mapping then tries the lock, which recovers a dead writer;
 * a read-only one can do nothing about it and gives up with EAGAIN (the
 * daemon repairs on its behalf).
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
			r->seq = seq;
			return 0;
		}
		if (i < LK_SPIN) {
			lk_relax();
			continue;
		}
		if (t->writable && (e = lk_rlock(t, r, 1)) != EBUSY)
			return e;
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
 * Returns 0 when what was read since lk_rbegin is consistent, 1 when it
 * must be read again (the sequence is even again, or the lock is held),
 * or an error with the lock not held.
 */
int
lk_rend(struct tbl *t, struct lk_rd *r)
{
	int	e;

	if (r->locked)
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (SH_LOAD(&lk_stripe(t)->seq) == r->seq)
		return 0;
	r->tries++;
	if (t->writable && r->tries >= LK_READ_RETRIES) {
		/* Starved by writers: read under the lock instead. */
		if ((e = lk_rlock(t, r, 0)) != 0)
			return e;
		return 1;
	}
	if (!t->writable && r->tries % 16 == 0 && lk_waited_too_long(r))
		return PROTETS_EAGAIN;
	if ((e = lk_rwait(t, r)) != 0)
		return e;
	return 1;
}

/* Has a writer started since lk_rbegin?  Lets long walks give up early. */
int
lk_rstale(const struct tbl *t, const struct lk_rd *r)
{
	if (r == NULL || r->locked)
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return SH_LOAD(&lk_stripe(t)->seq) != r->seq;
}

void
lk_rdone(struct tbl *t, struct lk_rd *r)
{
	if (r->locked) {
		r->locked = 0;
		lk_release(t);
	}
}

uint64_t
lk_undo_count(const struct tbl *t)
{
	return SH_LOAD(&lk_undo(t)->n);
}

uint64_t
lk_seq(const struct tbl *t)
{
	return SH_LOAD(&lk_stripe(t)->seq);
}
