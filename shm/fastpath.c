/*
 * shm/fastpath.c - update_counter without the shard's mutex.
 *
 * Two processes updating counters of one table (each its own keys) would
 * share at least one written cache line per update if each took the
 * shard's mutex: its line, which moves between the CPUs' caches at about
 * every other update and costs more than the update itself.  So the usual
 * update, one that this thread's hint locates (table_counter.c) and that
 * changes only its text's last word, takes a slot instead: a line of the
 * shard's struct tbl_fp that this thread alone writes.
 *
 * Exclusion, as in Dekker's algorithm.  The updater sets its slot's on,
 * with a full barrier, then reads the area's busy: set, it steps out,
 * watches busy a moment and tries again (in the end, it takes the
 * mutex).  A writer takes the mutex, sets busy with a full
 * barrier, then reads the on of every slot ever used, and waits while
 * one is set; it clears busy just before it unlocks.  Of the two, one
 * sees the other's store: while an updater is in its slot, having seen
 * busy clear, no writer of the shard has begun to read or change
 * anything, and none will until it leaves.  So the updater reads a
 * committed state that stays put, but for counters' last words, which
 * other updaters change by CAS only.  (busy rather than the mutex's own
 * word: the holder writes the mutex's line several times, and an updater
 * polling it would pull it away from the holder as often.)
 *
 * Crashes.  The update is one CAS: done or not, no record needed.  An
 * updater killed in its slot leaves on set and the slot's lock word
 * naming a dead process (owner.c): a writer that waits long tries that
 * lock, and when it gets it (the holder died, or left meanwhile) clears
 * on.  Recovering a slot
 * is that one store, idempotent.  A live holder (preempted, stopped) is
 * waited for within what is left of the writer's lock timeout, as a lock
 * holder would be.  A writer that fails to take the shard (lock_mutex.c) leaves
 * busy set unless the shard's state is clean: updaters never recover.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "crash.h"
#include "fastpath.h"
#include "lock.h"
#include "owner.h"

/* Pauses watching a slot before its mutex is tried, or busy. */
#define FP_SPIN		200
/* Writers an updater lets pass before it takes the mutex itself. */
#define FP_RETRIES	4

/*
 * Which slot of which shard this thread was given (fp_register): a small
 * direct-mapped cache by tbl_view_id; a miss sends the update through the
 * lock, which registers again.  fp_self tags the slots given to this
 * thread; a forked child is another thread, with its own tag and seats.
 */
#define FP_SEATS	64

struct fp_seat {
	uint64_t	id;		/* tbl_view_id, 0: empty */
	unsigned	slot;
};

static __thread struct fp_seat	 fp_seats[FP_SEATS];
static __thread uint64_t	 fp_self;
static __thread struct tbl_fpslot *fp_mine;	/* the slot it is in */
static pthread_once_t		 fp_once = PTHREAD_ONCE_INIT;

static void
fp_forked(void)
{
	fp_self = 0;
	memset(fp_seats, 0, sizeof(fp_seats));
}

static void
fp_init(void)
{
	(void)pthread_atfork(NULL, NULL, fp_forked);
}

/* This thread's tag: its pid and thread id, mixed with the time. */
static uint64_t
fp_me(void)
{
	struct timespec	ts;
	uint64_t	x;

	if (fp_self != 0)
		return fp_self;
	pthread_once(&fp_once, fp_init);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	x = (uint64_t)getpid() << 32 ^ (uint64_t)gettid() ^
	    (uint64_t)ts.tv_nsec << 20 ^ (uint64_t)ts.tv_sec;
	x = (x ^ x >> 30) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ x >> 27) * 0x94d049bb133111ebULL;
	fp_self = (x ^ x >> 31) | 1;
	return fp_self;
}

static inline struct fp_seat *
fp_seat(const struct tbl *t)
{
	return &fp_seats[tbl_view_id(t) % FP_SEATS];
}

void
fp_seat_set(const struct tbl *t, unsigned i)
{
	*fp_seat(t) = (struct fp_seat){ tbl_view_id(t), i % TBL_FP_SLOTS };
}

void
fp_format(struct tbl *t)
{
	memset(fp_area(t), 0, sizeof(struct tbl_fp));
}

/*
 * The slot of t given to this thread before, else the first never given,
 * else (all were) one whose process is gone, else one taken over from a
 * live thread, which then shares it: correct, only slower.
 */
static unsigned
fp_pick(struct tbl_fp *fp, uint64_t used, uint64_t me)
{
	uint64_t	b, pid;
	unsigned	i;

	used &= TBL_FP_ALL;
	for (b = used; b != 0; b &= b - 1)
		if (SH_LOAD(&fp->slot[__builtin_ctzll(b)].owner) == me)
			return (unsigned)__builtin_ctzll(b);
	if (used != TBL_FP_ALL)
		return (unsigned)__builtin_ctzll(~used & TBL_FP_ALL);
	/*
	 * All given out: one whose process is gone, by its pid.  Only a
	 * preference (a pid of another namespace, or reused, misleads it):
	 * a slot shared with a live thread is slower, never wrong.
	 */
	for (i = 0; i < TBL_FP_SLOTS; i++) {
		pid = SH_LOAD(&fp->slot[i].pid);
		if (pid > 0 && pid <= INT_MAX && kill((pid_t)pid, 0) == -1 &&
		    errno == ESRCH)
			return i;
	}
	return (unsigned)(me % TBL_FP_SLOTS);
}

