/*
 * shm/ordered.h - the ordered index of an ordered_set: a skip list.
 *
 * Every entry of an ordered_set is in the hash index (point operations
 * stay O(1)) and in this skip list, which orders the keys by their bytes
 * (memcmp order, a prefix before its extensions).  The list's head is
 * state.or_head[]; its nodes (struct tbl_onode) are heap blocks holding
 * the entry's offset, the key's length and first TBL_OR_PREFIX bytes, so
 * that a walk compares keys without touching entries unless the prefixes
 * tie.  A node's height comes from its key's hash: no random state, and a
 * replayed operation builds the very same list.
 *
 * A position in the list is the offset of a links array: the head's
 * (OR_HEAD) or a node's (node + OR_LINKS); level i's link is at 8 * i.
 * Writers change links only through the undo log; readers follow them
 * with SH_RLOAD and every offset is validated before use.
 */
#ifndef PROTETS_SHM_ORDERED_H
#define PROTETS_SHM_ORDERED_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "entry.h"
#include "lock.h"
#include "seg.h"

#define OR_HEAD		TBL_STATE_FIELD(or_head[0])
#define OR_LINKS	offsetof(struct tbl_onode, next)

/*
 * Undo records one insert or delete needs in the ordered index: a link
 * per level, the replaced entry offset, the node's allocation or free.
 */
#define OR_UNDO_MAX	(TBL_OR_MAXH + 1 + AL_UNDO_MAX + 4)

/* Where or_seek lands. */
enum or_mode {
	OR_GE,		/* the first key >= key (key NULL: the first) */
	OR_GT,		/* the first key > key */
	OR_LT,		/* the last key < key (key NULL: the last) */
};

/* The order of keys: memcmp, then the shorter first. */
int	or_keycmp(const void *a, size_t alen, const void *b, size_t blen);
/* Height of the node of a key with hash h: 1..TBL_OR_MAXH. */
unsigned or_height(uint64_t h);
/* Bytes of a node of height hgt. */
uint64_t or_node_size(unsigned hgt);

/*
 * Validate the node at off (inside the heap, marked, sane height, key
 * length and class) and return its fields (any pointer may be NULL).
 * Returns 0 or PROTETS_ECORRUPT.
 */
int	or_node(const struct tbl *t, uint64_t off, unsigned *hgtp,
	    uint32_t *klenp, unsigned *clsp);
/*
 * The entry of node off, validated, its key length matching the node's.
 * Returns 0 or PROTETS_ECORRUPT.
 */
int	or_entry(const struct tbl *t, uint64_t off, uint64_t *eoffp,
	    struct en_hdr *eh);
/* The node after off on level 0, or 0.  Returns 0 or PROTETS_ECORRUPT. */
int	or_next(const struct tbl *t, uint64_t off, uint64_t *nextp);
/*
 * Compare the key of node off (key length klen) with key: *cmp < 0, 0,
 * > 0 as or_keycmp.  Returns 0 or PROTETS_ECORRUPT.
 */
int	or_cmp(const struct tbl *t, uint64_t off, uint32_t klen,
	    const void *key, size_t klen2, int *cmp);

/*
 * Find the node mode asks for (*nodep = 0: there is none).  r: a
 * reader's context (NULL for a writer), used to give up a walk once a
 * writer started.  Returns 0, PROTETS_ECORRUPT (for a reader: perhaps
 * only torn, lk_rend decides).
 */
int	or_seek(const struct tbl *t, const struct lk_rd *r, const void *key,
	    size_t klen, enum or_mode mode, uint64_t *nodep);

/*
 * A seek's result and the path to it: for each level lv < nupd, a
 * position (as or_seek's) on level lv whose key is at most the node's.
 */
struct or_path {
	uint64_t	node;
	unsigned	nupd;
	uint64_t	upd[TBL_OR_MAXH];
};

/*
 * or_seek for first/next/last/prev (mode OR_GE only with key NULL),
 * starting from this thread's finger on t when it is still good: taken
 * under r's very sequence (nothing has changed since) on the node of key.
 * Then next follows one level-0 link and prev descends from the finger's
 * path instead of the head.  Otherwise, or with no finger, as or_seek.
 * Fills *p (p->node = 0: there is none).  Returns as or_seek.
 */
int	or_seek_finger(const struct tbl *t, const struct lk_rd *r,
	    const void *key, size_t klen, enum or_mode mode, struct or_path *p);
/*
 * Keep p, found by or_seek_finger under r and validated by lk_rend, as
 * this thread's finger on t.  A hint only: checked again before any use.
 */
void	or_finger_keep(const struct tbl *t, const struct lk_rd *r,
	    const struct or_path *p);

/* Writers, holding the lock; h is the key's hash. */
int	or_insert(struct tbl *t, uint64_t h, const void *key, size_t klen,
	    uint64_t eoff);
/* Point key's node, now at entry old, at entry eoff. */
int	or_replace(struct tbl *t, const void *key, size_t klen, uint64_t old,
	    uint64_t eoff);
/* Unlink and free key's node, which points at entry eoff. */
int	or_delete(struct tbl *t, const void *key, size_t klen, uint64_t eoff);
/*
 * The three above start from this thread's last path (the writers'
 * finger, ordered.c) when it is still sound; drop it (tests that rewind a
 * segment's bytes, which no writer ever does).
 */
void	or_wf_forget(void);
/* How many inserts and finds of this thread started from the finger. */
uint64_t or_wf_hits(void);

#endif /* PROTETS_SHM_ORDERED_H */
