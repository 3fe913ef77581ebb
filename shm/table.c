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
#include <string.h>

#include "alloc.h"
#include "crash.h"
#include "entry.h"
#include "hash.h"
#include "lock.h"

static int
tbl_key_ok(const void *key, size_t klen)
{
	if (klen == 0 || key == NULL)
		return PROTETS_EINVAL;
	if (klen > PROTETS_KEY_MAX)
		return PROTETS_ETOOBIG;
	return 0;
}

static void
tbl_add_entries(struct tbl *t, int delta)
{
	struct tbl_state	*st = tbl_state(t);

	lk_set(t, TBL_STATE_FIELD(entries),
	    SH_LOAD(&st->entries) + (uint64_t)(int64_t)delta);
}

static int
tbl_insert_locked(struct tbl *t, uint64_t h, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	struct ix_pos	pos;
	uint64_t	off, slot;
	unsigned	cls;
	int		e, found;

	e = ix_find(t, NULL, h, key, klen, &pos);
	if (e != 0 && e != PROTETS_NOTFOUND)
		return e;
	found = e == 0;
	if ((e = al_alloc(t, en_size(klen, vlen), AL_FALLBACK, &off, &cls)))
		return e;
	en_write(t, off, cls, key, klen, val, vlen);
	TBL_CRASHPOINT();
	slot = ix_slot(h, off);
	if (found) {
		/* Copy on write: readers of the old entry stay valid. */
		lk_set(t, pos.slot, slot);
		al_free(t, pos.eoff, pos.eh.cls);
		return 0;
	}
	if ((e = ix_add(t, pos.home, slot)) != 0)
		return e;
	tbl_add_entries(t, 1);
	return ix_grow(t);
}

int
tbl_insert(struct tbl *t, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	uint64_t	h;
	int		e;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (vlen > PROTETS_VALUE_MAX)
		return PROTETS_ETOOBIG;
	if (vlen > 0 && val == NULL)
		return PROTETS_EINVAL;
	if (!t->writable)
		return PROTETS_EACCES;
	h = en_hash(key, klen);
	if ((e = lk_wbegin(t)) != 0)
		return e;
	if ((e = tbl_insert_locked(t, h, key, klen, val, vlen)) != 0)
		lk_wabort(t);
	else
		lk_wcommit(t);
	return e;
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
	al_free(t, pos.eoff, pos.eh.cls);
	tbl_add_entries(t, -1);
	return 0;
}

int
tbl_delete(struct tbl *t, const void *key, size_t klen)
{
	uint64_t	h;
	int		e;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (!t->writable)
		return PROTETS_EACCES;
	h = en_hash(key, klen);
	if ((e = lk_wbegin(t)) != 0)
		return e;
	if ((e = tbl_delete_locked(t, h, key, klen)) != 0)
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
	uint64_t	h;
	size_t		n = 0;
	int		e, rc;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	if (vlen == NULL || (buf == NULL && bufsz > 0))
		return PROTETS_EINVAL;
	h = en_hash(key, klen);
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

int
tbl_count(struct tbl *t, uint64_t *n)
{
	struct lk_rd	r;
	int		e;

	if ((e = lk_rbegin(t, &r)) != 0)
		return e;
	do
		*n = SH_LOAD(&tbl_state(t)->entries);
	while ((e = lk_rend(t, &r)) == 1);
	lk_rdone(t, &r);
	return e;
}

int
tbl_stats(struct tbl *t, struct tbl_stats *st)
{
	struct lk_rd	r;
	int		e;

	if ((e = lk_rbegin(t, &r)) != 0)
		return e;
	do {
		st->entries = SH_LOAD(&tbl_state(t)->entries);
		st->bytes_used = SH_LOAD(&tbl_state(t)->used);
		st->bytes_size = t->size;
	} while ((e = lk_rend(t, &r)) == 1);
	lk_rdone(t, &r);
	return e;
}

int
tbl_repair(struct tbl *t)
{
	return lk_repair(t);
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
struct fold_ent {
	size_t	off;		/* in fold_buf.data: key, then value */
	size_t	klen;
	size_t	vlen;
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
			v = SH_LOAD(tbl_word(t, boff + i * 8));
			if (v == 0)
				return 0;
			if ((e = fold_copy(t, ix_slot_off(v), c, *hip, fb)))
				return e;
		}
		boff = SH_LOAD(tbl_word(t, boff + IX_NEXT_OFF));
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
	memset(&fb, 0, sizeof(fb));
	for (;;) {
		if ((e = fold_read(t, c, &fb, &hi)) != 0)
			break;
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
