/*
 * shm/table_counter.c - update_counter: the value is the decimal text of an
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
#include <pthread.h>
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

#define CT_SETS		256	/* per thread */
#define CT_WAYS		8	/* hints a set */

struct ct_way {
	uint64_t	id;	/* tbl_view_id; 0: empty */
	uint64_t	eoff;	/* the entry */
	uint64_t	recast;	/* state.recast when it was found there */
};

/* The keys' hashes on one line, scanned; the rest on three more. */
struct ct_set {
	uint64_t	h[CT_WAYS];
	struct ct_way	w[CT_WAYS];
};

/*
 * A thread's CT_SETS sets (64 KiB) are on the heap, allocated at its
 * first counter update and freed when it exits (ct_key): thread-local
 * storage stays small, as a library loaded into processes of thousands of
 * threads must keep it.  If the allocation fails, the thread makes do
 * with one set (ct_one).
 */
static __thread struct ct_set	*ct_hints;
static __thread struct ct_set	 ct_one __attribute__((aligned(TBL_LINE)));
static __thread unsigned	 ct_tick;	/* picks the way a miss replaces */
static pthread_key_t		 ct_key;
static pthread_once_t		 ct_once = PTHREAD_ONCE_INIT;
static int			 ct_keyed;

static void
ct_free(void *p)
{
	ct_hints = NULL;
	free(p);
}

static void
ct_key_init(void)
{
	ct_keyed = pthread_key_create(&ct_key, ct_free) == 0;
}

/* Unloaded (dlclose): no thread's exit may call ct_free any more. */
__attribute__((destructor)) static void
ct_fini(void)
{
	if (ct_keyed) {
		ct_keyed = 0;	/* a thread still running: one set, ct_one */
		(void)pthread_key_delete(ct_key);
	}
}

static struct ct_set *
ct_hints_alloc(void)
{
	void	*p;

	(void)pthread_once(&ct_once, ct_key_init);
	if (!ct_keyed || posix_memalign(&p, TBL_LINE,
	    CT_SETS * sizeof(struct ct_set)) != 0)
		return NULL;
	memset(p, 0, CT_SETS * sizeof(struct ct_set));
	if (pthread_setspecific(ct_key, p) != 0) {
		free(p);
		return NULL;
	}
	return ct_hints = p;
}

void
tbl_hints_forget(void)
{
	if (ct_hints != NULL)
		memset(ct_hints, 0, CT_SETS * sizeof(struct ct_set));
	memset(&ct_one, 0, sizeof(ct_one));
	or_wf_forget();
}

