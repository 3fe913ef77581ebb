/*
 * shm/counter.h - update_counter (shm/counter.c).
 * tbl_counter_parse and tbl_counter_format are declared in table.h.
 */
#ifndef PROTETS_SHM_COUNTER_H
#define PROTETS_SHM_COUNTER_H

#include <stddef.h>
#include <stdint.h>

#include "seg.h"

/*
 * Add incr to the counter of key (hash h) of t, whose lock the caller
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

#endif /* PROTETS_SHM_COUNTER_H */
