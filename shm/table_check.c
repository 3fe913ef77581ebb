/*
 * shm/table_check.c - tbl_check: verify a whole segment.
 *
 * Checks the header and signature, the state, the undo log and sequence,
 * every chain of the index (packed, every entry valid, in the bucket its
 * hash selects, with the right tag, no key twice in a set and no object
 * twice in a bag), every free list, and
 * the ordered index of an ordered_set, and
 * that entries, overflow buckets, nodes and free blocks tile the heap exactly
 * (no overlap, no leak) while the chunks tile the area above the ceiling;
 * and that the counters agree with what was found.
 *
 * A writable mapping checks under the writer lock, so the table holds
 * still (readers carry on; writers wait).  A read-only mapping checks
 * optimistically under the seqlock and starts over if a writer interferes:
 * only what a validated attempt found is reported, and a check that no
 * attempt of could be validated says so (EAGAIN), never "damage".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "crash.h"
#include "entry.h"
#include "fastpath.h"
#include "index.h"
#include "lock.h"
#include "ordered.h"
#include "tblint.h"

struct ck_iv {
	uint64_t	off;
	uint64_t	len;
};

struct ck {
	struct tbl		*t;
	const struct lk_rd	*r;
	char			*msg;
	size_t			 msgsz;
	struct ck_iv		*iv;		/* heap blocks found */
	size_t			 niv, capiv;
	uint64_t		 entries;
	uint64_t		 overflow;
	uint64_t		 chunk_bytes;
	uint64_t		 level, split;
};

