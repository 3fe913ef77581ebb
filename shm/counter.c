/*
 * shm/counter.c - update_counter: the value is the decimal text of an
 * int64, changed in place when the result has the length of the old text
 * (the usual case), else written as a new entry by an insert.
 *
 * A counter is typically hot: the same keys, over and over, from the same
 * threads.  So each thread remembers where it last found a counter (a
 * hint: table, key hash, entry offset) and goes there directly instead of
 * walking the index, as long as the hint is provably still right: the
 * table's state.recast generation has not moved since (layout.h: no block
 * can hold an entry header without being a linked entry), and the block
 * still holds an entry header with this key.  A replaced or deleted
 * entry's block holds a free-list link instead, or another entry: a miss,
 * which costs the index walk the hint saves.
 */
#include <string.h>

#include "alloc.h"
#include "counter.h"
#include "crash.h"
#include "entry.h"
#include "hash.h"
#include "lock.h"

int
tbl_counter_parse(const void *val, size_t vlen, int64_t *v)
{
	const unsigned char	*p = val;
	uint64_t		 u = 0, lim;
	size_t			 i = 0;
	int			 neg = 0;

	if (vlen > 0 && p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (vlen == i || vlen - i > 19)
		return PROTETS_EINVAL;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < vlen; i++) {
		if (p[i] < '0' || p[i] > '9')
			return PROTETS_EINVAL;
		u = u * 10 + (uint64_t)(p[i] - '0');
	}
	/* 19 digits fit in a u64 (< 10^19 < 2^64): only the sign's limit. */
	if (u > lim)
		return PROTETS_EINVAL;
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

/*
 * As snprintf "%lld", by hand, into the end of tmp (CT_TEXT_MAX bytes, no
 * NUL); returns where the text starts.
 */
#define CT_TEXT_MAX	20

static char *
ct_format(int64_t v, char *tmp)
{
	static const char	pairs[] =
	    "00010203040506070809101112131415161718192021222324252627282930"
	    "31323334353637383940414243444546474849505152535455565758596061"
	    "62636465666768697071727374757677787980818283848586878889909192"
	    "93949596979899";
	char		*p = tmp + CT_TEXT_MAX;
	uint64_t	 u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	/* Two digits a division. */
	for (; u >= 100; u /= 100) {
		p -= 2;
		memcpy(p, pairs + 2 * (u % 100), 2);
	}
	if (u >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * u, 2);
	} else
		*--p = (char)('0' + u);
	if (v < 0)
		*--p = '-';
	return p;
}

size_t
tbl_counter_format(int64_t v, char *buf, size_t bufsz)
{
	char	tmp[CT_TEXT_MAX], *p = ct_format(v, tmp);
	size_t	len = (size_t)(tmp + CT_TEXT_MAX - p), n;

	if (bufsz > 0) {
		n = len < bufsz ? len : bufsz - 1;
		memcpy(buf, p, n);
		buf[n] = '\0';
	}
	return len;
}

