/*
 * shm/tblint.h - what the files of the table module (prefix tbl_) share:
 * table.c (writes, lookups), table_walk.c (foldl, first/next/last/prev,
 * select), table_counter.c (update_counter), table_format.c (create,
 * open) and table_check.c.  Not part of the engine's interface (table.h).
 */
#ifndef PROTETS_SHM_TBLINT_H
#define PROTETS_SHM_TBLINT_H

#include <stddef.h>
#include <stdint.h>

#include "seg.h"

/* Entries copied out of the segment, to hand to callbacks. */
struct fold_ent {
	size_t		off;	/* in fold_buf.data: key, then value */
	size_t		klen;
	size_t		vlen;
	uint64_t	rev;	/* bit-reversed hash of the key */
};

struct fold_buf {
	unsigned char	*data;
	size_t		 len, cap;
	struct fold_ent	*ent;
	size_t		 nent, capent;
};

/*
 * Room for need more bytes and one more entry in fb: 0 or ENOMEM
 * (table_walk.c).
 */
int	tbl_fold_reserve(struct fold_buf *fb, size_t need);

/*
 * table_counter.c.  Add incr to the counter of key (hash h) of t, whose lock the caller
 * holds, with the ETS semantics of o (may be NULL); *res: the new value.
 * Returns 0, PROTETS_NOTFOUND (no key, no default), PROTETS_EINVAL (the
 * value is no counter), PROTETS_ERANGE, or what an insert returns.
 */
int	tbl_counter_locked(struct tbl *t, uint64_t h, const void *key,
	    size_t klen, int64_t incr, const protets_counter_opts *o,
	    int64_t *res);

/*
 * The same without t's lock, through a slot (shm/fastpath.c), when this
 * thread's hint finds the key and only the last word of its text changes
 * (or nothing).  Returns 0 with *res set, or 1: take the lock and call
 * tbl_counter_locked.
 */
int	tbl_counter_fast(struct tbl *t, uint64_t h, const void *key,
	    size_t klen, int64_t incr, const protets_counter_opts *o,
	    int64_t *res);

/*
 * Drop this thread's hints: update_counter's (the next update takes the
 * lock) and the ordered index's writers' finger.  For tests that rewind a
 * segment's bytes, which hints rightly take for a table no one changed.
 */
void	tbl_hints_forget(void);

/*
 * table.c's insert under the lock, which a counter whose text changes
 * length goes through.  *added (may be NULL): 1 when the count grew;
 * *eoffp (may be NULL): the new entry's offset.
 */
#define TBL_INS_GROW	0x1	/* split the index if the load calls for it */
#define TBL_INS_LINE	0x2	/* the entry on cache lines of its own */
int	tbl_insert_locked(struct tbl *t, uint64_t h, const void *key,
	    size_t klen, const void *val, size_t vlen, int flags, int *added,
	    uint64_t *eoffp);

/* Is type one the engine implements (all four)?  (table_format.c) */
int	tbl_type_ok(uint32_t type);

/*
 * Inline: every operation on a key asks them first.
 * 0, or PROTETS_EINVAL / PROTETS_ETOOBIG for a key no table can hold.
 */
static inline int
tbl_key_ok(const void *key, size_t klen)
{
	if (klen == 0 || key == NULL)
		return PROTETS_EINVAL;
	if (klen > PROTETS_KEY_MAX)
		return PROTETS_ETOOBIG;
	return 0;
}

/*
 * A sharded table: the view of the shard that holds the keys of hash h,
 * in v.  Any other table: t itself.
 */
static inline struct tbl *
tbl_pick(struct tbl *t, uint64_t h, struct tbl *v)
{
	if (!t->route)
		return t;
	tbl_view(t, tbl_shard_of(t, h), v);
	return v;
}

#endif /* PROTETS_SHM_TBLINT_H */
