/*
 * shm/table.c - the operations of a table on keys: insert (one, and
 * batches), lookup, member, delete, delete_object, take, clear, count;
 * the walks are in table_walk.c, update_counter in table_counter.c.
 *
 * Writes: validate arguments, take the lock, do the whole operation
 * through the undo log, and commit; any failure on the way (EFULL,
 * ECORRUPT) rolls everything back, so each operation is all or nothing.
 * Reads: copy out between two reads of the sequence, retrying while
 * writers interfere; nothing is handed to the caller before validation.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "crash.h"
#include "entry.h"
#include "index.h"
#include "lock.h"
#include "ordered.h"
#include "tblint.h"

static void
tbl_add_entries(struct tbl *t, int delta)
{
	struct tbl_state	*st = tbl_state(t);

	lk_set(t, TBL_STATE_FIELD(entries),
	    SH_LOAD(&st->entries) + (uint64_t)(int64_t)delta);
}

/* Undo records one insert may need without its split. */
#define TBL_INS_UNDO	(IX_UNDO_MAX + 2 * AL_UNDO_MAX)

/* What an ordered_set adds to an operation on one key: its ordered index. */
static uint64_t
tbl_or_undo(const struct tbl *t)
{
	return t->type == PROTETS_ORDERED_SET ? OR_UNDO_MAX : 0;
}

/*
 * Insert under the lock.  *added (may be NULL) is set to 1 when the
 * entry count grew.  flags: TBL_INS_GROW, split the index if the load
 * calls for it (a batch splits once it is done instead); TBL_INS_LINE,
 * the entry on cache lines of its own.  *eoffp (may be NULL): where the
 * new entry is.
 */
int
tbl_insert_locked(struct tbl *t, uint64_t h, const void *key, size_t klen,
    const void *val, size_t vlen, int flags, int *added, uint64_t *eoffp)
{
	struct ix_it	it;
	struct ix_pos	pos;
	uint64_t	off, slot;
	unsigned	cls;
	int		e, found = 0;

	if (added != NULL)
		*added = 0;
	if ((e = ix_start(t, h, &it)) != 0)
		return e;
	if (t->type != PROTETS_DUPLICATE_BAG) {
		/* set: the key; bag: the very same object */
		e = ix_match(t, NULL, h, key, klen,
		    t->type == PROTETS_BAG ? (val ? val : "") : NULL, vlen,
		    &it, &pos);
		if (e != 0 && e != PROTETS_NOTFOUND)
			return e;
		found = e == 0;
		if (found && t->type == PROTETS_BAG)
			return 0;	/* ETS: inserting it again is a no-op */
	}
	if ((e = al_alloc(t, en_size(klen, vlen), AL_FALLBACK |
	    (flags & TBL_INS_LINE ? AL_LINE : 0), &off, &cls)))
		return e;
	en_write(t, off, cls, key, klen, val, vlen);
	CRASH_POINT();
	if (eoffp != NULL)
		*eoffp = off;
	slot = ix_slot(h, off);
	if (found) {
		/* Copy on write: readers of the old entry stay valid. */
		lk_set(t, pos.slot, slot);
		if (t->type == PROTETS_ORDERED_SET &&
		    (e = or_replace(t, key, klen, pos.eoff, off)) != 0)
			return e;
		al_free(t, pos.eoff, pos.eh.cls);
		return 0;
	}
	/* Appended at the end of the chain: a bag keeps insertion order. */
	if ((e = ix_add(t, it.home, slot)) != 0)
		return e;
	if (t->type == PROTETS_ORDERED_SET &&
	    (e = or_insert(t, h, key, klen, off)) != 0)
		return e;
	tbl_add_entries(t, 1);
	if (added != NULL)
		*added = 1;
	return flags & TBL_INS_GROW ? ix_grow(t) : 0;
}

