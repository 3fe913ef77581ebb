/*
 * shm/ordered.c - the ordered index of an ordered_set (see ordered.h).
 *
 * A skip list rather than a B+tree: an insert or delete changes one
 * node's links per level it spans (1.33 on average, TBL_OR_MAXH at most),
 * each a single word, so the undo log stays small and a reader that runs
 * into a half-done change only ever sees links to valid nodes or to
 * blocks that the seqlock validation then throws away.
 */
#include <endian.h>
#include <string.h>

#include "crash.h"
#include "ordered.h"

#define OR_META_KLEN(m)	((uint32_t)((m) & 0xffff))
#define OR_META_HGT(m)	((unsigned)((m) >> 16) & 0xff)
#define OR_META_CLS(m)	((unsigned)((m) >> 24) & 0xff)
#define OR_META_MARK(m)	((unsigned)((m) >> 56))

int
or_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int	c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

unsigned
or_height(uint64_t h)
{
	uint64_t	x = h >> TBL_OR_HSHIFT;
	unsigned	hgt = 1;

	/* bits the hash index's tag and bucket choice rarely use */
	while (hgt < TBL_OR_MAXH && (x & 3) == 0) {
		hgt++;
		x >>= 2;
	}
	return hgt;
}

uint64_t
or_node_size(unsigned hgt)
{
	return OR_LINKS + 8 * (uint64_t)hgt;
}

static inline uint64_t
or_link(const struct tbl *t, uint64_t links, unsigned lv)
{
	return SH_RLOAD(tbl_word(t, links + 8 * (uint64_t)lv));
}

/*
 * The meta word of the node at off, checked for what every reader of a
 * node needs: its mark, height and key length, and its links in the heap.
 */
static inline int
or_meta(const struct tbl *t, uint64_t off, uint64_t *mp)
{
	uint64_t	m;
	unsigned	hgt;
	uint32_t	klen;

	if (!tbl_inheap(t, off, OR_LINKS, 8))
		return PROTETS_ECORRUPT;
	m = SH_RLOAD(tbl_word(t, off + offsetof(struct tbl_onode, meta)));
	hgt = OR_META_HGT(m);
	klen = OR_META_KLEN(m);
	if (OR_META_MARK(m) != TBL_OR_MARK || hgt == 0 ||
	    hgt > TBL_OR_MAXH || klen == 0 || klen > PROTETS_KEY_MAX ||
	    !tbl_inheap(t, off, or_node_size(hgt), 8))
		return PROTETS_ECORRUPT;
	*mp = m;
	return 0;
}

int
or_node(const struct tbl *t, uint64_t off, unsigned *hgtp, uint32_t *klenp,
    unsigned *clsp)
{
	uint64_t	m;
	unsigned	cls;
	int		e;

	if ((e = or_meta(t, off, &m)) != 0)
		return e;
	cls = OR_META_CLS(m);
	if (cls >= TBL_NCLASS || al_csize(cls) < or_node_size(OR_META_HGT(m)) ||
	    !tbl_inheap(t, off, al_csize(cls), 8))
		return PROTETS_ECORRUPT;
	if (hgtp != NULL)
		*hgtp = OR_META_HGT(m);
	if (klenp != NULL)
		*klenp = OR_META_KLEN(m);
	if (clsp != NULL)
		*clsp = cls;
	return 0;
}

int
or_entry(const struct tbl *t, uint64_t off, uint64_t *eoffp,
    struct en_hdr *eh)
{
	uint32_t	klen;
	int		e;

	if ((e = or_node(t, off, NULL, &klen, NULL)) != 0)
		return e;
	*eoffp = SH_RLOAD(tbl_word(t, off));
	if ((e = en_read(t, *eoffp, eh)) != 0)
		return e;
	return eh->klen == klen ? 0 : PROTETS_ECORRUPT;
}

int
or_next(const struct tbl *t, uint64_t off, uint64_t *nextp)
{
	uint64_t	next;
	int		e;

	if ((e = or_node(t, off, NULL, NULL, NULL)) != 0)
		return e;
	next = or_link(t, off + OR_LINKS, 0);
	if (next != 0 && !tbl_inheap(t, next, OR_LINKS, 8))
		return PROTETS_ECORRUPT;
	*nextp = next;
	return 0;
}

