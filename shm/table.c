/*
 * shm/table.c - the operations of a set table.
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
#include "counter.h"
#include "crash.h"
#include "entry.h"
#include "hash.h"
#include "lock.h"
#include "ordered.h"

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

static int
fold_reserve(struct fold_buf *fb, size_t need)
{
	unsigned char	*p;
	struct fold_ent	*pe;
	size_t		 cap;

	if (fb->cap - fb->len < need) {
		for (cap = fb->cap ? fb->cap : 4096; cap - fb->len < need;)
			cap *= 2;
		if ((p = realloc(fb->data, cap)) == NULL)
			return ENOMEM;
		fb->data = p;
		fb->cap = cap;
	}
	if (fb->nent == fb->capent) {
		cap = fb->capent ? fb->capent * 2 : 16;
		if ((pe = reallocarray(fb->ent, cap, sizeof(*pe))) == NULL)
			return ENOMEM;
		fb->ent = pe;
		fb->capent = cap;
	}
	return 0;
}

static int
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
static struct tbl *
tbl_pick(struct tbl *t, uint64_t h, struct tbl *v)
{
	if (!t->route)
		return t;
	tbl_view(t, tbl_shard_of(t, h), v);
	return v;
}

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
 * entry count grew.  grow: split the index if the load calls for it
 * (a batch splits once it is done instead).
 */
int
tbl_insert_locked(struct tbl *t, uint64_t h, const void *key, size_t klen,
    const void *val, size_t vlen, int grow, int *added)
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
	if ((e = al_alloc(t, en_size(klen, vlen), AL_FALLBACK, &off, &cls)))
		return e;
	en_write(t, off, cls, key, klen, val, vlen);
	TBL_CRASHPOINT();
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
	return grow ? ix_grow(t) : 0;
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
	if ((e = tbl_insert_locked(t, h, key, klen, val, vlen, 1, NULL)) != 0)
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
		    kv[i].klen, kv[i].val, kv[i].vlen, 0, &added)) != 0)
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
	TBL_CRASHPOINT();
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
	TBL_CRASHPOINT();
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

	for (i = 0; i < n; i++)
		mask |= 1ULL << tbl_shard_of(t, en_hash(kv[i].key, kv[i].klen));
	if ((mask & (mask - 1)) == 0) {
		tbl_view(t, (unsigned)__builtin_ctzll(mask), &v);
		return batch_one(&v, &b, only_new);
	}
	if ((h = reallocarray(NULL, n, sizeof(*h))) == NULL)
		return ENOMEM;
	for (i = 0; i < n; i++)
		h[i] = en_hash(kv[i].key, kv[i].klen);
	b.h = h;
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

static int
tbl_delete_locked(struct tbl *t, uint64_t h, const void *key, size_t klen)
{
	struct ix_pos	pos;
	int		e;

	if ((e = ix_find(t, NULL, h, key, klen, &pos)) != 0)
		return e == PROTETS_NOTFOUND ? 0 : e;
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
		if ((e = fold_reserve(a->fb, eh->vlen)) != 0)
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
	struct rm_arg	a;
	struct tbl	v;
	uint64_t	h, n;
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
		e = tbl_delete_locked(t, h, key, klen);
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

/* Sum of the counts of the shards, each read on its own. */
static int
tbl_count_route(struct tbl *t, uint64_t *n)
{
	struct tbl	v;
	uint64_t	c;
	unsigned	k;
	int		e;

	*n = 0;
	for (k = 0; k < t->nshards; k++) {
		tbl_view(t, k, &v);
		if ((e = tbl_count(&v, &c)) != 0)
			return e;
		*n += c;
	}
	return 0;
}

int
tbl_count(struct tbl *t, uint64_t *n)
{
	struct lk_rd	r;
	int		e;

	if (t->route)
		return tbl_count_route(t, n);
	if ((e = lk_rbegin(t, &r)) != 0)
		return e;
	do
		*n = SH_RLOAD(&tbl_state(t)->entries);
	while ((e = lk_rend(t, &r)) == 1);
	lk_rdone(t, &r);
	return e;
}

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
	}
	st->bytes_size = t->size;
	return 0;
}

