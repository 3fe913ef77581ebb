/*
 * shm/lock_mutex.c - taking the stripe's lock: its mutex within a
 * time-out, update_counter's lock-free updaters waited out (fastpath.c),
 * a dead holder's write recovered (lock_undo.c); the locks this thread
 * holds, naming the holder; the module's clocks.
 *
 * Writers serialise on a process-shared robust mutex.  A writer may be
 * SIGKILLed at any instruction; the kernel then marks the mutex
 * owner-dead, and the next locker gets EOWNERDEAD: it recovers what the
 * dead writer left (lock_undo.c) and only then calls
 * pthread_mutex_consistent (lk_mx_consistent): a mutex unlocked without
 * it would become ENOTRECOVERABLE forever.
 *
 * A writer waits for the mutex at most t->lock_timeout_ms, then fails with
 * PROTETS_ELOCKED and records who held it: the robust mutex's futex word
 * holds the owner's thread id, which /proc maps to its process.  Most
 * operations hold the lock for well under a microsecond, and a futex
 * sleep costs tens of them to wake from: a held lock is watched a while
 * first (lk_spin_first).
 *
 * Everything the lock module knows of the mutex's kind is here (lk_mx_*,
 * lk_format, lk_owner_tid): replacing it changes this file only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "fastpath.h"
#include "lockint.h"

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

void
lk_note(const struct tbl *t, pid_t pid)
{
	lk_last.base = t->base;
	lk_last.pid = pid;
}

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
 * Take t's mutex, at once (nowait) or within t->lock_timeout_ms.  Returns
 * 0 or EOWNERDEAD with it held (its last holder died: recover, then
 * lk_mx_consistent), this thread's last failure on t forgotten and the
 * lock counted as this thread's until lk_mx_unlock; else EBUSY (nowait),
 * EDEADLK (this thread holds it), PROTETS_ELOCKED (timed out, the holder
 * noted), PROTETS_ECORRUPT (not recoverable) or an errno.  *ts: the
 * deadline when the lock was waited for (tv_sec 0 when not).
 */
static int
lk_mx_lock(struct tbl *t, int nowait, struct timespec *ts)
{
	int	e;

	if (nowait)
		e = pthread_mutex_trylock(&lk_stripe(t)->mtx);
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
		return PROTETS_ELOCKED;
	case EDEADLK:
		lk_note(t, getpid());
		return EDEADLK;
	case ENOTRECOVERABLE:
		return PROTETS_ECORRUPT;
	default:
		return e;
	}
}

static void
lk_mx_consistent(struct tbl *t)
{
	/* Even when the log was refused: never ENOTRECOVERABLE. */
	(void)pthread_mutex_consistent(&lk_stripe(t)->mtx);
}

static void
lk_mx_unlock(struct tbl *t)
{
	lk_held_set(t, 0);
	pthread_mutex_unlock(&lk_stripe(t)->mtx);
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
	pid_t	pid = 0;
	int	q;

	q = fp_quiesce(t, nowait ? 0 : lk_ms_left(ts,
	    __atomic_load_n(&t->lock_timeout_ms, __ATOMIC_RELAXED)), &pid);
	if (q == 0)
		return 0;
	if (e == EOWNERDEAD)
		lk_mx_consistent(t);
	lk_unlock(t, 1);
	lk_note(t, q == EDEADLK ? getpid() : pid);
	if (q == ETIMEDOUT || (q == EDEADLK && nowait))
		return nowait ? EBUSY : PROTETS_ELOCKED;
	return q;
}

int
lk_acquire(struct tbl *t, int nowait)
{
	struct timespec	ts = { 0, 0 };
	int		e, rc;

	if ((e = lk_mx_lock(t, nowait, &ts)) != 0 && e != EOWNERDEAD)
		return e;
	if (fp_in_use(t) && (rc = lk_quiesce(t, e, nowait, &ts)) != 0)
		return rc;
	if (e == 0) {
		/* A clean unlock always leaves this; else replay anyway. */
		if (lk_clean(t))
			return 0;
		rc = lk_recover(t);
	} else {
		rc = lk_recover(t);
		TBL_CRASHPOINT();
		lk_mx_consistent(t);	/* only once recovered */
	}
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

/* The pid of the thread whose id is tid: its Tgid, else tid itself. */
pid_t
lk_tid_pid(pid_t tid)
{
	char	path[64], buf[512], *p;
	ssize_t	n;
	long	v;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return tid;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return tid;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nTgid:")) == NULL)
		return tid;
	v = strtol(p + 6, NULL, 10);
	return v > 0 && v <= INT_MAX ? (pid_t)v : tid;
}

uint64_t
lk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