/*
 * A key to compare nodes with: its first TBL_OR_PREFIX bytes, zero-padded
 * as a node's, in two big-endian words, so that two loads and compares
 * order most nodes.  Zero-padded prefixes that differ order their keys as
 * the keys themselves (where one key ends, the other has a byte > 0).
 */
struct or_probe {
	const void	*key;
	size_t		 klen;
	uint64_t	 pfx[2];
};

_Static_assert(TBL_OR_PREFIX == 16, "or_probe: two words of prefix");

static void
or_probe_init(struct or_probe *p, const void *key, size_t klen)
{
	unsigned char	b[TBL_OR_PREFIX];
	uint64_t	w;

	memset(b, 0, sizeof(b));
	memcpy(b, key, klen < sizeof(b) ? klen : sizeof(b));
	memcpy(&w, b, 8);
	p->pfx[0] = be64toh(w);
	memcpy(&w, b + 8, 8);
	p->pfx[1] = be64toh(w);
	p->key = key;
	p->klen = klen;
}

/* Both keys longer than their tied prefixes: compare the entry's key. */
static __attribute__((noinline)) int
or_cmp_entry(const struct tbl *t, uint64_t off, uint32_t klen,
    const struct or_probe *p, int *cmp)
{
	unsigned char	full[PROTETS_KEY_MAX];
	struct en_hdr	eh;
	uint64_t	eoff;
	int		e;

	if ((e = or_entry(t, off, &eoff, &eh)) != 0)
		return e;
	en_getkey(t, eoff, &eh, full);
	*cmp = or_keycmp(full, klen, p->key, p->klen);
	return 0;
}

/* or_cmp against a probe. */
static inline int
or_cmp_probe(const struct tbl *t, uint64_t off, uint32_t klen,
    const struct or_probe *p, int *cmp)
{
	uint64_t	w;
	unsigned	i;

	for (i = 0; i < 2; i++) {
		w = be64toh(SH_RLOAD(tbl_word(t, off + 16 + 8 * i)));
		if (w != p->pfx[i]) {
			*cmp = w < p->pfx[i] ? -1 : 1;
			return 0;
		}
	}
	/* Equal prefixes: a key of at most 16 bytes is the other's prefix. */
	if (klen <= TBL_OR_PREFIX || p->klen <= TBL_OR_PREFIX) {
		*cmp = klen < p->klen ? -1 : klen > p->klen;
		return 0;
	}
	return or_cmp_entry(t, off, klen, p, cmp);
}

int
or_cmp(const struct tbl *t, uint64_t off, uint32_t klen, const void *key,
    size_t klen2, int *cmp)
{
	struct or_probe	p;

	or_probe_init(&p, key, klen2);
	return or_cmp_probe(t, off, klen, &p, cmp);
}

/*
 * The checks a walk needs to read node off on level lv: or_meta's, and on
 * level lv.  (or_node also checks its class, for whoever frees it.)
 * *klenp: its key length.
 */
static inline int
or_node_walk(const struct tbl *t, uint64_t off, unsigned lv,
    uint32_t *klenp)
{
	uint64_t	m;
	int		e;

	if ((e = or_meta(t, off, &m)) != 0)
		return e;
	if (OR_META_HGT(m) <= lv)
		return PROTETS_ECORRUPT;
	*klenp = OR_META_KLEN(m);
	return 0;
}

/*
 * Walk down from position pos on level top - 1 (which must be before key
 * on that level): on each level, move right while the next node's key is
 * before key (mode OR_GT: not after it; key NULL: always).  upd (may be
 * NULL) receives each level's last position, *posp level 0's.  Bounded: a
 * level holds at most a node per entry (state.entries, as this view reads
 * it: a torn count fails the read's validation), and per 40 heap bytes;
 * the count is read only past OR_STEPS_CHEAP steps, more than a descent
 * through any table takes, so that lookups leave the counters' line alone.
 */
