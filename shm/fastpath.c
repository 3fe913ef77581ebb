/*
 * shm/fastpath.c - update_counter without the shard's mutex.
 *
 * Two processes updating counters of one table (each its own keys) would
 * share at least one written cache line per update if each took the
 * shard's mutex: its line, which moves between the CPUs' caches at about
 * every other update and costs more than the update itself.  So the usual
 * update, one that this thread's hint locates (counter.c) and that
 * changes only its text's last word, takes a slot instead: a line of the
 * shard's struct tbl_fp that this thread alone writes.
 *
 * Exclusion, as in Dekker's algorithm.  The updater sets its slot's on,
 * with a full barrier, then reads the area's busy: set, it leaves and
 * takes the mutex.  A writer takes the mutex, sets busy with a full
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
 * updater killed in its slot leaves on set and the slot's robust mutex
 * owner-dead: a writer that waits long tries that mutex, and when it gets
 * it (the holder died, or left meanwhile) clears on.  Recovering a slot
 * is that one store, idempotent.  A live holder (preempted, stopped) is
 * waited for up to the writer's lock timeout, as a lock holder would be.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "fastpath.h"
#include "lock.h"

/* Pauses watching a slot before its mutex is tried. */
#define FP_SPIN		200
/* Slots tried, from the thread's own, before the mutex is taken instead. */
#define FP_TRIES	4

/* The slot this thread is in (NULL: none), and the one it tries first. */
static __thread struct tbl_fpslot *fp_mine;
static __thread unsigned fp_pref = UINT_MAX;

static unsigned
fp_first(void)
{
	/* Threads of different ids mostly start at different slots. */
	if (fp_pref == UINT_MAX)
		fp_pref = ((uint32_t)gettid() * 2654435761u) >> 28;
	return fp_pref % TBL_FP_SLOTS;
}

void
fp_prefer(unsigned i)
{
	fp_pref = i % TBL_FP_SLOTS;
}

int
fp_format(struct tbl *t, const pthread_mutexattr_t *a)
{
	struct tbl_fp	*fp = fp_area(t);
	unsigned	 i;
	int		 e;

	memset(fp, 0, sizeof(*fp));
	for (i = 0; i < TBL_FP_SLOTS; i++)
		if ((e = pthread_mutex_init(&fp->slot[i].mtx, a)) != 0)
			return e;
	return 0;
}

void
fp_register(struct tbl *t)
{
	struct tbl_fp	*fp = fp_area(t);
	uint64_t	 bit = 1ULL << fp_first();

	if (SH_LOAD(&fp->used) & bit)
		return;
	/*
	 * This writer may not have closed t (no slot was in use when it
	 * took the mutex): it does so before the new slot can be entered.
	 */
	(void)__atomic_exchange_n(&fp->busy, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_or(&fp->used, bit, __ATOMIC_SEQ_CST);
}

/* Take one of t's registered slots, NULL: none tried is free. */
static struct tbl_fpslot *
fp_take(struct tbl *t)
{
	struct tbl_fp	*fp = fp_area(t);
	uint64_t	 used = SH_LOAD(&fp->used);
	unsigned	 i, k;
	int		 e;

	for (k = 0; k < FP_TRIES; k++) {
		i = (fp_first() + k) % TBL_FP_SLOTS;
		if ((used >> i & 1) == 0)
			continue;
		e = pthread_mutex_trylock(&fp->slot[i].mtx);
		if (e == EOWNERDEAD) {
			/* Its last holder died in it: on is ours to set. */
			TBL_CRASHPOINT();
			(void)pthread_mutex_consistent(&fp->slot[i].mtx);
		} else if (e != 0)
			continue;
		return &fp->slot[i];
	}
	return NULL;
}

struct tbl_fpslot *
fp_enter(struct tbl *t)
{
	struct tbl_fpslot	*s;

	if (lk_fast_begin() != 0)
		return NULL;
	if ((s = fp_take(t)) == NULL) {
		lk_fast_end();
		return NULL;
	}
	fp_mine = s;
	/*
	 * The store before the load of busy (Dekker): an exchange is a full
	 * barrier, and cheaper than a store and a fence.  Acquire: a writer's
	 * changes before it cleared busy are visible once it is seen clear.
	 */
	(void)__atomic_exchange_n(&s->on, 1, __ATOMIC_SEQ_CST);
	TBL_CRASHPOINT();
	if (__atomic_load_n(&fp_area(t)->busy, __ATOMIC_ACQUIRE) != 0) {
		fp_leave(s);
		return NULL;
	}
	return s;
}

void
fp_leave(struct tbl_fpslot *s)
{
	/* Release: a writer that sees on clear sees the CAS before it. */
	__atomic_store_n(&s->on, 0, __ATOMIC_RELEASE);
	fp_mine = NULL;
	pthread_mutex_unlock(&s->mtx);
	lk_fast_end();
}

static uint64_t
fp_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Wait until slot s is out of use: its holder leaves, or is found dead
 * (its on cleared here).  As fp_quiesce.
 */
static int
fp_wait(struct tbl_fpslot *s, int wait_ms, pid_t *pid)
{
	uint64_t	t0 = 0;
	int		i, e, tid;

	for (i = 0;; i++) {
		if (__atomic_load_n(&s->on, __ATOMIC_ACQUIRE) == 0)
			return 0;
		if (s == fp_mine)
			return EDEADLK;
		if (i < FP_SPIN) {
			lk_relax();
			continue;
		}
		e = pthread_mutex_trylock(&s->mtx);
		if (e == 0 || e == EOWNERDEAD) {
			/* No one in it: on was left by a dead holder. */
			__atomic_store_n(&s->on, 0, __ATOMIC_RELEASE);
			TBL_CRASHPOINT();
			if (e == EOWNERDEAD)
				(void)pthread_mutex_consistent(&s->mtx);
			pthread_mutex_unlock(&s->mtx);
			return 0;
		}
		if (e != EBUSY)
			return PROTETS_ECORRUPT;
		/* Alive, and not running: preempted, or stopped. */
		if (t0 == 0)
			t0 = fp_now_ms();
		else if (fp_now_ms() - t0 >= (uint64_t)(wait_ms > 0 ?
		    wait_ms : 0)) {
			tid = __atomic_load_n(&s->mtx.__data.__lock,
			    __ATOMIC_RELAXED) & 0x3fffffff;
			*pid = tid == 0 ? 0 : lk_tid_pid(tid);
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
	unsigned	 i;
	int		 e;

	/* busy before the loads of on (Dekker). */
	(void)__atomic_exchange_n(&fp->busy, 1, __ATOMIC_SEQ_CST);
	used &= (1ULL << (TBL_FP_SLOTS - 1) << 1) - 1;
	for (; used != 0; used &= used - 1) {
		i = (unsigned)__builtin_ctzll(used);
		if (__atomic_load_n(&fp->slot[i].on, __ATOMIC_ACQUIRE) != 0 &&
		    (e = fp_wait(&fp->slot[i], wait_ms, pid)) != 0)
			return e;
	}
	return 0;
}