static int
tbl_kv_ok(const void *key, size_t klen, const void *val, size_t vlen)
{
	int	e;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (vlen > PROTETS_VALUE_MAX)
		return PROTETS_ETOOBIG;
	if (vlen > 0 && val == NULL)
		return PROTETS_EINVAL;
	return 0;
}

int
tbl_insert(struct tbl *t, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct tbl	v;
	uint64_t	h;
	int		e;

	if ((e = tbl_kv_ok(key, klen, val, vlen)) != 0)
		return e;
	if (!t->writable)
		return PROTETS_EACCES;
	h = en_hash(key, klen);
	t = tbl_pick(t, h, &v);
	if ((e = lk_wbegin(t)) != 0)
		return e;
	if ((e = tbl_insert_locked(t, h, key, klen, val, vlen, TBL_INS_GROW,
	    NULL, NULL)) != 0)
		lk_wabort(t);
	else
		lk_wcommit(t);
	return e;
}

/*
 * A batch: every entry checked first, then (only_new) every key looked
 * up, then every entry inserted without splits, then the splits the load
 * asks for, each skipped when the undo log has no room left for it.  Any
 * failure rolls the whole batch back.  On a sharded table a batch whose
 * keys fall in several shards is written under all their locks and
 * committed once for all (lk_xbegin); each shard takes its own entries.
 */
struct batch {
	const protets_kv	*kv;
	size_t			 n;
	const uint64_t		*h;	/* hashes; NULL: all in one table */
};

static uint64_t
batch_hash(const struct batch *b, size_t i)
{
	return b->h != NULL ? b->h[i] : en_hash(b->kv[i].key, b->kv[i].klen);
}

/* Is entry i of b one for t (a shard's view, or the one table)? */
static int
batch_mine(const struct tbl *t, const struct batch *b, size_t i)
{
	return b->h == NULL || tbl_shard_of(t, b->h[i]) == t->shard;
}

/* only_new: PROTETS_EXISTS when a key of t's part is there already. */
static int
batch_absent(struct tbl *t, const struct batch *b)
{
	struct ix_pos	pos;
	size_t		i;
	int		e;

	for (i = 0; i < b->n; i++) {
		if (!batch_mine(t, b, i))
			continue;
		e = ix_find(t, NULL, batch_hash(b, i), b->kv[i].key,
		    b->kv[i].klen, &pos);
		if (e == 0)
			return PROTETS_EXISTS;
		if (e != PROTETS_NOTFOUND)
			return e;
	}
	return 0;
}

/* Insert t's part of b under its lock, then split. */
static int
batch_insert(struct tbl *t, const struct batch *b)
{
	const protets_kv	*kv = b->kv;
	uint64_t		 nadd = 0;
	size_t			 i;
	int			 e, added;

	/* A new epoch: the state words of this shard are not logged yet. */
	(void)lk_savepoint(t);
	for (i = 0; i < b->n; i++) {
		if (!batch_mine(t, b, i))
			continue;
		if (lk_room(t) < TBL_INS_UNDO + tbl_or_undo(t))
			return PROTETS_ELIMIT;
		if ((e = tbl_insert_locked(t, batch_hash(b, i), kv[i].key,
		    kv[i].klen, kv[i].val, kv[i].vlen, 0, &added, NULL)) != 0)
			return e;
		nadd += (uint64_t)added;
	}
	for (; nadd > 0; nadd--)
		if ((e = ix_grow(t)) != 0)
			return e;
	return 0;
}

/* The batch in one table (or one shard), under its lock. */
static int
batch_one(struct tbl *t, const struct batch *b, int only_new)
{
	int	e = 0;

	if ((e = lk_wbegin(t)) != 0)
		return e;
	if (only_new)
		e = batch_absent(t, b);
	CRASH_POINT();
	if (e == 0)
		e = batch_insert(t, b);
	if (e != 0)
		lk_wabort(t);
	else
		lk_wcommit(t);
	return e;
}

