/*
 * shm/lock_batch.c - writes over several shards of one table, committed
 * once for all (write_concurrency).
 *
 * v[0..n) are views of the shards, in ascending order; v[0] leads.
 * lk_xbegin locks them in that order (so two batches cannot deadlock),
 * numbers the batch in the leader's xnext, records the followers in its
 * xmask and tags every shard's undo log with the batch.  lk_xcommit
 * stores the number in the leader's xcommit: the commit point of the
 * whole batch, after which the recovery of any of its shards discards
 * that shard's log (lk_tag_done).  It then ends the followers and, last,
 * the leader: holding the leader's lock until every follower log is
 * empty, no later batch of that leader can commit while a tag of this one
 * remains.  A leader that dies leaves its xmask set, and whoever next
 * takes its lock recovers the followers first (lk_xrepair).
 */
#include "crash.h"
#include "lockint.h"

/*
 * Is the batch of an undo log's tag committed?  Its leading shard is the
 * lowest of the batch (this one or below), and the batch committed once
 * the leader's xcommit is its number.  Returns 0 and sets *done, or
 * PROTETS_ECORRUPT for a tag no writer writes.
 */
int
lk_tag_done(const struct tbl *t, uint64_t tag, int *done)
{
	const struct tbl_stripe	*ls;
	unsigned		 lead = TBL_XTAG_LEAD(tag);
	uint64_t		 seq = TBL_XTAG_SEQ(tag);

	*done = 0;
	if (tag == 0)
		return 0;
	if (seq == 0 || lead > t->shard || t->nshards < 2)
		return PROTETS_ECORRUPT;
	ls = (const struct tbl_stripe *)(const void *)(t->base -
	    (size_t)(t->shard - lead) * t->shard_size + TBL_STRIPE_OFF);
	*done = __atomic_load_n(&ls->xcommit, __ATOMIC_ACQUIRE) == seq;
	return 0;
}

/*
 * A batch this shard led was cut short: take and release the lock of
 * each follower in mask, which recovers its part (forward or back, as
 * lk_recover decides from our xcommit).  Ascending, as batches lock.
 */
int
lk_xrepair(struct tbl *t, uint64_t mask)
{
	struct tbl	v;
	unsigned	k;
	int		e;

	if (t->nshards < 2 || t->shard >= t->nshards ||
	    (mask & ~((1ULL << t->nshards) - 1)) != 0 ||
	    (mask & ((2ULL << t->shard) - 1)) != 0)
		return PROTETS_ECORRUPT;
	for (k = t->shard + 1; k < t->nshards; k++) {
		if ((mask & 1ULL << k) == 0)
			continue;
		tbl_view(t, k, &v);
		if ((e = lk_repair(&v)) != 0)
			return e;
		CRASH_POINT();
	}
	return 0;
}

/* Tag t's undo log with the batch. */
static void
lk_tag(struct tbl *t, uint64_t tag)
{
	/* A tag is a change: readers (tbl_check) must not see it stand. */
	lk_dirty(t);
	__atomic_store_n(&lk_undo(t)->tag, tag, __ATOMIC_RELEASE);
	/* The tag is in place before any record of the batch. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	CRASH_POINT();
}

/* The end of one shard's part: log emptied, then untagged, unlocked. */
static void
lk_xend(struct tbl *t, int rollback)
{
	if (rollback)
		lk_rollback_to(t, 0);
	else {
		lk_bump(t);
		__atomic_store_n(&lk_undo(t)->n, 0, __ATOMIC_RELEASE);
		CRASH_POINT();
	}
	__atomic_store_n(&lk_undo(t)->tag, 0, __ATOMIC_RELEASE);
	CRASH_POINT();
	lk_wend(t);
}

/* End the first n shards of a batch: followers, xmask, then the leader. */
static void
lk_xfinish(struct tbl *v, unsigned n, int rollback)
{
	while (n-- > 1)
		lk_xend(&v[n], rollback);
	__atomic_store_n(&lk_stripe(&v[0])->xmask, 0, __ATOMIC_RELEASE);
	CRASH_POINT();
	lk_xend(&v[0], rollback);
}

int
lk_xbegin(struct tbl *v, unsigned n)
{
	struct tbl_stripe	*ls = lk_stripe(&v[0]);
	uint64_t		 seq, mask = 0, tag;
	unsigned		 i;
	int			 e;

	for (i = 1; i < n; i++) {
		if (v[i].shard <= v[i - 1].shard || v[i].shard >= v[0].nshards)
			return PROTETS_EINVAL;
		mask |= 1ULL << v[i].shard;
	}
	if (n < 2 || (e = lk_wbegin(&v[0])) != 0)
		return n < 2 ? PROTETS_EINVAL : e;
	lk_dirty(&v[0]);	/* before xnext, xmask and the tags */
	seq = SH_LOAD(&ls->xnext) + 1;
	__atomic_store_n(&ls->xnext, seq, __ATOMIC_RELEASE);
	__atomic_store_n(&ls->xmask, mask, __ATOMIC_RELEASE);
	CRASH_POINT();
	tag = TBL_XTAG(seq, v[0].shard);
	lk_tag(&v[0], tag);
	for (i = 1; i < n; i++) {
		if ((e = lk_wbegin_shard(&v[i])) != 0) {
			lk_xfinish(v, i, 1);
			return e;
		}
		lk_tag(&v[i], tag);
	}
	return 0;
}

void
lk_xcommit(struct tbl *v, unsigned n)
{
	uint64_t	tag = SH_LOAD(&lk_undo(&v[0])->tag);

	CRASH_POINT();
	/* The commit point of the whole batch. */
	__atomic_store_n(&lk_stripe(&v[0])->xcommit, TBL_XTAG_SEQ(tag),
	    __ATOMIC_RELEASE);
	CRASH_POINT();
	lk_xfinish(v, n, 0);
}

void
lk_xabort(struct tbl *v, unsigned n)
{
	lk_xfinish(v, n, 1);
}