#define OR_STEPS_CHEAP	4096

static int
or_descend_from(const struct tbl *t, const struct lk_rd *r, const void *key,
    size_t klen, int strict, unsigned top, uint64_t pos, uint64_t *upd,
    uint64_t *posp)
{
	struct or_probe	p;
	uint64_t	nx, stop = 0, steps = 0;
	uint64_t	limit = t->size / or_node_size(1) * TBL_OR_MAXH;
	unsigned	lv;
	uint32_t	nklen;
	int		c = -1, e;

	if (key != NULL)
		or_probe_init(&p, key, klen);
	for (lv = top; lv-- > 0;) {
		/* stop: where the level above stopped, known not before key */
		while ((nx = or_link(t, pos, lv)) != 0 && nx != stop) {
			if ((e = or_node_walk(t, nx, lv, &nklen)) != 0)
				return e;
			if (key != NULL &&
			    (e = or_cmp_probe(t, nx, nklen, &p, &c)) != 0)
				return e;
			if (strict ? c > 0 : c >= 0) {
				stop = nx;
				break;
			}
			pos = nx + OR_LINKS;
			if (++steps > limit ||
			    ((steps & 63) == 0 && lk_rstale(t, r)) ||
			    (steps > OR_STEPS_CHEAP && steps > (SH_RLOAD(
			    &tbl_state(t)->entries) + 2) * TBL_OR_MAXH))
				return PROTETS_ECORRUPT;
		}
		if (upd != NULL)
			upd[lv] = pos;
	}
	*posp = pos;
	return 0;
}

/* or_descend_from the head, from the top level. */
static int
or_descend(const struct tbl *t, const struct lk_rd *r, const void *key,
    size_t klen, int strict, uint64_t *upd, uint64_t *posp)
{
	return or_descend_from(t, r, key, klen, strict, TBL_OR_MAXH, OR_HEAD,
	    upd, posp);
}

/* The node after link position pos on level 0 (0: none), checked. */
static int
or_after(const struct tbl *t, uint64_t pos, uint64_t *nodep)
{
	uint64_t	nx;
	int		e;

	nx = or_link(t, pos, 0);
	if (nx != 0 && (e = or_node(t, nx, NULL, NULL, NULL)) != 0)
		return e;
	*nodep = nx;
	return 0;
}

int
or_seek(const struct tbl *t, const struct lk_rd *r, const void *key,
    size_t klen, enum or_mode mode, uint64_t *nodep)
{
	uint64_t	pos;
	int		e;

	if (mode == OR_GE && key == NULL)
		pos = OR_HEAD;
	else if ((e = or_descend(t, r, key, klen, mode == OR_GT, NULL,
	    &pos)) != 0)
		return e;
	if (mode == OR_LT) {
		*nodep = pos == OR_HEAD ? 0 : pos - OR_LINKS;
		return 0;
	}
	return or_after(t, pos, nodep);
}

/*
 * The finger: per thread, a few tables' last seek (struct or_path), with
 * the mapping (base, gen) and the sequence it was found under.  A table
 * takes the slot its base hashes to; another table there replaces it.
 */
#define OR_FINGERS	4

struct or_finger {
	const unsigned char	*base;
	uint64_t		 gen;
	uint64_t		 seq;
	struct or_path		 path;
};

static __thread struct or_finger or_fingers[OR_FINGERS];

static struct or_finger *
or_finger_slot(const struct tbl *t)
{
	uintptr_t	b = (uintptr_t)t->base >> 12;

	return &or_fingers[(b ^ b >> 8 ^ t->gen) % OR_FINGERS];
}

/*
 * Is r reading the last committed state as of a sequence a finger can be
 * tied to?  Not in overlay mode: its sequence is a writer's, odd.
 */
static int
or_finger_seq_ok(const struct lk_rd *r)
{
	return r != NULL && r->ov == NULL && (r->seq & 1) == 0;
}

/*
 * This thread's finger on t if it was taken under r's sequence (the
 * segment has not changed since) and its node is key's; *hgtp: the
 * node's height.  Everything is checked again all the same: the finger
 * is a hint, and a miss only costs a seek from the head.
 */