/* The batch over the shards of mask, under all their locks. */
static int
batch_cross(struct tbl *t, const struct batch *b, uint64_t mask,
    int only_new)
{
	struct tbl	v[TBL_SHARD_MAX];
	unsigned	k, n = 0;
	int		e = 0;

	for (k = 0; k < t->nshards; k++)
		if (mask & 1ULL << k)
			tbl_view(t, k, &v[n++]);
	if ((e = lk_xbegin(v, n)) != 0)
		return e;
	for (k = 0; only_new && e == 0 && k < n; k++)
		e = batch_absent(&v[k], b);
	CRASH_POINT();
	for (k = 0; e == 0 && k < n; k++)
		e = batch_insert(&v[k], b);
	if (e != 0)
		lk_xabort(v, n);
	else
		lk_xcommit(v, n);
	return e;
}

/* A batch on a sharded table: to one shard, or across several. */
static int
batch_route(struct tbl *t, const protets_kv *kv, size_t n, int only_new)
{
	struct batch	 b = { kv, n, NULL };
	struct tbl	 v;
	uint64_t	*h, mask = 0;
	size_t		 i;
	int		 e;

	/* Each key hashed once: for its shard, and in its shard. */
	if ((h = reallocarray(NULL, n, sizeof(*h))) == NULL)
		return ENOMEM;
	for (i = 0; i < n; i++) {
		h[i] = en_hash(kv[i].key, kv[i].klen);
		mask |= 1ULL << tbl_shard_of(t, h[i]);
	}
	b.h = h;
	if ((mask & (mask - 1)) == 0) {
		tbl_view(t, (unsigned)__builtin_ctzll(mask), &v);
		e = batch_one(&v, &b, only_new);
	} else
		e = batch_cross(t, &b, mask, only_new);
	free(h);
	return e;
}

int
tbl_insert_many(struct tbl *t, const protets_kv *kv, size_t n, int only_new)
{
	struct batch	b = { kv, n, NULL };
	size_t		i;
	int		e;

	if (n > 0 && kv == NULL)
		return PROTETS_EINVAL;
	for (i = 0; i < n; i++)
		if ((e = tbl_kv_ok(kv[i].key, kv[i].klen, kv[i].val,
		    kv[i].vlen)) != 0)
			return e;
	if (!t->writable)
		return PROTETS_EACCES;
	if (n == 0)
		return 0;
	if (t->route)
		return batch_route(t, kv, n, only_new);
	return batch_one(t, &b, only_new);
}

int
tbl_insert_new(struct tbl *t, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	protets_kv	kv = { key, klen, val, vlen };

	return tbl_insert_many(t, &kv, 1, 1);
}

/* Delete key's entry (a set's); *n: 1, or 0 when there was none. */
static int
tbl_delete_locked(struct tbl *t, uint64_t h, const void *key, size_t klen,
    uint64_t *n)
{
	struct ix_pos	pos;
	int		e;

	*n = 0;
	if ((e = ix_find(t, NULL, h, key, klen, &pos)) != 0)
		return e == PROTETS_NOTFOUND ? 0 : e;
	*n = 1;
	if ((e = ix_remove(t, pos.home, pos.slot)) != 0)
		return e;
	if (t->type == PROTETS_ORDERED_SET &&
	    (e = or_delete(t, key, klen, pos.eoff)) != 0)
		return e;
	al_free(t, pos.eoff, pos.eh.cls);
	tbl_add_entries(t, -1);
	return 0;
}

/*
 * Removal of every entry matching a key (and a value), keeping the order
 * of the rest: delete on bags, delete_object, take.  take copies each
 * removed value out (under the lock: consistent) into fb.
 */
struct rm_arg {
	uint64_t	 h;
	const void	*key;
	size_t		 klen;
	const void	*val;		/* NULL: any value */
	size_t		 vlen;
	struct fold_buf	*fb;		/* NULL: nothing to copy out */
};

