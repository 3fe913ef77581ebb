/*
 * shm/lock.h - writer lock, seqlock, undo log and crash recovery: the
 * lock module's interface to the engine (its files, and what they share,
 * are in lockint.h).
 *
 * Writers: lk_wbegin takes the stripe's lock word (owner.h; then waits for
 * update_counter's lock-free updaters to leave the shard, fastpath.c,
 * and recovers a dead holder's half-done write); every store to state
 * reachable from the last commit goes through lk_set or is preceded by
 * lk_log, whose first call makes the sequence odd; lk_wcommit empties the
 * log (the commit point), makes the sequence even and unlocks; lk_wabort
 * rolls everything back instead.  The one store not logged is an update_counter
 * changing its text's last word only: the sequence stays even, and
 * readers see the word old or new, whole (the same store, by CAS and
 * without the mutex, is fastpath.c's).
 *
 * Readers: lk_rbegin waits for an even sequence; the reader copies what
 * it needs out with SH_RLOAD; lk_rend says whether the sequence moved
 * (retry) or not (the copy is consistent).  Readers never write to the
 * segment unless they fall back to taking the lock, which only a writable
 * mapping does, and never wait for a live writer's lock.  A sequence that
 * stays odd (the writer is preempted, stopped or dead) switches the reader
 * to overlay mode: it copies the undo log, and SH_RLOAD returns, for each
 * logged word, its oldest record, i.e. the last committed state.
 *
 * Holder: a writer that cannot get the lock within t->lock_timeout_ms (0:
 * do not wait) gets PROTETS_ELOCKED, and lk_holder names the process that
 * held it.
 */
#ifndef PROTETS_SHM_LOCK_H
#define PROTETS_SHM_LOCK_H

#include <stdint.h>
#include <sys/types.h>

#include "seg.h"

/* How long a writer waits for the mutex before PROTETS_ELOCKED (default). */
#define LK_LOCK_TIMEOUT_MS	TBL_LOCK_TIMEOUT_MS
/*
 * How long a reader tries before it takes the lock (writable) or gives up
 * with EAGAIN (read-only): t->read_wait_ms (LK_READ_WAIT_MS unless its
 * opener says otherwise: the daemon's worker reads what anyone may write,
 * and does not spend its CPU on it) of its own CPU time, so that a reader
 * preempted on a busy machine does not give up on account of time it
 * never ran; or, on a machine so busy that each of its yields costs a
 * time slice, LK_READ_WALL_FACTOR times that of wall time once it has
 * failed LK_READ_WALL_TRIES times (lock_read.c, lk_waited_too_long).
 */
#define LK_READ_WAIT_MS		TBL_READ_WAIT_MS
#define LK_READ_WALL_FACTOR	20
#define LK_READ_WALL_MS		(LK_READ_WALL_FACTOR * LK_READ_WAIT_MS)
#define LK_READ_WALL_TRIES	64
/* Busy-wait iterations before a reader starts yielding. */
#define LK_SPIN			256
/* Writers: pauses spent watching a held lock before the futex sleep. */
#define LK_LOCK_SPIN		200
/* ... unless more than this share (1/1024ths) of its attempts waited
   (unsharded tables only: lock_mutex.c, lk_busy_avg). */
#define LK_SPIN_BUSY_MAX	128
/* Failed validations before a writable reader reads under the lock. */
#define LK_READ_RETRIES		32

/* Read-side context, on the reader's stack. */
struct lk_rd {
	uint64_t	seq;		/* sequence seen at begin (odd: overlay) */
	uint64_t	cpu0_ms;	/* its CPU time when it began to wait,
					   0: not yet (lk_cpu_ms() + 1) */
	uint64_t	wall0_ms;	/* clk_now_ms() then */
	unsigned	waits;		/* failed attempts since */
	unsigned	tries;		/* failed validations */
	int		locked;		/* reading under the writer lock */
	struct lk_ov	*ov;		/* overlay mode: the copied undo log */
};

/* Initialise the stripes and undo logs of a fresh segment. */
void	lk_format(struct tbl *t);