static int ck_fail(struct ck *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
ck_fail(struct ck *k, const char *fmt, ...)
{
	va_list	ap;

	if (k->msg != NULL && k->msgsz > 0) {
		va_start(ap, fmt);
		vsnprintf(k->msg, k->msgsz, fmt, ap);
		va_end(ap);
	}
	return PROTETS_ECORRUPT;
}

static int
ck_add(struct ck *k, uint64_t off, uint64_t len)
{
	struct ck_iv	*p;
	size_t		 cap;

	if (k->niv == k->capiv) {
		cap = k->capiv ? k->capiv * 2 : 1024;
		if ((p = reallocarray(k->iv, cap, sizeof(*p))) == NULL)
			return ENOMEM;
		k->iv = p;
		k->capiv = cap;
	}
	k->iv[k->niv].off = off;
	k->iv[k->niv].len = len;
	k->niv++;
	return 0;
}

static int
ck_ivcmp(const void *a, const void *b)
{
	const struct ck_iv	*x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static int
ck_header(struct ck *k)
{
	struct tbl_hdr	 hc, *h = &hc;
	char		 sig[sizeof(h->sigstr)];

	tbl_hdr_copy(h, tbl_hdr(k->t));
	if (h->magic != TBL_MAGIC)
		return ck_fail(k, "header: bad magic");
	if (h->sig != tbl_signature(sig, sizeof(sig)) ||
	    strncmp(h->sigstr, sig, sizeof(sig)) != 0)
		return ck_fail(k, "header: format signature mismatch");
	if (h->nshards != k->t->nshards || h->shard != k->t->shard ||
	    h->shard_size != h->size)
		return ck_fail(k, "header: shard %u of %u, %llu bytes", h->shard,
		    h->nshards, (unsigned long long)h->shard_size);
	if (h->size != k->t->size)
		return ck_fail(k, "header: size %llu, mapped %zu",
		    (unsigned long long)h->size, k->t->size);
	if (!tbl_type_ok(h->type) || h->type != k->t->type ||
	    h->access < PROTETS_PUBLIC ||
	    h->access > PROTETS_PRIVATE)
		return ck_fail(k, "header: bad type %u or access %u",
		    h->type, h->access);
	if (memchr(h->name, '\0', sizeof(h->name)) == NULL || h->name[0] == 0)
		return ck_fail(k, "header: bad name");
	return 0;
}

static int
ck_locks(struct ck *k)
{
	if (lk_undo_count(k->t) != 0)
		return ck_fail(k, "lock: undo log holds %llu records",
		    (unsigned long long)lk_undo_count(k->t));
	if (lk_seq(k->t) & 1)
		return ck_fail(k, "lock: sequence odd with no writer");
	if (lk_xpending(k->t) != 0)
		return ck_fail(k, "lock: a batch over shards left behind");
	/* A dead holder's on or busy is no damage; a slot beyond 16 is. */
	if ((SH_RLOAD(&fp_area(k->t)->used) & ~TBL_FP_ALL) != 0)
		return ck_fail(k, "lock: lock-free slots in use %#llx",
		    (unsigned long long)SH_RLOAD(&fp_area(k->t)->used));
	return 0;
}

/* The chunks must tile [ceil, end) exactly. */
static int
ck_chunks(struct ck *k)
{
	const struct tbl_state	*st = tbl_state(k->t);
	struct ck_iv		 iv[TBL_IX_NCHUNK];
	uint64_t		 c, end = k->t->size & ~(uint64_t)1023, at;
	unsigned		 j, n = 0;

	at = SH_RLOAD(&st->ceil);
	for (j = 0; j < TBL_IX_NCHUNK; j++) {
		c = SH_RLOAD(&st->ix_chunk[j]);
		if (c == 0) {
			if (j <= k->level || (j == k->level + 1 && k->split))
				return ck_fail(k, "index: chunk %u missing", j);
			continue;
		}
		if (j > k->level + 1)
			return ck_fail(k, "index: chunk %u beyond level", j);
		iv[n].off = c;
		iv[n].len = ix_chunk_buckets(j) * sizeof(struct tbl_bucket);
		if (!tbl_inheap(k->t, c, iv[n].len, TBL_LINE) ||
		    c < at || c + iv[n].len > end)
			return ck_fail(k, "index: chunk %u at %llu out of place",
			    j, (unsigned long long)c);
		k->chunk_bytes += iv[n].len;
		n++;
	}
	qsort(iv, n, sizeof(iv[0]), ck_ivcmp);
	for (j = 0; j < n; j++) {
		if (iv[j].off != at)
			return ck_fail(k, "index: chunks do not tile the top"
			    " (%llu expected, %llu found)",
			    (unsigned long long)at,
			    (unsigned long long)iv[j].off);
		at += iv[j].len;
	}
	if (at != end)
		return ck_fail(k, "index: chunks end at %llu, not %llu",
		    (unsigned long long)at, (unsigned long long)end);
	return 0;
}

static int
ck_state(struct ck *k)
{
	const struct tbl_state	*st = tbl_state(k->t);
	uint64_t		 top, ceil;

	top = SH_RLOAD(&st->top);
	ceil = SH_RLOAD(&st->ceil);
	if (top < TBL_HEAP_OFF || (top & 7) || ceil < top ||
	    (ceil & 1023) || ceil > k->t->size)
		return ck_fail(k, "state: bad top %llu or ceiling %llu",
		    (unsigned long long)top, (unsigned long long)ceil);
	if (ix_geom(k->t, &k->level, &k->split) != 0)
		return ck_fail(k, "state: bad index level %llu split %llu",
		    (unsigned long long)SH_RLOAD(&st->ix_level),
		    (unsigned long long)SH_RLOAD(&st->ix_split));
	return ck_chunks(k);
}

/*
 * Is another entry of this chain (before index n) the same key (set), or
 * the same key and value (bag)?  A duplicate_bag allows both.
 */
static int
ck_dup(struct ck *k, const uint64_t *hash, const uint64_t *eoff, size_t n)
{
	unsigned char	key[PROTETS_KEY_MAX], *val;
	struct en_hdr	a, b;
	size_t		i;
	int		dup;

	if (k->t->type == PROTETS_DUPLICATE_BAG ||
	    en_read(k->t, eoff[n], &a) != 0)
		return 0;
	if (k->t->type == PROTETS_BAG) {
		if ((val = malloc(a.vlen + 1)) == NULL)
			return 0;
		en_getkey(k->t, eoff[n], &a, key);
		en_getval(k->t, eoff[n], &a, val, a.vlen);
		for (dup = 0, i = 0; i < n && !dup; i++) {
			if (hash[i] != hash[n] ||
			    en_read(k->t, eoff[i], &b) != 0)
				continue;
			dup = en_keyeq(k->t, eoff[i], &b, key, a.klen) &&
			    en_valeq(k->t, eoff[i], &b, val, a.vlen);
		}
		free(val);
		return dup;
	}
	for (i = 0; i < n; i++) {
		if (hash[i] != hash[n] || en_read(k->t, eoff[i], &b) != 0)
			continue;
		en_getkey(k->t, eoff[n], &a, key);
		if (en_keyeq(k->t, eoff[i], &b, key, a.klen))
			return 1;
	}
	return 0;
}

/* One entry of bucket b's chain. */
static int
ck_entry(struct ck *k, uint64_t b, uint64_t v, uint64_t *hash)
{
	struct en_hdr	eh;
	uint64_t	eoff = ix_slot_off(v);

	if (en_read(k->t, eoff, &eh) != 0 ||
	    eoff + al_csize(eh.cls) > SH_RLOAD(&tbl_state(k->t)->top))
		return ck_fail(k, "bucket %llu: bad entry at %llu",
		    (unsigned long long)b, (unsigned long long)eoff);
	*hash = en_keyhash(k->t, eoff, &eh);
	if (ix_bucket_of(*hash, k->level, k->split) != b)
		return ck_fail(k, "bucket %llu: entry at %llu belongs elsewhere",
		    (unsigned long long)b, (unsigned long long)eoff);
	if (v >> TBL_TAG_SHIFT != ix_tag(*hash))
		return ck_fail(k, "bucket %llu: bad tag for entry at %llu",
		    (unsigned long long)b, (unsigned long long)eoff);
	k->entries++;
	return ck_add(k, eoff, al_csize(eh.cls));
}

/* Walk one chain; hash/eoff: scratch arrays of the chain's entries. */
static int
ck_chain(struct ck *k, uint64_t b, uint64_t **hash, uint64_t **eoff,
    size_t *cap)
{
	uint64_t	boff, v, next, *p;
	size_t		n = 0, nb;
	unsigned	i;
	int		e, ended = 0;

	if (ix_boff(k->t, b, &boff) != 0)
		return ck_fail(k, "bucket %llu: no chunk",
		    (unsigned long long)b);
	for (nb = 0;; nb++) {
		if (lk_rstale(k->t, k->r))
			return PROTETS_ECORRUPT;
		for (i = 0; i < TBL_BUCKET_SLOTS; i++) {
			v = SH_RLOAD(tbl_word(k->t, boff + i * 8));
			if (v == 0) {
				ended = 1;
				continue;
			}
			if (ended)
				return ck_fail(k, "bucket %llu: hole in chain",
				    (unsigned long long)b);
			if (n == *cap) {
				*cap = *cap ? *cap * 2 : 64;
				if ((p = reallocarray(*hash, *cap, 8)) == NULL)
					return ENOMEM;
				*hash = p;
				if ((p = reallocarray(*eoff, *cap, 8)) == NULL)
					return ENOMEM;
				*eoff = p;
			}
			(*eoff)[n] = ix_slot_off(v);
			if ((e = ck_entry(k, b, v, &(*hash)[n])) != 0)
				return e;
			if (ck_dup(k, *hash, *eoff, n))
				return ck_fail(k, "bucket %llu: %s twice",
				    (unsigned long long)b,
				    k->t->type == PROTETS_BAG ? "object" : "key");
			n++;
		}
		next = SH_RLOAD(tbl_word(k->t, boff + IX_NEXT_OFF));
		if (next == 0)
			return 0;
		if (ended)
			return ck_fail(k, "bucket %llu: overflow after a "
			    "bucket with room", (unsigned long long)b);
		if (!tbl_inheap(k->t, next, TBL_LINE, 8) ||
		    nb > k->t->size / TBL_LINE)
			return ck_fail(k, "bucket %llu: bad overflow link %llu",
			    (unsigned long long)b, (unsigned long long)next);
		k->overflow++;
		if ((e = ck_add(k, next, al_csize(IX_OVF_CLASS))) != 0)
			return e;
		boff = next;
	}
}

static int
ck_index(struct ck *k)
{
	uint64_t	b, nb, *hash = NULL, *eoff = NULL;
	size_t		cap = 0;
	int		e = 0;

	nb = ((uint64_t)TBL_IX_NB0 << k->level) + k->split;
	for (b = 0; b < nb && e == 0; b++)
		e = ck_chain(k, b, &hash, &eoff, &cap);
	free(hash);
	free(eoff);
	return e;
}

/* A node of level 0 of the ordered index, as found. */
struct ck_onode {
	uint64_t	off;
	unsigned	hgt;
};

/* One node of level 0: sane, after prev (plen bytes), in the hash index. */
static int
ck_onode(struct ck *k, uint64_t off, unsigned char *prev, size_t *plen,
    unsigned *hgtp)
{
	unsigned char	key[PROTETS_KEY_MAX];
	struct en_hdr	eh;
	struct ix_pos	pos;
	uint64_t	eoff;
	uint32_t	klen;
	unsigned	cls;
	int		c;

	if (or_node(k->t, off, hgtp, &klen, &cls) != 0 ||
	    off + al_csize(cls) > SH_RLOAD(&tbl_state(k->t)->top))
		return ck_fail(k, "ordered: bad node at %llu",
		    (unsigned long long)off);
	if (or_entry(k->t, off, &eoff, &eh) != 0)
		return ck_fail(k, "ordered: node %llu: bad entry",
		    (unsigned long long)off);
	en_getkey(k->t, eoff, &eh, key);
	if (or_cmp(k->t, off, klen, key, klen, &c) != 0 || c != 0)
		return ck_fail(k, "ordered: node %llu: prefix is not its key's",
		    (unsigned long long)off);
	if (*plen > 0 && or_keycmp(prev, *plen, key, klen) >= 0)
		return ck_fail(k, "ordered: node %llu: key out of order",
		    (unsigned long long)off);
	if (ix_find(k->t, NULL, en_hash(key, klen), key, klen, &pos) != 0 ||
	    pos.eoff != eoff)
		return ck_fail(k, "ordered: node %llu: entry not in the hash "
		    "index", (unsigned long long)off);
	memcpy(prev, key, klen);
	*plen = klen;
	return ck_add(k, off, al_csize(cls));
}

/* Level 0: every entry once, keys strictly increasing; *np nodes. */
static int
ck_olevel0(struct ck *k, struct ck_onode **nodes, size_t *np)
{
	unsigned char	prev[PROTETS_KEY_MAX];
	struct ck_onode	*p;
	uint64_t	 off = SH_RLOAD(&tbl_state(k->t)->or_head[0]);
	size_t		 n, cap = 0, plen = 0;
	int		 e;

	for (n = 0; off != 0; n++) {
		if (n >= k->entries)
			return ck_fail(k, "ordered: more nodes than the %llu "
			    "entries", (unsigned long long)k->entries);
		if ((n & 63) == 63 && lk_rstale(k->t, k->r))
			return PROTETS_ECORRUPT;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((p = reallocarray(*nodes, cap, sizeof(*p))) == NULL)
				return ENOMEM;
			*nodes = p;
		}
		(*nodes)[n].off = off;
		if ((e = ck_onode(k, off, prev, &plen, &(*nodes)[n].hgt)) != 0)
			return e;
		off = SH_RLOAD(tbl_word(k->t, off + OR_LINKS));
	}
	*np = n;
	if (n != k->entries)
		return ck_fail(k, "ordered: %zu nodes, %llu entries", n,
		    (unsigned long long)k->entries);
	return 0;
}

/* Level lv: exactly the nodes of level 0 taller than lv, in order. */
static int
ck_olevel(struct ck *k, unsigned lv, const struct ck_onode *nodes, size_t n)
{
	uint64_t	off = SH_RLOAD(&tbl_state(k->t)->or_head[lv]);
	size_t		j = 0;

	for (; off != 0; j++) {
		while (j < n && nodes[j].hgt <= lv)
			j++;
		if (j == n || nodes[j].off != off)
			return ck_fail(k, "ordered: level %u: node %llu out of "
			    "place", lv, (unsigned long long)off);
		off = SH_RLOAD(tbl_word(k->t, off + OR_LINKS + 8 * lv));
	}
	while (j < n && nodes[j].hgt <= lv)
		j++;
	if (j != n)
		return ck_fail(k, "ordered: level %u misses node %llu", lv,
		    (unsigned long long)nodes[j].off);
	return 0;
}

static int
ck_ordered(struct ck *k)
{
	struct ck_onode	*nodes = NULL;
	size_t		 n = 0;
	unsigned	 lv;
	int		 e;

	if (k->t->type != PROTETS_ORDERED_SET) {
		for (lv = 0; lv < TBL_OR_MAXH; lv++)
			if (SH_RLOAD(&tbl_state(k->t)->or_head[lv]) != 0)
				return ck_fail(k, "ordered: index in a %s",
				    "hash table");
		return 0;
	}
	e = ck_olevel0(k, &nodes, &n);
	for (lv = 1; e == 0 && lv < TBL_OR_MAXH; lv++)
		e = ck_olevel(k, lv, nodes, n);
	free(nodes);
	return e;
}

static int
ck_freelists(struct ck *k)
{
	const struct tbl_state	*st = tbl_state(k->t);
	uint64_t		 off, n, csz, top = SH_RLOAD(&st->top);
	unsigned		 c;
	int			 e;

	for (c = 0; c < TBL_NCLASS_PAD; c++) {
		off = SH_RLOAD(&st->al_free[c]);
		if (c >= TBL_NCLASS && off != 0)
			return ck_fail(k, "free list %u: beyond classes", c);
		if (c >= TBL_NCLASS)
			continue;
		csz = al_csize(c);
		for (n = 0; off != 0; n++) {
			if (!tbl_inheap(k->t, off, csz, 8) || off + csz > top ||
			    n > (top - TBL_HEAP_OFF) / csz)
				return ck_fail(k, "free list %u: bad block %llu",
				    c, (unsigned long long)off);
			if ((e = ck_add(k, off, csz)) != 0)
				return e;
			if (lk_rstale(k->t, k->r))
				return PROTETS_ECORRUPT;
			off = SH_RLOAD(tbl_word(k->t, off));
		}
	}
	return 0;
}

/* Entries, overflow buckets and free blocks must tile the heap. */
static int
ck_heap(struct ck *k)
{
	const struct tbl_state	*st = tbl_state(k->t);
	uint64_t		 at = TBL_HEAP_OFF, used = 0;
	size_t			 i, nalloc = k->niv;
	int			 e;

	if ((e = ck_freelists(k)) != 0)
		return e;
	for (i = 0; i < nalloc; i++)
		used += k->iv[i].len;
	if (k->niv > 0)
		qsort(k->iv, k->niv, sizeof(k->iv[0]), ck_ivcmp);
	for (i = 0; i < k->niv; i++) {
		if (k->iv[i].off != at)
			return ck_fail(k, "heap: block at %llu, expected %llu "
			    "(%s)", (unsigned long long)k->iv[i].off,
			    (unsigned long long)at,
			    k->iv[i].off < at ? "overlap" : "leak");
		at += k->iv[i].len;
	}
	if (at != SH_RLOAD(&st->top))
		return ck_fail(k, "heap: blocks end at %llu, top is %llu",
		    (unsigned long long)at,
		    (unsigned long long)SH_RLOAD(&st->top));
	if (used + k->chunk_bytes != SH_RLOAD(&st->used))
		return ck_fail(k, "state: %llu bytes used, %llu found",
		    (unsigned long long)SH_RLOAD(&st->used),
		    (unsigned long long)(used + k->chunk_bytes));
	if (k->entries != SH_RLOAD(&st->entries))
		return ck_fail(k, "state: %llu entries, %llu found",
		    (unsigned long long)SH_RLOAD(&st->entries),
		    (unsigned long long)k->entries);
	if (k->overflow != SH_RLOAD(&st->overflow))
		return ck_fail(k, "state: %llu overflow buckets, %llu found",
		    (unsigned long long)SH_RLOAD(&st->overflow),
		    (unsigned long long)k->overflow);
	return 0;
}

/*
 * No attempt could be validated (e, from the lock): say so, and never
 * leave what a discarded attempt found in the message as if it were
 * damage.  (It did: a check starved by writers that kept committing
 * returned EAGAIN with "lock: sequence odd with no writer", read while a
 * batch was under way, from an attempt the sequence had already voided.)
 */
static int
ck_unread(struct ck *k, int e)
{
	if (e == PROTETS_ECORRUPT)
		ck_fail(k, "lock: recovery refused the undo log");
	else if (e == PROTETS_EAGAIN)
		ck_fail(k, "no consistent view: writers kept changing the "
		    "table, or one is stopped mid-change with a log that "
		    "cannot be read through; nothing was found damaged");
	else if (k->msg != NULL && k->msgsz > 0)
		k->msg[0] = '\0';
	return e;
}

static int
ck_all(struct ck *k)
{
	int	e;

	/* What an attempt that a writer then invalidates found is nothing. */
	if (k->msg != NULL && k->msgsz > 0)
		k->msg[0] = '\0';
	CRASH_READ_POINT();
	k->niv = 0;
	k->entries = k->overflow = k->chunk_bytes = 0;
	if ((e = ck_header(k)) != 0 || (e = ck_locks(k)) != 0 ||
	    (e = ck_state(k)) != 0 || (e = ck_index(k)) != 0 ||
	    (e = ck_ordered(k)) != 0 || (e = ck_heap(k)) != 0)
		return e;
	return 0;
}

/* A sharded table: every shard, the first failure named by its shard. */
static int
tbl_check_route(struct tbl *t, char *msg, size_t msgsz)
{
	char		m[256];
	struct tbl	v;
	unsigned	k;
	int		e;

	for (k = 0; k < t->nshards; k++) {
		tbl_view(t, k, &v);
		if ((e = tbl_check(&v, m, sizeof(m))) != 0) {
			if (msg != NULL && msgsz > 0)
				snprintf(msg, msgsz, "shard %u: %s", k, m);
			return e;
		}
	}
	if (msg != NULL && msgsz > 0)
		msg[0] = '\0';
	return 0;
}

int
tbl_check(struct tbl *t, char *msg, size_t msgsz)
{
	struct ck	k;
	struct lk_rd	r;
	int		e, rc;

	if (t->route)
		return tbl_check_route(t, msg, msgsz);
	memset(&k, 0, sizeof(k));
	k.t = t;
	k.r = &r;
	k.msg = msg;
	k.msgsz = msgsz;
	if (msg != NULL && msgsz > 0)
		msg[0] = '\0';
	if ((e = lk_rbegin_locked(t, &r)) != 0)
		return ck_unread(&k, e);
	do
		rc = ck_all(&k);
	while ((e = lk_rend(t, &r)) == 1);
	lk_rdone(t, &r);
	free(k.iv);
	if (e != 0)
		return ck_unread(&k, e);
	if (rc == 0 && msg != NULL && msgsz > 0)
		msg[0] = '\0';
	return rc;
}