static inline struct ct_set *
ct_set_of(uint64_t h)
{
	struct ct_set	*c = ct_hints;

	if (__builtin_expect(c == NULL, 0) && (c = ct_hints_alloc()) == NULL)
		return &ct_one;
	return &c[(h ^ h >> 32) % CT_SETS];
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

/*
 * The ways of set c whose hash is h, as a bit mask: compared all at once,
 * without a branch per way (where the match is is random: a loop exiting
 * there would be mispredicted at most updates).
 */
static inline unsigned
ct_ways_of(const struct ct_set *c, uint64_t h)
{
	unsigned	m = 0, i;

	for (i = 0; i < CT_WAYS; i++)
		m |= (unsigned)(c->h[i] == h) << i;
	return m;
}

/*
 * The way of set c that is right about the key in t now, among ways m
 * (ct_ways_of: those with its hash), -1: none.  Under t's lock or a slot
 * of it.
 */
static inline int
ct_hint(const struct tbl *t, const struct ct_set *c, unsigned m,
    uint64_t recast, const void *key, size_t klen, struct en_hdr *eh)
{
	uint64_t	id = tbl_view_id(t);
	int		i;

	for (; m != 0; m &= m - 1) {
		i = __builtin_ctz(m);
		if (c->w[i].id == id && c->w[i].recast == recast &&
		    ct_entry(t, c->w[i].eoff, klen, eh) &&
		    en_keyeq(t, c->w[i].eoff, eh, key, klen))
			return i;
	}
	return -1;
}

/*
 * Remember key (hash h) of t at eoff: in its old way, else one with the
 * same key of another mapping (of a table closed long ago, perhaps:
 * nothing else ever evicts those, and each such costs every lookup of
 * the key a look), else an empty one, else one of another mapping, else
 * any.
 */
static void
ct_remember(const struct tbl *t, struct ct_set *c, uint64_t h,
    uint64_t eoff, uint64_t recast)
{
	uint64_t	id = tbl_view_id(t);
	int		i, same = -1, empty = -1, other = -1, mine;

	for (i = 0; i < CT_WAYS; i++) {
		mine = tbl_view_of(t, c->w[i].id);
		if (c->h[i] == h && c->w[i].id == id)
			break;
		if (same < 0 && c->h[i] == h && !mine)
			same = i;
		if (empty < 0 && c->w[i].id == 0)
			empty = i;
		if (other < 0 && !mine)
			other = i;
	}
	if (i == CT_WAYS)
		i = same >= 0 ? same : empty >= 0 ? empty : other >= 0 ?
		    other : (int)(ct_tick++ % CT_WAYS);
	c->h[i] = h;
	c->w[i] = (struct ct_way){ id, eoff, recast };
}

/*
 * The entry of key (hash h) in t, under the lock: through this thread's
 * hints when one is still right, else by the index (and remembered).
 * Returns 0 with *eoffp and *eh set, PROTETS_NOTFOUND, PROTETS_ECORRUPT.
 */
static int
ct_find(struct tbl *t, uint64_t h, const void *key, size_t klen,
    uint64_t *eoffp, struct en_hdr *eh)
{
	struct ct_set	*c = ct_set_of(h);
	uint64_t	 recast = SH_LOAD(&tbl_state(t)->recast);
	struct ix_pos	 pos;
	int		 i, e;

	if ((i = ct_hint(t, c, ct_ways_of(c, h), recast, key, klen,
	    eh)) >= 0) {
		*eoffp = c->w[i].eoff;
		return 0;
	}
	if ((e = ix_find(t, NULL, h, key, klen, &pos)) != 0)
		return e;
	ct_remember(t, c, h, pos.eoff, recast);
	*eoffp = pos.eoff;
	*eh = pos.eh;
	return 0;
}

/* ---------------------------------------------------------------- */

/*
 * The value of the entry at off as a counter, and the result: the (at
 * most 4) words the text lies in are loaded and parsed, and the result's
 * text made.  When it has the old text's length, ws holds the words with
 * it in place, and changed says how many differ from old, k the last
 * that does.
 */
#define CT_WORDS	4	/* 7 bytes of skip + CT_TEXT_MAX, rounded up */

struct ct_calc {
	uint64_t	 w0;			/* the first word's offset */
	uint64_t	 ws[CT_WORDS], old[CT_WORDS];
	size_t		 nw, changed, k;
	size_t		 len;			/* the result's text: p[0..len) */
	char		 tmp[CT_TEXT_MAX], *p;
};

static inline __attribute__((always_inline)) int
ct_calc(const struct tbl *t, uint64_t off, const struct en_hdr *eh,
    int64_t incr, const protets_counter_opts *o, int64_t *res,
    struct ct_calc *c)
{
	uint64_t	 start = off + TBL_ENTRY_HDR + eh->klen;
	size_t		 skip, i, nw, len, changed, k;
	unsigned char	*v;
	int64_t		 cur;
	int		 e;

	if (eh->vlen > CT_TEXT_MAX)
		return PROTETS_EINVAL;
	c->w0 = start & ~7ULL;
	skip = (size_t)(start - c->w0);
	v = (unsigned char *)c->ws + skip;
	c->nw = nw = (skip + eh->vlen + 7) / 8;
	for (i = 0; i < nw; i++)
		c->old[i] = c->ws[i] = SH_LOAD(tbl_word(t, c->w0 + 8 * i));
	if ((e = tbl_counter_parse(v, eh->vlen, &cur)) != 0 ||
	    (e = ct_add(cur, incr, o, res)) != 0)
		return e;
	c->p = ct_format(*res, c->tmp);
	c->len = len = (size_t)(c->tmp + CT_TEXT_MAX - c->p);
	if (len != eh->vlen)
		return 0;
	for (i = 0; i < len; i++)	/* a few bytes: no memcpy call */
		v[i] = (unsigned char)c->p[i];
	for (i = changed = k = 0; i < nw; i++)
		if (c->ws[i] != c->old[i]) {
			changed++;
			k = i;
		}
	c->changed = changed;
	c->k = k;
	return 0;
}

/* Does the result change the text's last word only (or nothing)? */
static inline int
ct_last_word(const struct ct_calc *c, const struct en_hdr *eh)
{
	return c->len == eh->vlen && (c->changed == 0 ||
	    (c->changed == 1 && c->k == c->nw - 1));
}

/*
 * The counter at off, in place, under the lock: the one word it changes
 * with one unlogged store, or, when it changes more, by en_setval through
 * the undo log; *textlen is then 0.  When the result's text is longer or
 * shorter than the old one, nothing is written: text holds it, *textlen
 * its length, for the caller to insert.
 */
static int
ct_inplace(struct tbl *t, uint64_t off, const struct en_hdr *eh,
    int64_t incr, const protets_counter_opts *o, int64_t *res,
    char *text, size_t *textlen)
{
	struct ct_calc	c;
	int		e;

	if ((e = ct_calc(t, off, eh, incr, o, res, &c)) != 0)
		return e;
	CRASH_POINT();
	*textlen = c.len;
	if (c.len != eh->vlen) {
		memcpy(text, c.p, c.len);
		return 0;
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
	if (ct_last_word(&c, eh)) {
		if (c.changed == 1) {
			SH_STORE(tbl_word(t, c.w0 + 8 * c.k), c.ws[c.k]);
			CRASH_POINT();
		}
	} else
		en_setval(t, off, eh, c.p);
	*textlen = 0;
	return 0;
}

/*
 * The update of ct_inplace's usual case without the lock (fastpath.c):
 * the last word by CAS, as other such updaters may change it too.
 * Returns 0 with *res set, or 1: do it under the lock.
 */
#define CT_CAS_TRIES	8

static int
ct_cas(struct tbl *t, uint64_t off, const struct en_hdr *eh, int64_t incr,
    const protets_counter_opts *o, int64_t *res)
{
	struct ct_calc	c;
	unsigned	i;

	for (i = 0; i < CT_CAS_TRIES; i++) {
		if (ct_calc(t, off, eh, incr, o, res, &c) != 0 ||
		    !ct_last_word(&c, eh))
			return 1;
		if (c.changed == 0)
			return 0;
		if (__atomic_compare_exchange_n(tbl_word(t, c.w0 + 8 * c.k),
		    &c.old[c.k], c.ws[c.k], 0, __ATOMIC_RELAXED,
		    __ATOMIC_RELAXED)) {
			CRASH_POINT();
			return 0;
		}
	}
	return 1;
}

int
tbl_counter_fast(struct tbl *t, uint64_t h, const void *key, size_t klen,
    int64_t incr, const protets_counter_opts *o, int64_t *res)
{
	struct ct_set		*c = ct_set_of(h);
	struct tbl_fpslot	*s;
	struct en_hdr		 eh;
	unsigned		 m = ct_ways_of(c, h);
	int			 i, r = 1;

	if (m == 0 || (s = fp_enter(t)) == NULL)
		return 1;
	if ((i = ct_hint(t, c, m, SH_LOAD(&tbl_state(t)->recast), key, klen,
	    &eh)) >= 0)
		r = ct_cas(t, c->w[i].eoff, &eh, incr, o, res);
	fp_leave(s);
	return r;
}

/*
 * Where several writers update counters lock-free, each counter entry
 * gets cache lines of its own: two writers' counters sharing a line would
 * pass it between their CPUs at every update as a shared lock would.
 */
static int
ct_insert(struct tbl *t, uint64_t h, const void *key, size_t klen,
    const char *text, size_t len)
{
	uint64_t	eoff;
	int		e;

	e = tbl_insert_locked(t, h, key, klen, text, len, TBL_INS_GROW |
	    (t->fast ? TBL_INS_LINE : 0), NULL, &eoff);
	/*
	 * The next update goes to the new entry directly.  Only once the
	 * insert is done: nothing can fail after it, the caller commits.
	 * (Remembered and rolled back, it would be a block beyond top with
	 * the key's header in it, which no hint may ever point to.)
	 */
	if (e == 0)
		ct_remember(t, ct_set_of(h), h, eoff,
		    SH_LOAD(&tbl_state(t)->recast));
	return e;
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

	/* Next time, lock-free (fastpath.c): a slot for this thread. */
	if (t->fast)
		fp_register(t);
	e = ct_find(t, h, key, klen, &eoff, &eh);
	if (e == 0) {
		if ((e = ct_inplace(t, eoff, &eh, incr, o, res, text,
		    &len)) != 0 || len == 0)
			return e;
		return ct_insert(t, h, key, klen, text, len);
	}
	if (e != PROTETS_NOTFOUND)
		return e;
	if (o == NULL || !o->has_default)
		return PROTETS_NOTFOUND;
	if ((e = ct_add(o->dflt, incr, o, res)) != 0)
		return e;
	p = ct_format(*res, tmp);
	CRASH_POINT();
	return ct_insert(t, h, key, klen, p, (size_t)(tmp + CT_TEXT_MAX - p));
}