void
fp_register(struct tbl *t)
{
	struct tbl_fp	*fp = fp_area(t);
	struct fp_seat	*seat = fp_seat(t);
	uint64_t	 used, me;
	unsigned	 i;

	if (seat->id == tbl_view_id(t))
		return;
	me = fp_me();
	used = SH_LOAD(&fp->used);
	i = fp_pick(fp, used, me);
	SH_STORE(&fp->slot[i].owner, me);
	SH_STORE(&fp->slot[i].pid, (uint64_t)getpid());
	if ((used >> i & 1) == 0) {
		/*
		 * This writer may not have closed t (no slot was in use when
		 * it took the mutex): it does so before the new slot can be
		 * entered.
		 */
		(void)__atomic_exchange_n(&fp->busy, 1, __ATOMIC_SEQ_CST);
		__atomic_fetch_or(&fp->used, 1ULL << i, __ATOMIC_SEQ_CST);
	}
	*seat = (struct fp_seat){ tbl_view_id(t), i };
}

/* Take this thread's slot of t, NULL: it has none, or it is busy. */
static struct tbl_fpslot *
fp_take(struct tbl *t)
{
	struct tbl_fp	*fp = fp_area(t);
	struct fp_seat	*seat = fp_seat(t);
	struct tbl_fpslot *s;
	int		 e;

	if (seat->id != tbl_view_id(t))
		return NULL;
	s = &fp->slot[seat->slot];
	e = ow_trylock(t, &s->lock, 0);	/* at every update: no /proc */
	if (e == EOWNERDEAD) {
		/* Its last holder died in it: on is ours to set. */
		CRASH_POINT();
	} else if (e != 0)
		return NULL;
	return s;
}

struct tbl_fpslot *
fp_enter(struct tbl *t)
{
	struct tbl_fp		*fp = fp_area(t);
	struct tbl_fpslot	*s;
	int			 i, j;

	if (lk_fast_begin() != 0)
		return NULL;
	if ((s = fp_take(t)) == NULL) {
		lk_fast_end();
		return NULL;
	}
	fp_mine = s;
	for (i = 0;; i++) {
		/*
		 * The store before the load of busy (Dekker): an exchange is
		 * a full barrier, and cheaper than a store and a fence.
		 * Acquire: a writer's changes before it cleared busy are
		 * visible once it is seen clear.
		 */
		(void)__atomic_exchange_n(&s->on, 1, __ATOMIC_SEQ_CST);
		CRASH_POINT();
		if (__atomic_load_n(&fp->busy, __ATOMIC_SEQ_CST) == 0)
			return s;
		/*
		 * A writer is at work in the shard: out of its way (it may
		 * be waiting for this slot), and watch it a moment, as it
		 * is done in well under a microsecond.  Taking the mutex
		 * instead would find it held, and sleep tens of them.
		 */
		__atomic_store_n(&s->on, 0, __ATOMIC_RELEASE);
		for (j = 0; j < FP_SPIN && __atomic_load_n(&fp->busy,
		    __ATOMIC_RELAXED) != 0; j++)
			lk_relax();
		if (j == FP_SPIN || i == FP_RETRIES)
			break;
	}
	fp_leave(s);
	return NULL;
}

void
fp_leave(struct tbl_fpslot *s)
{
	/* Release: a writer that sees on clear sees the CAS before it. */
	__atomic_store_n(&s->on, 0, __ATOMIC_RELEASE);
	fp_mine = NULL;
	ow_unlock(&s->lock);
	lk_fast_end();
}

/*
 * Wait until slot s is out of use: its holder leaves, or is found dead
 * (its on cleared here).  *deadline: when to give up, in clk_now_ms time,
 * 0 until one is needed (then wait_ms from now), shared by the slots of
 * one fp_quiesce.  As fp_quiesce.
 */
static int
fp_wait(const struct tbl *t, struct tbl_fpslot *s, int wait_ms,
    int64_t *deadline, pid_t *pid)
{
	int	i, e;

	for (i = 0;; i++) {
		if (__atomic_load_n(&s->on, __ATOMIC_ACQUIRE) == 0)
			return 0;
		if (s == fp_mine)
			return EDEADLK;
		if (i < FP_SPIN) {
			lk_relax();
			continue;
		}
		/* /proc read (a zombie, a reused pid) every 64th time */
		e = ow_trylock(t, &s->lock, (i - FP_SPIN) % 64 == 0);
		if (e == 0 || e == EOWNERDEAD) {
			/* No one in it: on was left by a dead holder. */
			__atomic_store_n(&s->on, 0, __ATOMIC_RELEASE);
			CRASH_POINT();
			ow_unlock(&s->lock);
			return 0;
		}
		/* Alive, and not running: preempted, or stopped. */
		if (*deadline == 0)
			*deadline = clk_now_ms() + (wait_ms > 0 ?
			    wait_ms : 0);
		else if (clk_now_ms() >= *deadline) {
			*pid = ow_holder(t, &s->lock);
			return ETIMEDOUT;
		}
		sched_yield();
	}
}

int
fp_quiesce(struct tbl *t, int wait_ms, pid_t *pid)
{
	struct tbl_fp	*fp = fp_area(t);
	uint64_t	 used = SH_LOAD(&fp->used);
	int64_t		 deadline = 0;
	unsigned	 i;
	int		 e;

	/* busy before the loads of on (Dekker). */
	(void)__atomic_exchange_n(&fp->busy, 1, __ATOMIC_SEQ_CST);
	used &= TBL_FP_ALL;
	for (; used != 0; used &= used - 1) {
		i = (unsigned)__builtin_ctzll(used);
		if (__atomic_load_n(&fp->slot[i].on, __ATOMIC_SEQ_CST) != 0 &&
		    (e = fp_wait(t, &fp->slot[i], wait_ms, &deadline, pid)) != 0)
			return e;
	}
	return 0;
}
