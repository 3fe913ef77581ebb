/*
 * shm/owner.h - a lock word in shared memory, and whether its holder is
 * alive: the engine's own mutex, with nothing in it that any process or
 * the kernel follows (owner.c says how, and why not glibc's robust mutex).
 *
 * A lock word is a 64-bit word of the segment, 0 when free, else the
 * holder's process (OW_* below).  Its low half is the futex word.  The
 * words of a shard name their holders' pid namespaces by index in the
 * shard's namespace table (TBL_NS_OFF).
 */
#ifndef PROTETS_SHM_OWNER_H
#define PROTETS_SHM_OWNER_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "seg.h"

/* The lock word: starttime:32 | waiters:1 | nsid:9 | pid:22 (LSB last). */
#define OW_PID_MASK	0x3fffffULL
#define OW_NS_SHIFT	22
#define OW_NS_MASK	0x1ffULL
#define OW_WAITERS	(1ULL << 31)
#define OW_START_SHIFT	32

/*
 * Take the lock word w of t's shard without waiting: 0 taken; EOWNERDEAD
 * taken from a holder found dead (what it left is the taker's to
 * recover); EBUSY held by a live process, or by one this process cannot
 * judge (another pid namespace).  full: a zombie or a reused pid counts
 * as dead too (a read of /proc); else only a pid that names no process.
 */
int	ow_trylock(const struct tbl *t, uint64_t *w, int full);
/* Take w if it is free (one compare-and-swap): 0, or EBUSY. */
int	ow_take(const struct tbl *t, uint64_t *w);
/*
 * Take w, waiting until the absolute CLOCK_MONOTONIC deadline: sleeping
 * on it, and looking at the holder's liveness before the first sleep and
 * after each that timed out.  0, EOWNERDEAD, or ETIMEDOUT.
 */
int	ow_lock(const struct tbl *t, uint64_t *w,
	    const struct timespec *deadline);
/* Unlock w, if this process holds it. */
void	ow_unlock(uint64_t *w);
/*
 * Work out this process's identity now, if it is not known (tbl_open of
 * a writable mapping: before the process may run short of fds).
 */
void	ow_prepare(void);
/* Is the word free (a hint, for watching it)? */
int	ow_free(const uint64_t *w);
/*
 * The pid of the holder of w's current value, as this process numbers
 * it; 0 when free, or held from another pid namespace.  A hint.
 */
/* The pid of the last dead holder this thread took a word over from. */
pid_t	ow_dead_pid(void);
pid_t	ow_holder(const struct tbl *t, const uint64_t *w);

#endif /* PROTETS_SHM_OWNER_H */
