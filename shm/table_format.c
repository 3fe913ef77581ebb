/*
 * shm/table_format.c - creating and opening segments: header, signature, meta.
 *
 * The format signature names everything a process must agree on to share
 * a segment: the layout version, the sizes of the shared structures, the
 * byte order, the fixed geometry and the hash function.  It is
 * kept both as text, for humans, and as its XXH3 hash, compared first.  As
 * with LMDB's lock-file format, a mismatch is refused before any lock in
 * the segment is touched.
 */
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "alloc.h"
#include "index.h"
#include "lock.h"
#include "owner.h"
#include "tblint.h"

#define SIGSTR_SIZE	sizeof(((struct tbl_hdr *)0)->sigstr)

uint64_t
tbl_signature(char *buf, size_t bufsz)
{
	snprintf(buf, bufsz,
	    "protets layout %d %s hash=%s hdr=%zu state=%zu/%d "
	    "stripe=%zu/%d/%d/%d undo=%zu/%d/%d heap=%d bucket=%zu/%d "
	    "ix=%d/%d/%d/%d classes=%d/%u entry=%d/%#x "
	    "ns=%d/%d ptr=%zu ordered=%d/%d/%d/%zu/%#x "
	    "shards=%d/%d/%d/%zu/%zu/%zu fp=%d/%d/%zu quota=%zu "
	    "tally=%d/%zu",
	    TBL_LAYOUT_VERSION,
	    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "le" : "be",
	    TBL_HASH_NAME,
	    sizeof(struct tbl_hdr), sizeof(struct tbl_state), TBL_STATE_OFF,
	    sizeof(struct tbl_stripe), TBL_STRIPE_OFF, TBL_STRIPE_MAX,
	    TBL_NSTRIPES,
	    sizeof(struct tbl_undo), TBL_UNDO_OFF, TBL_UNDO_CAP,
	    TBL_HEAP_OFF,
	    sizeof(struct tbl_bucket), TBL_BUCKET_SLOTS,
	    TBL_IX_NB0, TBL_IX_NCHUNK, TBL_IX_LOAD, TBL_TAG_SHIFT,
	    TBL_NCLASS, TBL_CLASS_MAX,
	    TBL_ENTRY_HDR, TBL_ENTRY_MARK,
	    TBL_NS_OFF, TBL_NS_SLOTS,
	    sizeof(void *),
	    TBL_OR_MAXH, TBL_OR_PREFIX, TBL_OR_HSHIFT,
	    sizeof(struct tbl_onode), TBL_OR_MARK,
	    TBL_SHARD_MAX, TBL_SHARD_SHIFT, TBL_SHARD_ALIGN,
	    offsetof(struct tbl_hdr, nshards), offsetof(struct tbl_stripe,
	    xcommit), offsetof(struct tbl_undo, tag),
	    TBL_FP_OFF, TBL_FP_SLOTS, sizeof(struct tbl_fpslot),
	    offsetof(struct tbl_hdr, quota), TBL_TALLY_OFF,
	    sizeof(struct tbl_tally));
	return XXH3_64bits(buf, strlen(buf));
}

__thread uint64_t tbl_scratch[8] __attribute__((aligned(64)));

size_t
tbl_min_size(void)
{
	return TBL_MIN_SIZE;
}

/* The types the engine implements: the hash types and ordered_set. */
int
tbl_type_ok(uint32_t type)
{
	return type == PROTETS_SET || type == PROTETS_ORDERED_SET ||
	    type == PROTETS_BAG || type == PROTETS_DUPLICATE_BAG;
}

static int
tbl_meta_valid(const struct tbl_meta *m)
{
	size_t	n;

	if (!tbl_type_ok(m->type))
		return 0;
	if (m->access < PROTETS_PUBLIC || m->access > PROTETS_PRIVATE)
		return 0;
	n = strnlen(m->name, sizeof(m->name));
	return n > 0 && n <= PROTETS_NAME_MAX;
}

/* The shard size of a segment of size bytes in ns shards, 0: too small. */
static size_t
tbl_shard_size(size_t size, uint32_t ns)
{
	size_t	ss;

	if (ns == 1)
		return size;
	ss = size / ns & ~(size_t)(TBL_SHARD_ALIGN - 1);
	return ss >= TBL_MIN_SIZE ? ss : 0;
}

int
tbl_nshards_ok(uint32_t ns, uint32_t type)
{
	if (ns == 0 || ns > TBL_SHARD_MAX || (ns & (ns - 1)) != 0)
		return 0;
	return ns == 1 || type != PROTETS_ORDERED_SET;
}

size_t
tbl_min_size_shards(uint32_t nshards)
{
	return (size_t)(nshards > 1 ? nshards : 1) * TBL_MIN_SIZE;
}

/*
 * A shard's part of a table's quota q (0: none): its share, so that the
 * shards hold q at most between them (each key goes to one shard, by its
 * hash: a shard can be full a little before the table is).
 */