int
tbl_stats(struct tbl *t, struct tbl_stats *st)
{
	struct lk_rd	r;
	int		e;

	if (t->route)
		return tbl_stats_route(t, st);
	if ((e = lk_rbegin(t, &r)) != 0)
		return e;
	do {
		st->entries = SH_RLOAD(&tbl_state(t)->entries);
		st->bytes_used = SH_RLOAD(&tbl_state(t)->used);
		st->bytes_size = t->size;
	} while ((e = lk_rend(t, &r)) == 1);
	lk_rdone(t, &r);
	return e;
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

/*
 * foldl walks the hash space in bit-reversed order.  Bucket b (selected
 * by k low hash bits) holds exactly the hashes whose reversal lies in one
 * interval, and splitting it splits the interval in two: so a cursor in
 * reversed-hash space, moved past each bucket's interval once it has been
 * copied out, visits every hash once however the index grows meanwhile.
 * An entry is reported only if its reversed hash is at or past the
 * cursor, so nothing is reported twice.  Each bucket is copied out under
 * one seqlock validation, and the callbacks run after, with no lock held.
 */
/* Copy one entry out if its reversed hash is in [lo, hi]. */
static int
fold_copy(const struct tbl *t, uint64_t eoff, uint64_t lo, uint64_t hi,
    struct fold_buf *fb)
{
	struct en_hdr	 eh;
	struct fold_ent	*fe;
	uint64_t	 rev;
	int		 e;

	if ((e = en_read(t, eoff, &eh)) != 0)
		return e;
	if ((e = fold_reserve(fb, (size_t)eh.klen + eh.vlen)) != 0)
		return e;
	fe = &fb->ent[fb->nent];
	fe->off = fb->len;
	fe->klen = eh.klen;
	fe->vlen = eh.vlen;
	en_getkey(t, eoff, &eh, fb->data + fe->off);
	rev = ix_bitrev(en_hash(fb->data + fe->off, eh.klen));
	if (rev < lo || rev > hi)
		return 0;
	fe->rev = rev;
	en_getval(t, eoff, &eh, fb->data + fe->off + eh.klen, eh.vlen);
	fb->len += fe->klen + fe->vlen;
	fb->nent++;
	return 0;
}

/* Copy out the bucket at cursor c; *lastp: it was the last interval. */
static int
fold_bucket(const struct tbl *t, const struct lk_rd *r, uint64_t c,
    struct fold_buf *fb, uint64_t *hip)
{
	uint64_t	boff, v, mask, n;
	unsigned	bits, i;
	int		e;

	fb->len = fb->nent = 0;
	if ((e = ix_cursor(t, c, &boff, &bits)) != 0)
		return e;
	mask = bits >= 64 ? 0 : ~0ULL >> bits;
	*hip = (c & ~mask) | mask;
	for (n = 0; boff != 0; n++) {
		if (n > t->size / sizeof(struct tbl_bucket) || lk_rstale(t, r))
			return PROTETS_ECORRUPT;
		for (i = 0; i < TBL_BUCKET_SLOTS; i++) {
			v = SH_RLOAD(tbl_word(t, boff + i * 8));
			if (v == 0)
				return 0;
			if ((e = fold_copy(t, ix_slot_off(v), c, *hip, fb)))
				return e;
		}
		boff = SH_RLOAD(tbl_word(t, boff + IX_NEXT_OFF));
		if (boff != 0 && !tbl_inheap(t, boff, TBL_LINE, 8))
			return PROTETS_ECORRUPT;
	}
	return 0;
}

static int
fold_read(struct tbl *t, uint64_t c, struct fold_buf *fb, uint64_t *hip)
{
	struct lk_rd	r;
	int		e, rc;

	if ((e = lk_rbegin(t, &r)) != 0)
		return e;
	do
		rc = fold_bucket(t, &r, c, fb, hip);
	while ((e = lk_rend(t, &r)) == 1);
	lk_rdone(t, &r);
	return e != 0 ? e : rc;
}

static int ord_fold(struct tbl *, const protets_match *, protets_fold_fn,
    void *);

/* By hash, then key, then position: equal keys together, in chain order. */
static int
fold_sort_cmp(const void *pa, const void *pb, void *data)
{
	const struct fold_ent	*a = pa, *b = pb;
	const unsigned char	*d = data;
	size_t			 n = a->klen < b->klen ? a->klen : b->klen;
	int			 c;

	if (a->rev != b->rev)
		return a->rev < b->rev ? -1 : 1;
	if ((c = memcmp(d + a->off, d + b->off, n)) != 0)
		return c;
	if (a->klen != b->klen)
		return a->klen < b->klen ? -1 : 1;
	return (a->off > b->off) - (a->off < b->off);
}

/*
 * A bag's chain keeps insertion order across keys (k1 v1, k2 v1, k1 v2):
 * give each key's values together, still in insertion order, so that a
 * reader of the fold (protets_save, a load replaying it) sees keys whole.
 */
static void
fold_sort(const struct tbl *t, struct fold_buf *fb)
{
	if (t->type == PROTETS_SET || fb->nent < 2)
		return;
	qsort_r(fb->ent, fb->nent, sizeof(fb->ent[0]), fold_sort_cmp, fb->data);
}

/* A sharded table: shard by shard, each in its own order. */
static int
tbl_foldl_route(struct tbl *t, protets_fold_fn fn, void *arg)
{
	struct tbl	v;
	unsigned	k;
	int		e;

	for (k = 0; k < t->nshards; k++) {
		tbl_view(t, k, &v);
		if ((e = tbl_foldl(&v, fn, arg)) != 0)
			return e;
	}
	return 0;
}

int
tbl_foldl(struct tbl *t, protets_fold_fn fn, void *arg)
{
	struct fold_buf	 fb;
	struct fold_ent	*fe;
	uint64_t	 c = 0, hi = 0;
	size_t		 i;
	int		 e;

	if (fn == NULL)
		return PROTETS_EINVAL;
	if (t->type == PROTETS_ORDERED_SET)
		return ord_fold(t, NULL, fn, arg);
	if (t->route)
		return tbl_foldl_route(t, fn, arg);
	memset(&fb, 0, sizeof(fb));
	for (;;) {
		if ((e = fold_read(t, c, &fb, &hi)) != 0)
			break;
		fold_sort(t, &fb);
		for (i = 0; i < fb.nent; i++) {
			fe = &fb.ent[i];
			e = fn(fb.data + fe->off, fe->klen,
			    fb.data + fe->off + fe->klen, fe->vlen, arg);
			if (e != 0)
				goto out;
		}
		if (hi == ~0ULL)
			break;
		c = hi + 1;
	}
out:
	free(fb.data);
	free(fb.ent);
	return e;
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
	TBL_CRASHPOINT();
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
		if ((e = fold_reserve(fb, pos.eh.vlen)) != 0)
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
/* Counters: shm/counter.c. */

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

/* ---------------------------------------------------------------- */
/* first/next: the fold's order, made total by comparing keys. */

static int
tbl_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int	c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Is entry e before (rev, key) in the walk's order? */
static int
tbl_before(const struct fold_buf *fb, const struct fold_ent *fe,
    uint64_t rev, const void *key, size_t klen)
{
	if (fe->rev != rev)
		return fe->rev < rev;
	return tbl_keycmp(fb->data + fe->off, fe->klen, key, klen) < 0;
}

/* The first key after (key, klen) (key NULL: the first key). */
static int
tbl_seek(struct tbl *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *outlen)
{
	struct fold_buf	 fb;
	struct fold_ent	*fe, *best;
	uint64_t	 c = 0, hi = 0, crev = 0;
	size_t		 i;
	int		 e;

	if (outlen == NULL || (kbuf == NULL && kbufsz > 0))
		return PROTETS_EINVAL;
	if (key != NULL)
		c = crev = ix_bitrev(en_hash(key, klen));
	memset(&fb, 0, sizeof(fb));
	for (;;) {
		if ((e = fold_read(t, c, &fb, &hi)) != 0)
			break;
		best = NULL;
		for (i = 0; i < fb.nent; i++) {
			fe = &fb.ent[i];
			/* strictly after the given key */
			if (key != NULL && fe->rev == crev &&
			    tbl_keycmp(fb.data + fe->off, fe->klen, key,
			    klen) <= 0)
				continue;
			if (best == NULL || tbl_before(&fb, fe, best->rev,
			    fb.data + best->off, best->klen))
				best = fe;
		}
		if (best != NULL) {
			*outlen = best->klen;
			if (best->klen > kbufsz)
				e = PROTETS_ERANGE;
			else
				memcpy(kbuf, fb.data + best->off, best->klen);
			break;
		}
		if (hi == ~0ULL) {
			e = PROTETS_NOTFOUND;
			break;
		}
		c = hi + 1;
	}
	free(fb.data);
	free(fb.ent);
	return e;
}

/*
 * Is k (what the index gave) where mode asked, relative to key?  Checked
 * on the entry's own key, so that a walk over a damaged index always
 * moves on and ends.
 */
static int
ord_placed(const void *k, size_t klen, const void *key, size_t keylen,
    enum or_mode mode)
{
	int	c;

	if (key == NULL)
		return 0;
	c = or_keycmp(k, klen, key, keylen);
	if (mode == OR_GE ? c >= 0 : mode == OR_GT ? c > 0 : c < 0)
		return 0;
	return PROTETS_ECORRUPT;
}

/* ordered_set: the key mode asks for, through the ordered index. */
static int
ord_seek(struct tbl *t, const void *key, size_t klen, enum or_mode mode,
    void *kbuf, size_t kbufsz, size_t *outlen)
{
	unsigned char	kb[PROTETS_KEY_MAX];
	struct or_path	p;
	struct lk_rd	r;
	struct en_hdr	eh;
	uint64_t	eoff;
	size_t		n = 0;
	int		e, rc;

	if (outlen == NULL || (kbuf == NULL && kbufsz > 0))
		return PROTETS_EINVAL;
	if ((e = lk_rbegin(t, &r)) != 0)
		return e;
	do {
		rc = or_seek_finger(t, &r, key, klen, mode, &p);
		if (rc == 0 && p.node == 0)
			rc = PROTETS_NOTFOUND;
		if (rc == 0 && (rc = or_entry(t, p.node, &eoff, &eh)) == 0) {
			n = eh.klen;
			en_getkey(t, eoff, &eh, kb);
			rc = ord_placed(kb, n, key, klen, mode);
		}
	} while ((e = lk_rend(t, &r)) == 1);
	/* Validated: where the walk's next step can start. */
	if (e == 0 && rc == 0)
		or_finger_keep(t, &r, &p);
	lk_rdone(t, &r);
	if (e != 0 || rc != 0)
		return e != 0 ? e : rc;
	*outlen = n;
	if (n > kbufsz)
		return PROTETS_ERANGE;
	memcpy(kbuf, kb, n);
	return 0;
}

/*
 * A sharded table: the shards in order, each in its own order; after a
 * key, the rest of its shard, then the next shards from their first key.
 */
static int
tbl_seek_route(struct tbl *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *outlen)
{
	struct tbl	v;
	unsigned	k = 0;
	int		e;

	if (key != NULL)
		k = tbl_shard_of(t, en_hash(key, klen));
	for (; k < t->nshards; k++) {
		tbl_view(t, k, &v);
		e = tbl_seek(&v, key, klen, kbuf, kbufsz, outlen);
		if (e != PROTETS_NOTFOUND)
			return e;
		key = NULL;
		klen = 0;
	}
	return PROTETS_NOTFOUND;
}

int
tbl_first(struct tbl *t, void *kbuf, size_t kbufsz, size_t *klen)
{
	if (t->type == PROTETS_ORDERED_SET)
		return ord_seek(t, NULL, 0, OR_GE, kbuf, kbufsz, klen);
	if (t->route)
		return tbl_seek_route(t, NULL, 0, kbuf, kbufsz, klen);
	return tbl_seek(t, NULL, 0, kbuf, kbufsz, klen);
}

int
tbl_next(struct tbl *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *nklen)
{
	int	e;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (t->type == PROTETS_ORDERED_SET)
		return ord_seek(t, key, klen, OR_GT, kbuf, kbufsz, nklen);
	if (t->route)
		return tbl_seek_route(t, key, klen, kbuf, kbufsz, nklen);
	return tbl_seek(t, key, klen, kbuf, kbufsz, nklen);
}

/* As ETS: on the hash types, last is first and prev is next. */
int
tbl_last(struct tbl *t, void *kbuf, size_t kbufsz, size_t *klen)
{
	if (t->type == PROTETS_ORDERED_SET)
		return ord_seek(t, NULL, 0, OR_LT, kbuf, kbufsz, klen);
	return tbl_first(t, kbuf, kbufsz, klen);
}

int
tbl_prev(struct tbl *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *pklen)
{
	int	e;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (t->type == PROTETS_ORDERED_SET)
		return ord_seek(t, key, klen, OR_LT, kbuf, kbufsz, pklen);
	return tbl_next(t, key, klen, kbuf, kbufsz, pklen);
}

/* ---------------------------------------------------------------- */
/*
 * ordered_set walks: key order, copied out in batches of at most
 * ORD_BATCH entries or bytes, each batch under one seqlock validation;
 * the next batch starts after the last key handed out, so a key present
 * for the whole walk is seen once, and a key deleted meanwhile does not
 * lose the walk its place.
 */
#define ORD_BATCH	256
#define ORD_BATCH_BYTES	(256 * 1024)

/* A key range: from lo (inclusive unless lostrict) to hi, with prefix. */
struct ord_range {
	const void	*lo, *hi, *pfx;
	size_t		 lolen, hilen, plen;
	int		 lostrict;
};

static void
ord_range_of(const protets_match *m, struct ord_range *g)
{
	memset(g, 0, sizeof(*g));
	if (m == NULL)
		return;
	g->lo = m->from;
	g->lolen = m->flen;
	/* every key with the prefix sorts at or after the prefix itself */
	if (m->plen > 0 && (g->lo == NULL ||
	    or_keycmp(m->prefix, m->plen, g->lo, g->lolen) > 0)) {
		g->lo = m->prefix;
		g->lolen = m->plen;
	}
	g->hi = m->to;
	g->hilen = m->tlen;
	g->pfx = m->prefix;
	g->plen = m->plen;
}

/* Is k past the range?  The keys with the prefix are contiguous. */
static int
ord_past(const struct ord_range *g, const void *k, size_t klen)
{
	if (g->hi != NULL && or_keycmp(k, klen, g->hi, g->hilen) > 0)
		return 1;
	return g->plen > 0 && (klen < g->plen || memcmp(k, g->pfx, g->plen));
}

/* Copy out the next batch of g; *endp: the range is exhausted. */
static int
ord_batch(const struct tbl *t, const struct lk_rd *r,
    const struct ord_range *g, struct fold_buf *fb, int *endp)
{
	struct en_hdr	 eh;
	struct fold_ent	*fe;
	uint64_t	 node, eoff, n;
	int		 e;

	fb->len = fb->nent = 0;
	*endp = 0;
	if ((e = or_seek(t, r, g->lo, g->lolen, g->lostrict ? OR_GT : OR_GE,
	    &node)) != 0)
		return e;
	for (n = 0; node != 0; n++) {
		if (fb->nent >= ORD_BATCH || fb->len >= ORD_BATCH_BYTES)
			return 0;
		if (n > t->size / or_node_size(1) ||
		    ((n & 63) == 63 && lk_rstale(t, r)))
			return PROTETS_ECORRUPT;
		if ((e = or_entry(t, node, &eoff, &eh)) != 0 ||
		    (e = fold_reserve(fb, (size_t)eh.klen + eh.vlen)) != 0)
			return e;
		fe = &fb->ent[fb->nent];
		fe->off = fb->len;
		fe->klen = eh.klen;
		fe->vlen = eh.vlen;
		fe->rev = 0;
		en_getkey(t, eoff, &eh, fb->data + fe->off);
		/* a list out of order (or cyclic) is damage, or torn */
		if (fb->nent > 0 ? or_keycmp(fb->data + fe[-1].off,
		    fe[-1].klen, fb->data + fe->off, eh.klen) >= 0 :
		    ord_placed(fb->data + fe->off, eh.klen, g->lo, g->lolen,
		    g->lostrict ? OR_GT : OR_GE) != 0)
			return PROTETS_ECORRUPT;
		if (ord_past(g, fb->data + fe->off, eh.klen))
			break;
		en_getval(t, eoff, &eh, fb->data + fe->off + eh.klen, eh.vlen);
		fb->len += fe->klen + fe->vlen;
		fb->nent++;
		if ((e = or_next(t, node, &node)) != 0)
			return e;
	}
	*endp = 1;
	return 0;
}

/* Call fn on the entries m selects by key range and prefix, in order. */
static int
ord_fold(struct tbl *t, const protets_match *m, protets_fold_fn fn,
    void *arg)
{
	unsigned char	 cur[PROTETS_KEY_MAX];
	struct ord_range g;
	struct fold_buf	 fb;
	struct fold_ent	*fe;
	struct lk_rd	 r;
	size_t		 i;
	int		 e, rc, end = 0;

	ord_range_of(m, &g);
	memset(&fb, 0, sizeof(fb));
	while (!end) {
		if ((e = lk_rbegin(t, &r)) != 0)
			break;
		do
			rc = ord_batch(t, &r, &g, &fb, &end);
		while ((e = lk_rend(t, &r)) == 1);
		lk_rdone(t, &r);
		if (e != 0 || (e = rc) != 0)
			break;
		for (i = 0; i < fb.nent; i++) {
			fe = &fb.ent[i];
			e = fn(fb.data + fe->off, fe->klen,
			    fb.data + fe->off + fe->klen, fe->vlen, arg);
			if (e != 0)
				goto out;
		}
		if (fb.nent == 0)
			break;
		/* resume after the last key handed out */
		fe = &fb.ent[fb.nent - 1];
		memcpy(cur, fb.data + fe->off, fe->klen);
		g.lo = cur;
		g.lolen = fe->klen;
		g.lostrict = 1;
	}
out:
	free(fb.data);
	free(fb.ent);
	return e;
}

/* ---------------------------------------------------------------- */
/* select: a fold through a filter. */

struct sel_arg {
	const protets_match	*m;
	protets_fold_fn		 fn;
	void			*arg;
	uint64_t		 n;
	struct fold_buf		 fb;	/* select_delete: the selected */
};

/* 1: selected, 0: not, anything else: stop with it. */
static int
sel_match(const protets_match *m, const void *k, size_t klen, const void *v,
    size_t vlen)
{
	if (m == NULL)
		return 1;
	if (m->plen > 0 && (klen < m->plen || memcmp(k, m->prefix, m->plen)))
		return 0;
	if ((m->from != NULL && or_keycmp(k, klen, m->from, m->flen) < 0) ||
	    (m->to != NULL && or_keycmp(k, klen, m->to, m->tlen) > 0))
		return 0;
	return m->pred == NULL ? 1 : m->pred(k, klen, v, vlen, m->arg);
}

static int
sel_one(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct sel_arg	*s = arg;
	int		 e;

	if ((e = sel_match(s->m, k, klen, v, vlen)) != 1)
		return e;
	s->n++;
	return s->fn != NULL ? s->fn(k, klen, v, vlen, s->arg) : 0;
}

static int
sel_valid(const protets_match *m)
{
	return m == NULL || m->plen == 0 || m->prefix != NULL;
}

/* The walk of a select: an ordered_set seeks to the range's start. */
static int
sel_walk(struct tbl *t, const protets_match *m, protets_fold_fn fn,
    struct sel_arg *s)
{
	if (t->type == PROTETS_ORDERED_SET)
		return ord_fold(t, m, fn, s);
	return tbl_foldl(t, fn, s);
}

int
tbl_select(struct tbl *t, const protets_match *m, protets_fold_fn fn,
    void *arg)
{
	struct sel_arg	s = { m, fn, arg, 0, { 0 } };

	if (fn == NULL || !sel_valid(m))
		return PROTETS_EINVAL;
	return sel_walk(t, m, sel_one, &s);
}

int
tbl_select_count(struct tbl *t, const protets_match *m, uint64_t *n)
{
	struct sel_arg	s = { m, NULL, NULL, 0, { 0 } };
	int		e;

	if (n == NULL || !sel_valid(m))
		return PROTETS_EINVAL;
	if ((e = sel_walk(t, m, sel_one, &s)) == 0)
		*n = s.n;
	return e;
}

static int
sel_keep(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct sel_arg	*s = arg;
	struct fold_ent	*fe;
	int		 e;

	if ((e = sel_match(s->m, k, klen, v, vlen)) != 1)
		return e;
	if ((e = fold_reserve(&s->fb, klen + vlen)) != 0)
		return e;
	fe = &s->fb.ent[s->fb.nent++];
	fe->off = s->fb.len;
	fe->klen = klen;
	fe->vlen = vlen;
	memcpy(s->fb.data + fe->off, k, klen);
	if (vlen > 0)
		memcpy(s->fb.data + fe->off + klen, v, vlen);
	s->fb.len += klen + vlen;
	return 0;
}

int
tbl_select_delete(struct tbl *t, const protets_match *m, uint64_t *n)
{
	struct sel_arg	 s = { m, NULL, NULL, 0, { 0 } };
	struct fold_ent	*fe;
	uint64_t	 k, total = 0;
	size_t		 i;
	int		 e;

	if (!sel_valid(m))
		return PROTETS_EINVAL;
	if (!t->writable)
		return PROTETS_EACCES;
	e = sel_walk(t, m, sel_keep, &s);
	for (i = 0; e == 0 && i < s.fb.nent; i++) {
		fe = &s.fb.ent[i];
		e = tbl_delete_object(t, s.fb.data + fe->off, fe->klen,
		    s.fb.data + fe->off + fe->klen, fe->vlen, &k);
		total += k;
	}
	free(s.fb.data);
	free(s.fb.ent);
	if (n != NULL)
		*n = total;
	return e;
}