static const struct or_path *
or_finger_get(const struct tbl *t, const struct lk_rd *r, const void *key,
    size_t klen, unsigned *hgtp)
{
	const struct or_finger	*f = or_finger_slot(t);
	uint32_t		 nklen;
	int			 c;

	if (key == NULL || f->base != t->base || f->gen != t->gen ||
	    !or_finger_seq_ok(r) || f->seq != r->seq || f->path.node == 0)
		return NULL;
	if (or_node(t, f->path.node, hgtp, &nklen, NULL) != 0 ||
	    or_cmp(t, f->path.node, nklen, key, klen, &c) != 0 || c != 0)
		return NULL;
	return &f->path;
}

void
or_finger_keep(const struct tbl *t, const struct lk_rd *r,
    const struct or_path *p)
{
	struct or_finger	*f = or_finger_slot(t);

	if (!or_finger_seq_ok(r) || p->node == 0) {
		f->path.node = 0;
		return;
	}
	f->base = t->base;
	f->gen = t->gen;
	f->seq = r->seq;
	f->path.node = p->node;
	f->path.nupd = p->nupd;
	memcpy(f->path.upd, p->upd, p->nupd * sizeof(p->upd[0]));
}

/*
 * next(key) on the finger f at key's node (height hgt): its level-0 link.
 * The path to the node after it: the finger's node on its levels, then
 * the finger's own path (positions before the finger's key).
 */
static int
or_next_finger(const struct tbl *t, const struct or_path *f, unsigned hgt,
    struct or_path *p)
{
	uint64_t	pos = f->node + OR_LINKS;
	unsigned	lv;

	for (lv = 0; lv < hgt; lv++)
		p->upd[lv] = pos;
	for (; lv < f->nupd; lv++)
		p->upd[lv] = f->upd[lv];
	p->nupd = lv;
	return or_after(t, pos, &p->node);
}

/*
 * prev(key) on the finger f at key's node: descend from the lowest level
 * whose position in the finger's path is before the node (it is on that
 * level: a node or the head), else from the head.  Above it, the path to
 * the node found is the finger's (no node between it and key there).
 */
static int
or_prev_finger(const struct tbl *t, const struct lk_rd *r, const void *key,
    size_t klen, const struct or_path *f, struct or_path *p)
{
	uint64_t	pos = OR_HEAD, fpos = f->node + OR_LINKS;
	unsigned	lv, top = TBL_OR_MAXH, hgt;
	int		e;

	for (lv = 0; lv < f->nupd; lv++) {
		if (f->upd[lv] == fpos)
			continue;
		if (f->upd[lv] != OR_HEAD &&
		    (or_node(t, f->upd[lv] - OR_LINKS, &hgt, NULL, NULL) != 0 ||
		    hgt <= lv))
			break;		/* not on its level: from the head */
		pos = f->upd[lv];
		top = lv + 1;
		break;
	}
	if ((e = or_descend_from(t, r, key, klen, 0, top, pos, p->upd,
	    &pos)) != 0)
		return e;
	for (lv = top; lv < f->nupd && f->upd[lv] != fpos; lv++)
		p->upd[lv] = f->upd[lv];
	p->nupd = lv;
	p->node = pos == OR_HEAD ? 0 : pos - OR_LINKS;
	return 0;
}

int
or_seek_finger(const struct tbl *t, const struct lk_rd *r, const void *key,
    size_t klen, enum or_mode mode, struct or_path *p)
{
	const struct or_path	*f;
	uint64_t		 pos;
	unsigned		 hgt, lv;
	int			 e;

	p->node = 0;
	p->nupd = 0;
	if (mode == OR_GE && key == NULL) {
		for (lv = 0; lv < TBL_OR_MAXH; lv++)
			p->upd[lv] = OR_HEAD;
		p->nupd = TBL_OR_MAXH;
		return or_after(t, OR_HEAD, &p->node);
	}
	if (mode != OR_GE && (f = or_finger_get(t, r, key, klen, &hgt)) != NULL)
		return mode == OR_GT ? or_next_finger(t, f, hgt, p) :
		    or_prev_finger(t, r, key, klen, f, p);
	if ((e = or_descend(t, r, key, klen, mode == OR_GT, p->upd,
	    &pos)) != 0)
		return e;
	p->nupd = TBL_OR_MAXH;
	if (mode == OR_LT) {
		p->node = pos == OR_HEAD ? 0 : pos - OR_LINKS;
		return 0;
	}
	return or_after(t, pos, &p->node);
}