static uint64_t
tbl_quota_share(uint64_t q, uint32_t ns)
{
	return q / ns;
}

/* Format shard k of ns (size bytes at base) as a table of its own. */
static void
tbl_format_one(unsigned char *base, size_t size, const struct tbl_meta *m,
    uint32_t k, uint32_t ns)
{
	struct tbl	 t = { .base = base, .size = size, .writable = 1,
	    .type = m->type, .lock_timeout_ms = TBL_LOCK_TIMEOUT_MS,
	    .read_wait_ms = TBL_READ_WAIT_MS,
	    .nshards = ns, .shard = k, .shard_size = size };
	struct tbl_hdr	*h = (struct tbl_hdr *)(void *)base;

	/* Nobody else may look until the magic is written, last. */
	memset(base, 0, TBL_HEAP_OFF);
	h->sig = tbl_signature(h->sigstr, SIGSTR_SIZE);
	h->size = size;
	h->layout = TBL_LAYOUT_VERSION;
	h->state_off = TBL_STATE_OFF;
	h->stripe_off = TBL_STRIPE_OFF;
	h->undo_off = TBL_UNDO_OFF;
	h->heap_off = TBL_HEAP_OFF;
	h->nstripes = TBL_NSTRIPES;
	h->undo_cap = TBL_UNDO_CAP;
	h->id = m->id;
	h->created = m->created;
	h->type = m->type;
	h->access = m->access;
	h->owner_uid = m->owner_uid;
	h->nshards = ns;
	h->flags = m->flags;
	h->shard = k;
	h->shard_size = size;
	h->quota = tbl_quota_share(m->quota, ns) >= size ? 0 :
	    tbl_quota_share(m->quota, ns);
	memcpy(h->name, m->name, strnlen(m->name, sizeof(h->name)));
	lk_format(&t);
	al_format(&t);
	ix_format(&t);
	__atomic_store_n(&h->magic, TBL_MAGIC, __ATOMIC_RELEASE);
}

/* tbl_open's count: each struct tbl it fills gets a gen of its own. */
static uint64_t	tbl_gens;

int
tbl_format(void *base, size_t size, const struct tbl_meta *m)
{
	uint32_t	ns, k;
	size_t		ss;

	if (base == NULL || m == NULL || ((uintptr_t)base & 4095) != 0 ||
	    size < TBL_MIN_SIZE || size > TBL_MAX_SIZE || !tbl_meta_valid(m))
		return PROTETS_EINVAL;
	ns = m->nshards > 1 ? m->nshards : 1;
	if (!tbl_nshards_ok(ns, m->type) || (ss = tbl_shard_size(size, ns)) == 0)
		return PROTETS_EINVAL;
	if (m->quota != 0 && tbl_quota_share(m->quota, ns) < TBL_MIN_SIZE)
		return PROTETS_EINVAL;
	/* Shard 0 last: its magic, at offset 0, says the whole is ready. */
	for (k = ns; k-- > 0;)
		tbl_format_one((unsigned char *)base + k * ss, ss, m, k, ns);
	return 0;
}

/*
 * Is the header at hp, in a mapping of size bytes, one we can use?  Its
 * copy, validated, is left in h: nothing reads the segment's header again.
 */
static int
tbl_hdr_ok(struct tbl_hdr *h, const struct tbl_hdr *hp, size_t size)
{
	char	sig[SIGSTR_SIZE];

	if (size < sizeof(*h))
		return PROTETS_ECORRUPT;
	if (__atomic_load_n(&hp->magic, __ATOMIC_ACQUIRE) != TBL_MAGIC)
		return PROTETS_EFORMAT;
	tbl_hdr_copy(h, hp);
	if (h->magic != TBL_MAGIC)
		return PROTETS_EFORMAT;
	if (h->sig != tbl_signature(sig, sizeof(sig)) ||
	    strncmp(h->sigstr, sig, sizeof(sig)) != 0 ||
	    h->layout != TBL_LAYOUT_VERSION)
		return PROTETS_EFORMAT;
	/* Same signature, so these are constants: anything else is damage. */
	if (h->state_off != TBL_STATE_OFF || h->stripe_off != TBL_STRIPE_OFF ||
	    h->undo_off != TBL_UNDO_OFF || h->heap_off != TBL_HEAP_OFF ||
	    h->nstripes != TBL_NSTRIPES || h->undo_cap != TBL_UNDO_CAP ||
	    h->size < TBL_MIN_SIZE || h->size > TBL_MAX_SIZE || h->size > size ||
	    !tbl_type_ok(h->type) || !tbl_nshards_ok(h->nshards, h->type) ||
	    h->shard_size != h->size || h->shard >= h->nshards)
		return PROTETS_ECORRUPT;
	return 0;
}

