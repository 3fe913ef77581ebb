/*
 * shm/lockint.h - what the files of the lock module share, and nothing
 * outside it includes (the engine's interface is lock.h).
 *
 * The module, one file per responsibility:
 *
 *	lock_mutex.c	taking the stripe's lock: its word (owner.c) within
 *			a time-out (watch, then sleep), lock-free updaters
 *			waited out, a dead holder's write recovered; the
 *			locks this thread holds (EDEADLK), naming the
 *			holder (ELOCKED); the monotonic clock
 *	lock_undo.c	the undo log and the sequence: records, savepoints,
 *			roll back, the recovery of a dead holder's write
 *	lock.c		writers: begin, commit, abort, repair
 *	lock_batch.c	writes over several shards committed once
 *	lock_read.c	readers: the seqlock, and the overlay of the undo
 *			log through which they read past a stalled writer;
 *			how long they try (their CPU clock)
 */
#ifndef PROTETS_SHM_LOCKINT_H
#define PROTETS_SHM_LOCKINT_H

#include <time.h>

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

/* Retired (tbl_retire), and this view may not read it so? */
static inline int
lk_retired(const struct tbl *t)
{
	return __builtin_expect(SH_LOAD(&lk_stripe(t)->retired) != 0, 0) &&
	    !t->retired_ok;
}

/* ---------------------------------------------------------------- */
/* lock_mutex.c */

/*
 * Take t's lock: the mutex, then update_counter's lock-free updaters
 * waited out, then what a dead holder left recovered.  0 with it held,
 * or (not held) EBUSY (nowait only), PROTETS_ELOCKED, EDEADLK,
 * PROTETS_ECORRUPT or an errno.
 */
int	lk_acquire(struct tbl *t, int nowait);
void	lk_release(struct tbl *t);
/* Record that this thread's last attempt at t failed on pid's hold. */
void	lk_note(const struct tbl *t, pid_t pid);

/* ---------------------------------------------------------------- */
/* lock_undo.c */

/* A new operation of this thread (lk_op_id), and a new epoch for it. */
void	lk_op_new(void);
/* Records [0, n) of u name only words a record may restore. */
int	lk_undo_valid(const struct tbl *t, const struct tbl_undo *u,
	    uint64_t n);
/* The sequence odd before a change; on by 2 before the log shrinks. */
void	lk_dirty(struct tbl *t);
void	lk_bump(struct tbl *t);
/* Roll back (or forward) what the last holder left; 0 or ECORRUPT. */
int	lk_recover(struct tbl *t);
/* No log, no batch marks, the sequence even: nothing to recover. */
int	lk_clean(const struct tbl *t);

/* ---------------------------------------------------------------- */
/* lock.c */

/* lk_wbegin for one more shard of a batch this thread has begun. */
int	lk_wbegin_shard(struct tbl *t);
/* The sequence even again if the operation made it odd, then unlock. */
void	lk_wend(struct tbl *t);

/* ---------------------------------------------------------------- */
/* lock_batch.c */

/*
 * Has the batch of an undo log's tag committed (*done)?  0, or
 * PROTETS_ECORRUPT for a tag no writer writes.
 */
int	lk_tag_done(const struct tbl *t, uint64_t tag, int *done);
/* A batch this shard led was cut short: recover the followers in mask. */
int	lk_xrepair(struct tbl *t, uint64_t mask);

#endif /* PROTETS_SHM_LOCKINT_H */