/* cur + incr with ETS threshold semantics; ERANGE on overflow. */
static int
ct_add(int64_t cur, int64_t incr, const protets_counter_opts *o,
    int64_t *res)
{
	int64_t	r;
	int	over;

	over = __builtin_add_overflow(cur, incr, &r);
	if (o != NULL && o->has_threshold) {
		if (incr >= 0 ? (over || r > o->threshold) :
		    (over || r < o->threshold))
			r = o->setvalue;
	} else if (over)
		return PROTETS_ERANGE;
	*res = r;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Hints: where this thread last found a counter. */

#define CT_SETS		1024	/* per thread, two hints a set (LRU) */

struct ct_hint {
	uint64_t	id;	/* the mapping and shard: ct_id; 0: empty */
	uint64_t	h;	/* the key's hash */
	uint64_t	eoff;	/* its entry */
	uint64_t	recast;	/* state.recast when it was found there */
};

static __thread struct ct_hint ct_hints[CT_SETS][2];

/* tbl_open numbers its handles (gen); views of shards share it. */
static inline uint64_t
ct_id(const struct tbl *t)
{
	return t->gen * TBL_SHARD_MAX + t->shard + 1;
}

/*
 * en_read for a counter of a key of klen bytes, shorter: only what the
 * in-place update relies on (its words are in the heap, its key as long).
 */
static inline int
ct_entry(const struct tbl *t, uint64_t off, size_t klen, struct en_hdr *eh)
{
	uint64_t	w;

	if (!tbl_inheap(t, off, TBL_ENTRY_HDR, 8))
		return 0;
	w = SH_LOAD(tbl_word(t, off));
	eh->vlen = (uint32_t)w;
	eh->klen = (uint32_t)(w >> 32) & 0xffff;
	eh->cls = (unsigned)(w >> 48) & 0xff;
	return (w >> 56) == TBL_ENTRY_MARK && eh->klen == klen &&
	    eh->vlen <= CT_TEXT_MAX && tbl_inheap(t, off,
	    (en_size(klen, eh->vlen) + 7) & ~7ULL, 8);
}

/* Is hint c right about key (hash h) in t now?  Under t's lock. */
static inline int
ct_hint_ok(const struct tbl *t, const struct ct_hint *c, uint64_t h,
    uint64_t recast, const void *key, size_t klen, struct en_hdr *eh)
{
	return c->h == h && c->id == ct_id(t) && c->recast == recast &&
	    ct_entry(t, c->eoff, klen, eh) && en_keyeq(t, c->eoff, eh, key,
	    klen);
}

/*
 * The entry of key (hash h) in t, under the lock: through this thread's
 * hints when one is still right, else by the index (and the hint is kept
 * first in its set).  Returns 0 with *eoffp and *eh set,
 * PROTETS_NOTFOUND, PROTETS_ECORRUPT.
 */
static int
ct_find(struct tbl *t, uint64_t h, const void *key, size_t klen,
    uint64_t *eoffp, struct en_hdr *eh)
{
	struct ct_hint	*set = ct_hints[(h ^ h >> 32) % CT_SETS], tmp;
	uint64_t	 recast = SH_LOAD(&tbl_state(t)->recast);
	struct ix_pos	 pos;
	int		 e;

	if (ct_hint_ok(t, &set[0], h, recast, key, klen, eh)) {
		*eoffp = set[0].eoff;
		return 0;
	}
	if (ct_hint_ok(t, &set[1], h, recast, key, klen, eh)) {
		tmp = set[1];
		set[1] = set[0];
		set[0] = tmp;
		*eoffp = set[0].eoff;
		return 0;
	}
	if ((e = ix_find(t, NULL, h, key, klen, &pos)) != 0)
		return e;
	set[1] = set[0];
	set[0].id = ct_id(t);
	set[0].h = h;
	set[0].eoff = pos.eoff;
	set[0].recast = recast;
	*eoffp = pos.eoff;
	*eh = pos.eh;
	return 0;
}

/* ---------------------------------------------------------------- */

/*
 * The value of the entry at off as a counter, in place: the (at most 4)
 * words the text lies in are loaded and parsed, and the result written
 * back: the one word it changes with one unlogged store, or, when it
 * changes more, by en_setval through the undo log; *textlen is then 0.
 * When the result's text is longer or shorter than the old one, nothing
 * is written: text holds it, *textlen its length, for the caller to
 * insert.
 */
#define CT_WORDS	4	/* 7 bytes of skip + CT_TEXT_MAX, rounded up */

static int
ct_inplace(struct tbl *t, uint64_t off, const struct en_hdr *eh,
    int64_t incr, const protets_counter_opts *o, int64_t *res,
    char *text, size_t *textlen)
{
	uint64_t	 start = off + TBL_ENTRY_HDR + eh->klen;
	uint64_t	 w0 = start & ~7ULL, ws[CT_WORDS], old[CT_WORDS];
	size_t		 skip = (size_t)(start - w0), nw, i, k, changed;
	unsigned char	*v = (unsigned char *)ws + skip;
	char		 tmp[CT_TEXT_MAX], *p;
	int64_t		 cur;
	int		 e;

	if (eh->vlen > CT_TEXT_MAX)
		return PROTETS_EINVAL;
	nw = (skip + eh->vlen + 7) / 8;
	for (i = 0; i < nw; i++)
		old[i] = ws[i] = SH_LOAD(tbl_word(t, w0 + 8 * i));
	if ((e = tbl_counter_parse(v, eh->vlen, &cur)) != 0 ||
	    (e = ct_add(cur, incr, o, res)) != 0)
		return e;
	p = ct_format(*res, tmp);
	*textlen = (size_t)(tmp + CT_TEXT_MAX - p);
	TBL_CRASHPOINT();
	if (*textlen != eh->vlen) {
		memcpy(text, p, *textlen);
		return 0;
	}
	for (i = 0; i < *textlen; i++)
		v[i] = (unsigned char)p[i];
	for (i = changed = k = 0; i < nw; i++)
		if (ws[i] != old[i]) {
			changed++;
			k = i;
		}
	/*
	 * Only the text's last word (the usual +1): its aligned store is
	 * atomic and nothing can fail after it, so it is the operation's
	 * commit point and needs no record, and the sequence stays even.  A
	 * crash leaves the old value or the new one; a reader, either: every
	 * other word of a value changes only through the log, which moves
	 * the sequence, so a reader that validates saw them unchanged and
	 * the last word once.  (Were an unlogged store allowed on any word,
	 * two such updates, one on each of two words, could be seen half
	 * each by a reader whose loads the CPU reorders.)  Else: en_setval,
	 * logged.
	 */
	if (changed == 1 && k == nw - 1) {
		SH_STORE(tbl_word(t, w0 + 8 * k), ws[k]);
		TBL_CRASHPOINT();
	} else if (changed > 0)
		en_setval(t, off, eh, p);
	*textlen = 0;
	return 0;
}

int
tbl_counter_locked(struct tbl *t, uint64_t h, const void *key, size_t klen,
    int64_t incr, const protets_counter_opts *o, int64_t *res)
{
	struct en_hdr	eh;
	uint64_t	eoff;
	char		text[CT_TEXT_MAX], tmp[CT_TEXT_MAX], *p;
	size_t		len;
	int		e;

	e = ct_find(t, h, key, klen, &eoff, &eh);
	if (e == 0) {
		if ((e = ct_inplace(t, eoff, &eh, incr, o, res, text,
		    &len)) != 0 || len == 0)
			return e;
		return tbl_insert_locked(t, h, key, klen, text, len, 1, NULL);
	}
	if (e != PROTETS_NOTFOUND)
		return e;
	if (o == NULL || !o->has_default)
		return PROTETS_NOTFOUND;
	if ((e = ct_add(o->dflt, incr, o, res)) != 0)
		return e;
	p = ct_format(*res, tmp);
	TBL_CRASHPOINT();
	return tbl_insert_locked(t, h, key, klen, p,
	    (size_t)(tmp + CT_TEXT_MAX - p), 1, NULL);
}
