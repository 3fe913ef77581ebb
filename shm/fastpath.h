/*
 * shm/fastpath.h - update_counter without the shard's mutex
 * (shm/fastpath.c): the slots of struct tbl_fp (layout.h).
 */
#ifndef PROTETS_SHM_FASTPATH_H
#define PROTETS_SHM_FASTPATH_H

#include <sys/types.h>

#include "seg.h"

/* Initialise the slots of a fresh shard. */
void	fp_format(struct tbl *t);

/*
 * Under t's mutex: give this thread a slot of t (its own, as long as
 * there are slots enough) to use from now on.  Slots come into use only
 * under the mutex, so that a writer that finds none in use (the usual
 * case, where no counter goes lock-free) has nothing to wait for or to
 * close.
 */
void	fp_register(struct tbl *t);
/* Tests: make slot i this thread's slot of t. */
void	fp_seat_set(const struct tbl *t, unsigned i);

/*
 * Enter a slot of t (a shard, or an unsharded table): returns the slot,
 * and until fp_leave no writer of t reads or changes anything, but for
 * other slots' holders, which change counters' last words by CAS only.
 * NULL: t's mutex is held (or this thread is in a write already, or has
 * no slot of t, or its slot is busy); take the mutex instead.  t must be
 * writable.
 */
struct tbl_fpslot *fp_enter(struct tbl *t);
void	fp_leave(struct tbl_fpslot *s);

static inline struct tbl_fp *
fp_area(const struct tbl *t)
{
	return (struct tbl_fp *)(void *)(t->base + TBL_FP_OFF);
}

/*
 * Under t's mutex: has a slot of t ever been used?  If not, none can be
 * until the mutex is released, and there is nothing to wait for.
 */
static inline int
fp_in_use(const struct tbl *t)
{
	return __builtin_expect(SH_LOAD(&fp_area(t)->used) != 0, 0);
}

/*
 * Under t's mutex, just taken, when fp_in_use: close t to new lock-free
 * updates (busy) and wait until no slot of t is in use.  Returns 0;
 * EDEADLK (this thread is in one: a signal handler's write interrupted
 * its update); ETIMEDOUT after wait_ms, *pid the slot holder's (0:
 * unknown).  Whatever it returns, t stays closed until fp_open.
 */
int	fp_quiesce(struct tbl *t, int wait_ms, pid_t *pid);

/* Before t's mutex is unlocked: open t to lock-free updates again. */
static inline void
fp_open(struct tbl *t)
{
	struct tbl_fp	*fp = fp_area(t);

	/*
	 * Release: what this writer changed is visible with busy clear.  A
	 * retired table stays closed: its updaters take the mutex, and
	 * PROTETS_ESTALE (tbl_retire).
	 */
	if (fp_in_use(t) && !SH_LOAD(&((const struct tbl_stripe *)(const void *)
	    (t->base + TBL_STRIPE_OFF))->retired))
		__atomic_store_n(&fp->busy, 0, __ATOMIC_RELEASE);
}

#endif /* PROTETS_SHM_FASTPATH_H */