static int
tbl_rm_match(struct tbl *t, uint64_t slot, uint64_t eoff,
    const struct en_hdr *eh, void *arg)
{
	struct rm_arg	*a = arg;
	struct fold_ent	*fe;
	int		 e;

	if (slot >> TBL_TAG_SHIFT != ix_tag(a->h) ||
	    !en_keyeq(t, eoff, eh, a->key, a->klen) ||
	    (a->val != NULL && !en_valeq(t, eoff, eh, a->val, a->vlen)))
		return 0;
	/* ix_filter frees the entry; its ordered node goes first */
	if (t->type == PROTETS_ORDERED_SET &&
	    (e = or_delete(t, a->key, a->klen, eoff)) != 0)
		return e;
	if (a->fb != NULL) {
		if ((e = tbl_fold_reserve(a->fb, eh->vlen)) != 0)
			return e > 0 ? -e : e;
		fe = &a->fb->ent[a->fb->nent++];
		fe->off = a->fb->len;
		fe->klen = 0;
		fe->vlen = eh->vlen;
		en_getval(t, eoff, eh, a->fb->data + fe->off, eh->vlen);
		a->fb->len += eh->vlen;
	}
	return 1;
}

static int
tbl_remove_locked(struct tbl *t, struct rm_arg *a, uint64_t *nrem)
{
	struct ix_it	it;
	uint64_t	slots, buckets;
	int		e;

	*nrem = 0;
	if ((e = ix_start(t, a->h, &it)) != 0 ||
	    (e = ix_chain_size(t, it.home, &slots, &buckets)) != 0)
		return e;
	if (IX_FILTER_UNDO(slots, buckets) + 4 + tbl_or_undo(t) > lk_room(t))
		return PROTETS_ELIMIT;
	if ((e = ix_filter(t, it.home, tbl_rm_match, a, nrem)) != 0)
		return e < 0 && e > -4096 ? -e : e;
	if (*nrem > 0)
		tbl_add_entries(t, -(int)*nrem);
	return 0;
}

int
tbl_delete(struct tbl *t, const void *key, size_t klen)
{
	return tbl_delete_n(t, key, klen, NULL);
}

int
tbl_delete_n(struct tbl *t, const void *key, size_t klen, uint64_t *np)
{
	struct rm_arg	a;
	struct tbl	v;
	uint64_t	h, n = 0;
	int		e;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (!t->writable)
		return PROTETS_EACCES;
	h = en_hash(key, klen);
	t = tbl_pick(t, h, &v);
	if ((e = lk_wbegin(t)) != 0)
		return e;
	if (t->type == PROTETS_SET || t->type == PROTETS_ORDERED_SET)
		e = tbl_delete_locked(t, h, key, klen, &n);
	else {
		memset(&a, 0, sizeof(a));
		a.h = h;
		a.key = key;
		a.klen = klen;
		e = tbl_remove_locked(t, &a, &n);
	}
	if (e != 0)
		lk_wabort(t);
	else
		lk_wcommit(t);
	if (np != NULL)
		*np = e == 0 ? n : 0;
	return e;
}

int
tbl_lookup(struct tbl *t, const void *key, size_t klen, void *buf,
    size_t bufsz, size_t *vlen)
{
	struct lk_rd	r;
	struct ix_pos	pos;
	struct tbl	v;
	uint64_t	h;
	size_t		n = 0;
	int		e, rc;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (vlen == NULL || (buf == NULL && bufsz > 0))
		return PROTETS_EINVAL;
	h = en_hash(key, klen);
	t = tbl_pick(t, h, &v);
	if ((e = lk_rbegin(t, &r)) != 0)
		return e;
	do {
		rc = ix_find(t, &r, h, key, klen, &pos);
		if (rc == 0) {
			n = pos.eh.vlen;
			if (n <= bufsz)
				en_getval(t, pos.eoff, &pos.eh, buf, n);
			else
				rc = PROTETS_ERANGE;
		}
	} while ((e = lk_rend(t, &r)) == 1);
	lk_rdone(t, &r);
	if (e != 0)
		return e;
	if (rc == 0 || rc == PROTETS_ERANGE)
		*vlen = n;
	return rc;
}

