/*
 * shm/tally.c - a table's operation statistics, in its segment.
 *
 * Each shard has a struct tbl_tally (layout.h) of counts that only go up.
 * The hot operations are not counted here: the library counts them per
 * thread on its own memory and adds them here in one go every
 * TBL_TALLY_FOLD operations and when the handle is closed
 * (tbl_tally_add), so that a lookup pays a few instructions on lines its
 * thread alone writes, and no atomic.  Rare events (a lock found held, a
 * lock time-out, a dead holder taken over) are added where they happen
 * (ty_event, ty_recovered), one relaxed atomic add each.  Only a writable
 * mapping adds: what is done through a read-only one is not counted.
 *
 * The words are never in the undo log: a roll back leaves them alone, and a
 * writer killed between two adds loses nothing that was added.  They are
 * as untrusted as the rest of the segment: tbl_tally_read sums them and
 * never follows them.
 */
#include <string.h>
#include <time.h>

#include "seg.h"
#include "tally.h"

static struct tbl_tally *
ty_block(const struct tbl *t, unsigned k)
{
	return (struct tbl_tally *)(void *)(t->base -
	    (size_t)t->shard * t->shard_size + (size_t)k * t->shard_size +
	    TBL_TALLY_OFF);
}

void
ty_event(const struct tbl *t, unsigned ev)
{
	if (t->writable && ev < TBL_TY_NEVENTS)
		__atomic_fetch_add(&ty_block(t, t->shard)->ev[ev], 1,
		    __ATOMIC_RELAXED);
}

void
ty_recovered(const struct tbl *t, pid_t pid, int replayed)
{
	struct tbl_tally	*y;
	struct timespec		 ts;

	if (!t->writable)
		return;
	y = ty_block(t, t->shard);
	clock_gettime(CLOCK_REALTIME, &ts);
	__atomic_fetch_add(&y->ev[TBL_TY_RECOVERY], 1, __ATOMIC_RELAXED);
	if (replayed)
		__atomic_fetch_add(&y->ev[TBL_TY_ROLLBACK], 1,
		    __ATOMIC_RELAXED);
	SH_STORE(&y->rec_time, (uint64_t)ts.tv_sec * 1000 +
	    (uint64_t)ts.tv_nsec / 1000000);
	SH_STORE(&y->rec_pid, (uint64_t)pid);
}

void
tbl_tally_add(const struct tbl *t, unsigned pick, const uint64_t *op)
{
	struct tbl_tally	*y;
	unsigned		 i;

	if (!t->writable)
		return;
	y = ty_block(t, pick & (t->nshards - 1));
	for (i = 0; i < TBL_TY_NOPS; i++)
		if (op[i] != 0)
			__atomic_fetch_add(&y->op[i], op[i],
			    __ATOMIC_RELAXED);
}

void
tbl_tally_event(const struct tbl *t, unsigned ev)
{
	struct tbl	v;

	if (!t->route) {
		ty_event(t, ev);
		return;
	}
	tbl_view(t, 0, &v);
	ty_event(&v, ev);
}

void
tbl_tally_read(const struct tbl *t, struct tbl_tally_sum *s)
{
	const struct tbl_tally	*y;
	uint64_t		 tm;
	unsigned		 k, i;

	memset(s, 0, sizeof(*s));
	for (k = 0; k < t->nshards; k++) {
		y = ty_block(t, k);
		for (i = 0; i < TBL_TY_NOPS; i++)
			s->op[i] += SH_LOAD(&y->op[i]);
		for (i = 0; i < TBL_TY_NEVENTS; i++)
			s->ev[i] += SH_LOAD(&y->ev[i]);
		/* the latest recovery of any shard */
		if ((tm = SH_LOAD(&y->rec_time)) > s->rec_time) {
			s->rec_time = tm;
			s->rec_pid = SH_LOAD(&y->rec_pid);
		}
	}
}