/*
 * The writers' finger: this thread's path (each level's position) to
 * where it last inserted, deleted or replaced a key, for its next insert
 * or delete to start from instead of the head.  Keys written in order (a
 * log, a counter's sequence) then find their place in a compare or two.
 *
 * The path is only sound while no one else has changed the list.  So it
 * is taken under the lock, with the sequence the table will have once
 * this operation commits: the operation has changed something, so the
 * sequence is odd, and lk_wcommit adds 2, lk_wend 1.  A later operation
 * of this thread uses it only if the sequence is still that, or one
 * more (its own first change), which no other writer's commit, nor a
 * recovery that changed anything, leaves behind; and only if this thread
 * has rolled nothing back since (lk_rollbacks: an abort ends on the same
 * sequence as a commit).  Within the operation that took it (a batch),
 * the latter alone.  What the path says is then checked, as cheaply as
 * it is sound: the key falls between a position and its next node on
 * every level the operation links or unlinks, and every node read is
 * validated as on any walk.  A miss descends from the head.
 */
static __thread struct {
	uint64_t	id;		/* tbl_view_id, 0: none */
	uint64_t	op;		/* lk_op_id of the operation */
	uint64_t	seq;		/* the sequence after its commit */
	uint64_t	rb;		/* lk_rollbacks when taken */
	uint64_t	upd[TBL_OR_MAXH];
	/*
	 * Level 0's next node when taken, as a probe of its key's prefix
	 * (nklen 0: none): keys in random order miss the finger on it
	 * without a cache miss on the node.
	 */
	uint64_t	npfx[2];
	uint32_t	nklen;
} or_wf;

static __thread uint64_t or_wf_nhits;	/* paths found on it (tests) */

uint64_t
or_wf_hits(void)
{
	return or_wf_nhits;
}

/*
 * key against the finger's next node by prefixes alone: <0, >0, or 0
 * when they tie (the node's key is then read, if it comes to that).
 * No next node: key is before it.
 */
static int
or_wf_cmp_next(const struct or_probe *p)
{
	unsigned	i;

	if (or_wf.nklen == 0)
		return -1;
	for (i = 0; i < 2; i++)
		if (p->pfx[i] != or_wf.npfx[i])
			return p->pfx[i] < or_wf.npfx[i] ? -1 : 1;
	if (p->klen <= TBL_OR_PREFIX || or_wf.nklen <= TBL_OR_PREFIX)
		return p->klen < or_wf.nklen ? -1 : p->klen > or_wf.nklen;
	return 0;
}

static int
or_wf_valid(const struct tbl *t)
{
	uint64_t	seq;

	if (or_wf.id != tbl_view_id(t) || or_wf.rb != lk_rollbacks())
		return 0;
	if (or_wf.op == lk_op_id())
		return 1;
	seq = lk_wseq(t);
	return seq == or_wf.seq || seq == or_wf.seq + 1;
}

static void
or_wf_take(const struct tbl *t, const uint64_t *upd)
{
	uint64_t	seq = lk_wseq(t), nx, m;
	unsigned	i;

	or_wf.id = 0;
	if ((seq & 1) == 0)
		return;		/* changed nothing: no commit to foresee */
	memcpy(or_wf.upd, upd, sizeof(or_wf.upd));
	or_wf.nklen = 0;
	nx = or_link(t, upd[0], 0);
	if (nx != 0 && or_meta(t, nx, &m) == 0) {
		for (i = 0; i < 2; i++)
			or_wf.npfx[i] = be64toh(SH_LOAD(tbl_word(t,
			    nx + 16 + 8 * i)));
		or_wf.nklen = OR_META_KLEN(m);
	}
	or_wf.op = lk_op_id();
	or_wf.seq = seq + 3;
	or_wf.rb = lk_rollbacks();
	or_wf.id = tbl_view_id(t);
}