/*
 * The sums over the shards, each read on its own; the largest entry is
 * the smallest shard's (a key goes to the shard its hash names).
 */
static int
tbl_stats_route(struct tbl *t, struct tbl_stats *st)
{
	struct tbl_stats	s1;
	struct tbl		v;
	unsigned		k;
	int			e;

	memset(st, 0, sizeof(*st));
	for (k = 0; k < t->nshards; k++) {
		tbl_view(t, k, &v);
		if ((e = tbl_stats(&v, &s1)) != 0)
			return e;
		st->entries += s1.entries;
		st->bytes_used += s1.bytes_used;
		st->bytes_held += s1.bytes_held;
		st->bytes_free += s1.bytes_free;
		st->bytes_quota = k == 0 || (st->bytes_quota != 0 &&
		    s1.bytes_quota != 0) ? st->bytes_quota + s1.bytes_quota : 0;
		if (k == 0 || s1.largest_fit < st->largest_fit)
			st->largest_fit = s1.largest_fit;
	}
	st->bytes_size = t->size;
	return 0;
}

int
tbl_count(struct tbl *t, uint64_t *n)
{
	struct tbl_stats	st;
	struct lk_rd	r;
	int		e;

	if (t->route) {
		e = tbl_stats_route(t, &st);
		*n = st.entries;
		return e;
	}
	if ((e = lk_rbegin(t, &r)) != 0)
		return e;
	do
		*n = SH_RLOAD(&tbl_state(t)->entries);
	while ((e = lk_rend(t, &r)) == 1);
	lk_rdone(t, &r);
	return e;
}

int
tbl_stats(struct tbl *t, struct tbl_stats *st)
{
	struct al_figures	f;
	struct lk_rd		r;
	int			e;

	if (t->route)
		return tbl_stats_route(t, st);
	if ((e = lk_rbegin(t, &r)) != 0)
		return e;
	do {
		st->entries = SH_RLOAD(&tbl_state(t)->entries);
		st->bytes_used = SH_RLOAD(&tbl_state(t)->used);
		al_figures(t, &f);
	} while ((e = lk_rend(t, &r)) == 1);
	lk_rdone(t, &r);
	if (e != 0)
		return e;
	st->bytes_size = t->size;
	st->bytes_held = f.held;
	st->bytes_quota = f.quota;
	/* Held but in no block: free blocks, and the room above. */
	st->bytes_free = f.room + (f.held > TBL_HEAP_OFF + st->bytes_used ?
	    f.held - TBL_HEAP_OFF - st->bytes_used : 0);
	st->largest_fit = f.largest;
	return 0;
}

int
tbl_repair(struct tbl *t)
{
	struct tbl	v;
	unsigned	k;
	int		e;

	if (!t->route)
		return lk_repair(t);
	for (k = 0; k < t->nshards; k++) {
		tbl_view(t, k, &v);
		if ((e = lk_repair(&v)) != 0)
			return e;
	}
	return 0;
}

/* fn on every shard, even after one failed; the first error. */
static int
tbl_every_shard(struct tbl *t, int (*fn)(struct tbl *))
{
	struct tbl	v;
	unsigned	k;
	int		e, rc = 0;

	if (!t->route)
		return fn(t);
	for (k = 0; k < t->nshards; k++) {
		tbl_view(t, k, &v);
		if ((e = fn(&v)) != 0 && rc == 0)
			rc = e;
	}
	return rc;
}

/* Every shard, even after one failed: the more retired the better. */
int
tbl_retire(struct tbl *t)
{
	return tbl_every_shard(t, lk_retire);
}

