/*
 * shm/tblint.h - what the files of the table operations share: table.c
 * (writes, lookups), walk.c (foldl, first/next/last/prev, select) and
 * counter.c.  Not part of the engine's interface (table.h).
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

/* Room for need more bytes and one more entry in fb: 0 or ENOMEM. */
int	fold_reserve(struct fold_buf *fb, size_t need);

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