/* Writers. */
int	lk_wbegin(struct tbl *t);
void	lk_wcommit(struct tbl *t);
void	lk_wabort(struct tbl *t);
/* Record the current value of the word at off in the undo log. */
void	lk_log(struct tbl *t, uint64_t off);
/* lk_log, then store v. */
void	lk_set(struct tbl *t, uint64_t off, uint64_t v);
/* This thread's current operation, for per-operation bookkeeping. */
uint64_t lk_op_id(void);
/* How many roll backs (lk_rollback_to, aborts too) this thread has done. */
uint64_t lk_rollbacks(void);
/* Undo records still free. */
uint64_t lk_room(const struct tbl *t);
/* A point to roll back to, and the roll back. */
uint64_t lk_savepoint(const struct tbl *t);
void	lk_rollback_to(struct tbl *t, uint64_t sp);

/*
 * A write over several shards of one table, all or nothing: v[0..n) are
 * views of n >= 2 shards in ascending order (tbl_view), v[0] leading.
 * lk_xbegin locks them all (nothing held on error); then each shard is
 * written as by a single writer (lk_savepoint before moving to the next
 * shard); lk_xcommit or lk_xabort ends them all.
 */
int	lk_xbegin(struct tbl *v, unsigned n);
void	lk_xcommit(struct tbl *v, unsigned n);
void	lk_xabort(struct tbl *v, unsigned n);

/*
 * An update without the lock (fastpath.c) begins and ends: it counts as a
 * write of this thread, so that another begun meanwhile (by a signal
 * handler) gets EDEADLK.  lk_fast_begin returns 0 or EDEADLK.
 */
int	lk_fast_begin(void);
void	lk_fast_end(void);

/* Take and release the lock, recovering a dead writer. */
int	lk_repair(struct tbl *t);
/*
 * Under the lock, mark the shard retired for good: writers and readers
 * get PROTETS_ESTALE from then on (unless t->retired_ok), lock-free
 * updaters are shut out, readers under way read again.  0, or as
 * lk_wbegin; PROTETS_ELOCKED: a live holder kept the lock past the
 * timeout, and the shard is marked retired without it (the holder's write
 * may still commit).
 */
int	lk_retire(struct tbl *t);
/* Undo lk_retire: the segment is the daemon's copy of the table again. */
int	lk_unretire(struct tbl *t);
/* Is the shard retired (whoever reads it)? */
int	lk_is_retired(struct tbl *t);
/* 1 if the shard's lock is held or its state unclean, else 0 (a hint). */
int	lk_busy(struct tbl *t);

/* Readers. */
int	lk_rbegin(struct tbl *t, struct lk_rd *r);
/* lk_rbegin, but a writable mapping reads under the lock from the start. */
int	lk_rbegin_locked(struct tbl *t, struct lk_rd *r);
int	lk_rend(struct tbl *t, struct lk_rd *r);
int	lk_rstale(const struct tbl *t, const struct lk_rd *r);
void	lk_rdone(struct tbl *t, struct lk_rd *r);

/*
 * The pid of the process that held t's lock when this thread's last
 * lk_wbegin/lk_repair on t's segment failed with PROTETS_ELOCKED, else of
 * the one holding it now; 0 when none does.
 */
pid_t	lk_holder(const struct tbl *t);

/*
 * For tbl_check: the undo log and sequence of stripe 0 (as the committed
 * state has them, 0 and even, when read through an overlay).
 */
uint64_t lk_undo_count(const struct tbl *t);
uint64_t lk_seq(const struct tbl *t);
/* The sequence as it is, for a writer holding the lock (no overlay). */
uint64_t lk_wseq(const struct tbl *t);
/* For tbl_check: a batch's tag or follower mask left behind, 0: none. */
uint64_t lk_xpending(const struct tbl *t);
/* Did this thread's last attempt at a lock fail on t's? */
int	lk_failed_on(const struct tbl *t);
/*
 * The calling thread's CPU time in milliseconds (CLOCK_THREAD_CPUTIME_ID,
 * lock_read.c); 0 where that clock cannot be read.
 */
uint64_t lk_cpu_ms(void);

/* A pause in a busy-wait. */
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

#endif /* PROTETS_SHM_LOCK_H */