int
tbl_unretire(struct tbl *t)
{
	return tbl_every_shard(t, lk_unretire);
}

int
tbl_retired(struct tbl *t)
{
	return tbl_every_shard(t, lk_is_retired) != 0;
}

/* tbl_trim of one shard, k, at k * shard_size in the segment. */
static void
tbl_trim_one(struct tbl *v, unsigned k, tbl_trim_fn fn, void *arg)
{
	uint64_t	top, ceil, lo, hi;

	if (lk_busy(v) || lk_wbegin(v) != 0)
		return;
	top = SH_LOAD(&tbl_state(v)->top);
	ceil = SH_LOAD(&tbl_state(v)->ceil);
	if (top >= TBL_HEAP_OFF && top <= ceil && ceil <= v->size) {
		lo = (top + 4095) & ~(uint64_t)4095;
		hi = ceil & ~(uint64_t)4095;
		if (hi > lo && hi - lo > (1u << 20))
			fn((uint64_t)k * v->shard_size + lo, hi - lo, arg);
	}
	lk_wabort(v);		/* nothing was written */
}

void
tbl_trim(struct tbl *t, tbl_trim_fn fn, void *arg)
{
	struct tbl	v;
	unsigned	k;

	if (!t->route) {
		tbl_trim_one(t, 0, fn, arg);
		return;
	}
	for (k = 0; k < t->nshards; k++) {
		tbl_view(t, k, &v);
		tbl_trim_one(&v, k, fn, arg);
	}
}

int
tbl_quiet(struct tbl *t)
{
	return tbl_every_shard(t, lk_busy) == 0;
}

/* Sharded: the shard this thread last failed on, else any holder. */
pid_t
tbl_lock_holder(const struct tbl *t)
{
	struct tbl	v;
	unsigned	k;
	pid_t		pid = 0;

	if (!t->route)
		return lk_holder(t);
	for (k = 0; k < t->nshards; k++) {
		tbl_view(t, k, &v);
		if (lk_failed_on(&v))
			return lk_holder(&v);
	}
	for (k = 0; pid == 0 && k < t->nshards; k++) {
		tbl_view(t, k, &v);
		pid = lk_holder(&v);
	}
	return pid;
}

/* ---------------------------------------------------------------- */
/* The rest of the ETS operation set. */

int
tbl_delete_object(struct tbl *t, const void *key, size_t klen,
    const void *val, size_t vlen, uint64_t *nrem)
{
	struct rm_arg	a;
	struct tbl	v;
	uint64_t	n = 0;
	int		e;

	if (nrem != NULL)
		*nrem = 0;
	if ((e = tbl_kv_ok(key, klen, val, vlen)) != 0)
		return e;
	if (!t->writable)
		return PROTETS_EACCES;
	memset(&a, 0, sizeof(a));
	a.h = en_hash(key, klen);
	a.key = key;
	a.klen = klen;
	a.val = val != NULL ? val : "";
	a.vlen = vlen;
	t = tbl_pick(t, a.h, &v);
	if ((e = lk_wbegin(t)) != 0)
		return e;
	if ((e = tbl_remove_locked(t, &a, &n)) != 0) {
		lk_wabort(t);
		return e;
	}
	lk_wcommit(t);
	if (nrem != NULL)
		*nrem = n;
	return 0;
}

/* lk_set, only if the word changes. */
static void
tbl_reset_word(struct tbl *t, uint64_t off, uint64_t v)
{
	if (SH_LOAD(tbl_word(t, off)) != v)
		lk_set(t, off, v);
}

/*
 * Clear: put the state back as tbl_format left it (chunk 0 kept, its
 * buckets emptied; every other chunk, every heap block and free list
 * dropped).  A bounded number of records whatever the table's size:
 * 128 bucket words and under 160 state words.  The old heap and chunks
 * are then unreachable garbage that later allocations overwrite.
 */
