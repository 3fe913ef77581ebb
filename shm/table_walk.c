/*
 * shm/table_walk.c - the walks over a table: foldl, first/next/last/prev, and
 * select, select_count and select_delete (by key prefix, key range or
 * predicate).  Readers copy out under seqlock validation and call back
 * with no lock held; select_delete writes, through the undo log.
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

int
tbl_fold_reserve(struct fold_buf *fb, size_t need)
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
	if ((e = tbl_fold_reserve(fb, (size_t)eh.klen + eh.vlen)) != 0)
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
		if (ix_read_too_long(t, n) || lk_rstale(t, r))
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

static int fold_ordered(struct tbl *, const protets_match *, protets_fold_fn,
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
		return fold_ordered(t, NULL, fn, arg);
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
/* first/next: the fold's order, made total by comparing keys. */

/* Is entry e before (rev, key) in the walk's order? */
static int
tbl_before(const struct fold_buf *fb, const struct fold_ent *fe,
    uint64_t rev, const void *key, size_t klen)
{
	if (fe->rev != rev)
		return fe->rev < rev;
	return or_keycmp(fb->data + fe->off, fe->klen, key, klen) < 0;
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
			    or_keycmp(fb.data + fe->off, fe->klen, key,
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
seek_placed(const void *k, size_t klen, const void *key, size_t keylen,
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
seek_ordered(struct tbl *t, const void *key, size_t klen, enum or_mode mode,
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
			rc = seek_placed(kb, n, key, klen, mode);
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

/*
 * first (key NULL, OR_GE), next (OR_GT), last (key NULL, OR_LT) and prev
 * (OR_LT): an ordered_set seeks in that direction; the hash types' order
 * has none (as ETS: last is first and prev is next).
 */
static int
tbl_step(struct tbl *t, const void *key, size_t klen, enum or_mode mode,
    void *kbuf, size_t kbufsz, size_t *outlen)
{
	if (t->type == PROTETS_ORDERED_SET)
		return seek_ordered(t, key, klen, mode, kbuf, kbufsz, outlen);
	if (t->route)
		return tbl_seek_route(t, key, klen, kbuf, kbufsz, outlen);
	return tbl_seek(t, key, klen, kbuf, kbufsz, outlen);
}

int
tbl_first(struct tbl *t, void *kbuf, size_t kbufsz, size_t *klen)
{
	return tbl_step(t, NULL, 0, OR_GE, kbuf, kbufsz, klen);
}

int
tbl_next(struct tbl *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *nklen)
{
	int	e;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	return tbl_step(t, key, klen, OR_GT, kbuf, kbufsz, nklen);
}

int
tbl_last(struct tbl *t, void *kbuf, size_t kbufsz, size_t *klen)
{
	return tbl_step(t, NULL, 0, OR_LT, kbuf, kbufsz, klen);
}

int
tbl_prev(struct tbl *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *pklen)
{
	int	e;

	if ((e = tbl_key_ok(key, klen)) != 0)
		return e;
	return tbl_step(t, key, klen, OR_LT, kbuf, kbufsz, pklen);
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
struct key_range {
	const void	*lo, *hi, *pfx;
	size_t		 lolen, hilen, plen;
	int		 lostrict;
};

static void
range_of(const protets_match *m, struct key_range *g)
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
range_past(const struct key_range *g, const void *k, size_t klen)
{
	if (g->hi != NULL && or_keycmp(k, klen, g->hi, g->hilen) > 0)
		return 1;
	return g->plen > 0 && (klen < g->plen || memcmp(k, g->pfx, g->plen));
}

/* Copy out the next batch of g; *endp: the range is exhausted. */
static int
fold_ordered_batch(const struct tbl *t, const struct lk_rd *r,
    const struct key_range *g, struct fold_buf *fb, int *endp)
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
		    (e = tbl_fold_reserve(fb, (size_t)eh.klen + eh.vlen)) != 0)
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
		    seek_placed(fb->data + fe->off, eh.klen, g->lo, g->lolen,
		    g->lostrict ? OR_GT : OR_GE) != 0)
			return PROTETS_ECORRUPT;
		if (range_past(g, fb->data + fe->off, eh.klen))
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
fold_ordered(struct tbl *t, const protets_match *m, protets_fold_fn fn,
    void *arg)
{
	unsigned char	 cur[PROTETS_KEY_MAX];
	struct key_range g;
	struct fold_buf	 fb;
	struct fold_ent	*fe;
	struct lk_rd	 r;
	size_t		 i;
	int		 e, rc, end = 0;

	range_of(m, &g);
	memset(&fb, 0, sizeof(fb));
	while (!end) {
		if ((e = lk_rbegin(t, &r)) != 0)
			break;
		do
			rc = fold_ordered_batch(t, &r, &g, &fb, &end);
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
		return fold_ordered(t, m, fn, s);
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
	if ((e = tbl_fold_reserve(&s->fb, klen + vlen)) != 0)
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