/*
 * The finger's position on level lv, checked: the head, or a node of
 * height above lv; *nodep: the node (0: the head), *klenp its key length.
 */
static int
or_wf_pos(const struct tbl *t, unsigned lv, uint64_t *nodep,
    uint32_t *klenp)
{
	uint64_t	pos = or_wf.upd[lv];

	*nodep = 0;
	if (pos == OR_HEAD)
		return 0;
	if (pos < OR_LINKS || or_node_walk(t, pos - OR_LINKS, lv, klenp) != 0)
		return -1;
	*nodep = pos - OR_LINKS;
	return 0;
}

/*
 * Where key, new, goes on the finger, for a node of height hgt: after
 * level 0's position and before each of its levels' next node.  0 with
 * upd filled, or -1: descend.
 */
static int
or_wf_insert_path(const struct tbl *t, const void *key, size_t klen,
    unsigned hgt, uint64_t *upd)
{
	struct or_probe	p;
	uint64_t	node, nx;
	uint32_t	nklen;
	unsigned	lv;
	int		c;

	or_probe_init(&p, key, klen);
	if (!or_wf_valid(t) || or_wf_cmp_next(&p) > 0 ||
	    or_wf_pos(t, 0, &node, &nklen) != 0 || (node != 0 &&
	    (or_cmp(t, node, nklen, key, klen, &c) != 0 || c >= 0)))
		return -1;
	for (lv = 0; lv < hgt; lv++) {
		if (lv > 0 && or_wf_pos(t, lv, &node, &nklen) != 0)
			return -1;
		nx = or_link(t, or_wf.upd[lv], lv);
		if (nx != 0 && (or_node_walk(t, nx, lv, &nklen) != 0 ||
		    or_cmp(t, nx, nklen, key, klen, &c) != 0 || c <= 0))
			return -1;
	}
	memcpy(upd, or_wf.upd, sizeof(or_wf.upd));
	or_wf_nhits++;
	return 0;
}

/*
 * key's node on the finger: level 0's next, and the next of each of its
 * levels' positions.  0 with upd filled, or -1: descend.
 */
static int
or_wf_find_path(const struct tbl *t, const void *key, size_t klen,
    uint64_t *upd)
{
	struct or_probe	p;
	uint64_t	node, nx;
	uint32_t	nklen;
	unsigned	hgt, lv;
	int		c;

	or_probe_init(&p, key, klen);
	if (!or_wf_valid(t) || or_wf_cmp_next(&p) != 0 ||
	    or_wf_pos(t, 0, &node, &nklen) != 0 ||
	    (nx = or_link(t, or_wf.upd[0], 0)) == 0 ||
	    or_node(t, nx, &hgt, &nklen, NULL) != 0 ||
	    or_cmp(t, nx, nklen, key, klen, &c) != 0 || c != 0)
		return -1;
	for (lv = 1; lv < hgt; lv++)
		if (or_wf_pos(t, lv, &node, &nklen) != 0 ||
		    or_link(t, or_wf.upd[lv], lv) != nx)
			return -1;
	memcpy(upd, or_wf.upd, sizeof(or_wf.upd));
	or_wf_nhits++;
	return 0;
}

void
or_wf_forget(void)
{
	or_wf.id = 0;
}