static int
tbl_clear_locked(struct tbl *t)
{
	struct tbl_state	*st = tbl_state(t);
	uint64_t		 c0, sz0, w;
	unsigned		 j;

	sz0 = TBL_IX_NB0 * sizeof(struct tbl_bucket);
	c0 = SH_LOAD(&st->ix_chunk[0]);
	if (c0 != (t->size & ~(uint64_t)1023) - sz0)
		return PROTETS_ECORRUPT;
	for (w = c0; w < c0 + sz0; w += 8)
		tbl_reset_word(t, w, 0);
	CRASH_POINT();
	for (j = 1; j < TBL_IX_NCHUNK; j++)
		tbl_reset_word(t, TBL_STATE_FIELD(ix_chunk[j]), 0);
	for (j = 0; j < TBL_NCLASS_PAD; j++)
		tbl_reset_word(t, TBL_STATE_FIELD(al_free[j]), 0);
	for (j = 0; j < TBL_OR_MAXH; j++)
		tbl_reset_word(t, TBL_STATE_FIELD(or_head[j]), 0);
	tbl_reset_word(t, TBL_STATE_FIELD(ix_level), 0);
	tbl_reset_word(t, TBL_STATE_FIELD(ix_split), 0);
	tbl_reset_word(t, TBL_STATE_FIELD(entries), 0);
	tbl_reset_word(t, TBL_STATE_FIELD(overflow), 0);
	tbl_reset_word(t, TBL_STATE_FIELD(top), TBL_HEAP_OFF);
	tbl_reset_word(t, TBL_STATE_FIELD(ceil), c0);
	tbl_reset_word(t, TBL_STATE_FIELD(used), sz0);
	tbl_reset_word(t, TBL_STATE_FIELD(recast), SH_LOAD(&st->recast) + 1);
	return 0;
}

/* A sharded table: every shard at once, under all the locks. */
static int
tbl_clear_route(struct tbl *t)
{
	struct tbl	v[TBL_SHARD_MAX];
	unsigned	k;
	int		e = 0;

	for (k = 0; k < t->nshards; k++)
		tbl_view(t, k, &v[k]);
	if ((e = lk_xbegin(v, t->nshards)) != 0)
		return e;
	for (k = 0; e == 0 && k < t->nshards; k++) {
		(void)lk_savepoint(&v[k]);
		e = tbl_clear_locked(&v[k]);
	}
	if (e != 0)
		lk_xabort(v, t->nshards);
	else
		lk_xcommit(v, t->nshards);
	return e;
}

int
tbl_clear(struct tbl *t)
{
	int	e;

	if (!t->writable)
		return PROTETS_EACCES;
	if (t->route)
		return tbl_clear_route(t);
	if ((e = lk_wbegin(t)) != 0)
		return e;
	if ((e = tbl_clear_locked(t)) != 0)
		lk_wabort(t);
	else
		lk_wcommit(t);
	return e;
}

/* Hand the values in fb to fn, as values of key; stop on non-zero. */
static int
tbl_values_out(const struct fold_buf *fb, const void *key, size_t klen,
    protets_fold_fn fn, void *arg)
{
	size_t	i;
	int	e;

	for (i = 0; i < fb->nent; i++) {
		e = fn(key, klen, fb->data + fb->ent[i].off, fb->ent[i].vlen,
		    arg);
		if (e != 0)
			return e;
	}
	return 0;
}

int
tbl_take(struct tbl *t, const void *key, size_t klen, protets_fold_fn fn,
    void *arg)
{
	struct fold_buf	fb;
	struct rm_arg	a;
	struct tbl	v;
	uint64_t	n = 0;
	int		e;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (!t->writable)
		return PROTETS_EACCES;
	memset(&fb, 0, sizeof(fb));
	memset(&a, 0, sizeof(a));
	a.h = en_hash(key, klen);
	a.key = key;
	a.klen = klen;
	a.fb = &fb;
	t = tbl_pick(t, a.h, &v);
	if ((e = lk_wbegin(t)) != 0)
		return e;
	if ((e = tbl_remove_locked(t, &a, &n)) != 0)
		lk_wabort(t);
	else
		lk_wcommit(t);
	if (e == 0 && n == 0)
		e = PROTETS_NOTFOUND;
	if (e == 0 && fn != NULL)
		(void)tbl_values_out(&fb, key, klen, fn, arg);
	free(fb.data);
	free(fb.ent);
	return e;
}