/* Shard k of the sharded table whose shard 0 header is h0. */
static int
tbl_shard_ok(const unsigned char *base, size_t size,
    const struct tbl_hdr *h0, uint32_t k)
{
	struct tbl_hdr	h;
	size_t		off = (size_t)k * h0->shard_size;
	int		e;

	if ((e = tbl_hdr_ok(&h, (const struct tbl_hdr *)(const void *)
	    (base + off), size - off)) != 0)
		return e == PROTETS_EFORMAT ? PROTETS_ECORRUPT : e;
	if (h.nshards != h0->nshards || h.shard != k ||
	    h.shard_size != h0->shard_size || h.type != h0->type ||
	    h.id != h0->id)
		return PROTETS_ECORRUPT;
	return 0;
}

int
tbl_open(struct tbl *t, void *base, size_t size, int writable)
{
	struct tbl_hdr	h;
	uint32_t	k;
	int		e;

	if (t == NULL || base == NULL || ((uintptr_t)base & 4095) != 0)
		return PROTETS_EINVAL;
	if ((e = tbl_hdr_ok(&h, base, size)) != 0)
		return e;
	if (h.shard != 0 || (h.nshards > 1 &&
	    (h.shard_size % TBL_SHARD_ALIGN != 0 ||
	    h.shard_size > size / h.nshards)))
		return PROTETS_ECORRUPT;
	for (k = 1; k < h.nshards; k++)
		if ((e = tbl_shard_ok(base, size, &h, k)) != 0)
			return e;
	memset(t, 0, sizeof(*t));
	t->base = base;
	t->size = h.size * h.nshards;
	t->writable = writable != 0;
	t->type = h.type;
	t->lock_timeout_ms = TBL_LOCK_TIMEOUT_MS;
	t->read_wait_ms = TBL_READ_WAIT_MS;
	t->route = h.nshards > 1;
	t->nshards = h.nshards;
	t->shard_size = h.size;
	/*
	 * Tables made for concurrent writers: there a lock-free counter
	 * update saves a cache line moving between CPUs at every update;
	 * alone, it costs more than the lock (the slot's own lock word).
	 */
	t->fast = h.nshards > 1;
	/* Per-thread caches (ordered.c's finger) tell mappings apart by it. */
	t->gen = __atomic_add_fetch(&tbl_gens, 1, __ATOMIC_RELAXED);
	if (t->writable)	/* a lock word's identity, while fds are free */
		ow_prepare();
	return 0;
}

/*
 * Record a new access mode in the header (the daemon's SETACCESS, from
 * the owning worker).  One aligned 32-bit store: a reader of the header
 * sees the old mode or the new one.  Returns 0, PROTETS_EINVAL,
 * PROTETS_EACCES (read-only mapping).
 */
int
tbl_set_access(struct tbl *t, uint32_t access)
{
	if (access < PROTETS_PUBLIC || access > PROTETS_PRIVATE)
		return PROTETS_EINVAL;
	if (!t->writable)
		return PROTETS_EACCES;
	__atomic_store_n(&tbl_hdr(t)->access, access, __ATOMIC_RELEASE);
	return 0;
}

int
tbl_set_quota(struct tbl *t, uint64_t quota)
{
	struct tbl	v;
	uint32_t	ns = t->route ? t->nshards : 1, k;
	uint64_t	share = tbl_quota_share(quota, ns);

	if (quota != 0 && share < TBL_MIN_SIZE)
		return PROTETS_EINVAL;
	if (!t->writable)
		return PROTETS_EACCES;
	for (k = 0; k < ns; k++) {
		if (t->route)
			tbl_view(t, k, &v);
		__atomic_store_n(&tbl_hdr(t->route ? &v : t)->quota,
		    share >= t->shard_size ? 0 : share, __ATOMIC_RELEASE);
	}
	return 0;
}

/* The table's quota: its shards' shares added up (0: none). */
static uint64_t
tbl_quota_sum(const struct tbl *t)
{
	struct tbl	v;
	uint32_t	ns = t->route ? t->nshards : 1, k;
	uint64_t	q, sum = 0;

	for (k = 0; k < ns; k++) {
		if (t->route)
			tbl_view(t, k, &v);
		q = __atomic_load_n(&tbl_hdr(t->route ? &v : t)->quota,
		    __ATOMIC_RELAXED);
		if (q == 0)
			return 0;
		sum += q;
	}
	return sum;
}

int
tbl_meta(const struct tbl *t, struct tbl_meta *m)
{
	struct tbl_hdr	h;

	tbl_hdr_copy(&h, tbl_hdr(t));
	if (memchr(h.name, '\0', sizeof(h.name)) == NULL)
		return PROTETS_ECORRUPT;
	memset(m, 0, sizeof(*m));
	m->id = h.id;
	m->type = h.type;
	m->access = h.access;
	m->owner_uid = h.owner_uid;
	m->created = h.created;
	memcpy(m->name, h.name, sizeof(m->name));
	m->nshards = h.nshards;
	m->flags = h.flags;
	m->quota = tbl_quota_sum(t);
	return 0;
}