/* A fresh node, not yet linked: written freely (al_alloc's contract). */
static void
or_fill(struct tbl *t, uint64_t off, unsigned hgt, unsigned cls,
    const void *key, size_t klen, uint64_t eoff, const uint64_t *upd)
{
	unsigned char	pfx[TBL_OR_PREFIX];
	uint64_t	w;
	unsigned	i;

	memset(pfx, 0, sizeof(pfx));
	memcpy(pfx, key, klen < sizeof(pfx) ? klen : sizeof(pfx));
	SH_STORE(tbl_word(t, off), eoff);
	SH_STORE(tbl_word(t, off + 8), (uint64_t)klen |
	    (uint64_t)hgt << 16 | (uint64_t)cls << 24 |
	    (uint64_t)TBL_OR_MARK << 56);
	for (i = 0; i < TBL_OR_PREFIX; i += 8) {
		memcpy(&w, pfx + i, 8);
		SH_STORE(tbl_word(t, off + 16 + i), w);
	}
	for (i = 0; i < hgt; i++)
		SH_STORE(tbl_word(t, off + OR_LINKS + 8 * i),
		    or_link(t, upd[i], i));
}

int
or_insert(struct tbl *t, uint64_t h, const void *key, size_t klen,
    uint64_t eoff)
{
	uint64_t	upd[TBL_OR_MAXH], pos, nx, off;
	unsigned	hgt = or_height(h), cls, i;
	uint32_t	nklen;
	int		c, e;

	if (or_wf_insert_path(t, key, klen, hgt, upd) == 0)
		pos = upd[0];
	else if ((e = or_descend(t, NULL, key, klen, 0, upd, &pos)) != 0)
		return e;
	/* The hash index said the key is new: so must this one. */
	if ((nx = or_link(t, pos, 0)) != 0) {
		if ((e = or_node(t, nx, NULL, &nklen, NULL)) != 0 ||
		    (e = or_cmp(t, nx, nklen, key, klen, &c)) != 0)
			return e;
		if (c == 0)
			return PROTETS_ECORRUPT;
	}
	/* No AL_NOTENTRY: word 0, an entry offset, never has the mark. */
	if ((e = al_alloc(t, or_node_size(hgt), AL_FALLBACK, &off, &cls)))
		return e;
	or_fill(t, off, hgt, cls, key, klen, eoff, upd);
	CRASH_POINT();
	for (i = 0; i < hgt; i++) {
		lk_set(t, upd[i] + 8 * i, off);
		upd[i] = off + OR_LINKS;	/* the path to the next key */
	}
	or_wf_take(t, upd);
	return 0;
}

/* key's node, which must point at entry eoff; upd as or_descend's. */
static int
or_find(struct tbl *t, const void *key, size_t klen, uint64_t eoff,
    uint64_t *upd, uint64_t *nodep)
{
	uint64_t	pos, nx;
	int		e;

	if (or_wf_find_path(t, key, klen, upd) == 0)
		pos = upd[0];
	else if ((e = or_descend(t, NULL, key, klen, 0, upd, &pos)) != 0)
		return e;
	nx = or_link(t, pos, 0);
	if (nx == 0 || (e = or_node(t, nx, NULL, NULL, NULL)) != 0 ||
	    SH_LOAD(tbl_word(t, nx)) != eoff)
		return PROTETS_ECORRUPT;	/* the indexes disagree */
	*nodep = nx;
	return 0;
}

int
or_replace(struct tbl *t, const void *key, size_t klen, uint64_t old,
    uint64_t eoff)
{
	uint64_t	upd[TBL_OR_MAXH], node;
	int		e;

	if ((e = or_find(t, key, klen, old, upd, &node)) != 0)
		return e;
	lk_set(t, node, eoff);
	or_wf_take(t, upd);
	return 0;
}

int
or_delete(struct tbl *t, const void *key, size_t klen, uint64_t eoff)
{
	uint64_t	upd[TBL_OR_MAXH], node;
	unsigned	hgt, cls, i;
	int		e;

	if ((e = or_find(t, key, klen, eoff, upd, &node)) != 0 ||
	    (e = or_node(t, node, &hgt, NULL, &cls)) != 0)
		return e;
	for (i = 0; i < hgt; i++)
		if (or_link(t, upd[i], i) != node)
			return PROTETS_ECORRUPT;
	for (i = 0; i < hgt; i++)
		lk_set(t, upd[i] + 8 * i, or_link(t, node + OR_LINKS, i));
	CRASH_POINT();
	al_free(t, node, cls);
	or_wf_take(t, upd);	/* the next key's path too */
	return 0;
}