/* Copy every value of key out under one validation. */
static int
tbl_values_read(struct tbl *t, const struct lk_rd *r, uint64_t h,
    const void *key, size_t klen, struct fold_buf *fb)
{
	struct ix_it	 it;
	struct ix_pos	 pos;
	struct fold_ent	*fe;
	int		 e;

	fb->len = fb->nent = 0;
	if ((e = ix_start(t, h, &it)) != 0)
		return e;
	for (;;) {
		e = ix_match(t, r, h, key, klen, NULL, 0, &it, &pos);
		if (e == PROTETS_NOTFOUND)
			return 0;
		if (e != 0)
			return e;
		if ((e = tbl_fold_reserve(fb, pos.eh.vlen)) != 0)
			return e;
		fe = &fb->ent[fb->nent++];
		fe->off = fb->len;
		fe->klen = 0;
		fe->vlen = pos.eh.vlen;
		en_getval(t, pos.eoff, &pos.eh, fb->data + fe->off,
		    pos.eh.vlen);
		fb->len += pos.eh.vlen;
	}
}

int
tbl_lookup_each(struct tbl *t, const void *key, size_t klen,
    protets_fold_fn fn, void *arg)
{
	struct fold_buf	fb;
	struct lk_rd	r;
	struct tbl	v;
	uint64_t	h;
	int		e, rc;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (fn == NULL)
		return PROTETS_EINVAL;
	h = en_hash(key, klen);
	t = tbl_pick(t, h, &v);
	memset(&fb, 0, sizeof(fb));
	if ((e = lk_rbegin(t, &r)) != 0)
		return e;
	do
		rc = tbl_values_read(t, &r, h, key, klen, &fb);
	while ((e = lk_rend(t, &r)) == 1);
	lk_rdone(t, &r);
	if (e == 0)
		e = rc;
	if (e == 0 && fb.nent == 0)
		e = PROTETS_NOTFOUND;
	if (e == 0)
		e = tbl_values_out(&fb, key, klen, fn, arg);
	free(fb.data);
	free(fb.ent);
	return e;
}

int
tbl_member(struct tbl *t, const void *key, size_t klen)
{
	size_t	n;
	int	e;

	e = tbl_lookup(t, key, klen, NULL, 0, &n);
	return e == PROTETS_ERANGE ? 0 : e;
}

/* ---------------------------------------------------------------- */
/* Counters: shm/table_counter.c. */

int
tbl_update_counter(struct tbl *t, const void *key, size_t klen, int64_t incr,
    const protets_counter_opts *o, int64_t *result)
{
	struct tbl	v;
	int64_t		res = 0;
	uint64_t	h;
	int		e;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (t->type != PROTETS_SET && t->type != PROTETS_ORDERED_SET)
		return PROTETS_EINVAL;
	if (!t->writable)
		return PROTETS_EACCES;
	h = en_hash(key, klen);
	t = tbl_pick(t, h, &v);
	if (t->fast && tbl_counter_fast(t, h, key, klen, incr, o, &res) == 0) {
		if (result != NULL)
			*result = res;
		return 0;
	}
	if ((e = lk_wbegin(t)) != 0)
		return e;
	if ((e = tbl_counter_locked(t, h, key, klen, incr, o, &res)) != 0)
		lk_wabort(t);
	else
		lk_wcommit(t);
	if (e == 0 && result != NULL)
		*result = res;
	return e;
}
