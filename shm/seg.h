/*
 * shm/seg.h - a mapped segment, as this process sees it: the accesses to
 * its words, the views of its shards, bounds checks, the header's copy.
 * The layout itself (what lies where) is layout.h.
 *
 * Every word that another process may read while it changes is accessed
 * with the __atomic builtins (SH_LOAD/SH_STORE below): the data races are
 * real (readers run concurrently with writers and validate afterwards with
 * the seqlock) and must not be visible to the compiler as plain accesses.
 */
#ifndef PROTETS_SHM_SEG_H
#define PROTETS_SHM_SEG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "layout.h"
#include "table.h"

/* Racy shared accesses. */
#define SH_LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
/*
 * A load of a shared word by a lock-free reader (a lookup, a fold, an
 * index walk), as opposed to a writer holding the lock.  Reader paths use
 * it for every word a writer may change, so that the read side has one
 * place to change how such words are read.
 */
#define SH_RLOAD(p)		sh_rload(p)
#define SH_STORE(p, v)		__atomic_store_n((p), (v), __ATOMIC_RELAXED)

/*
 * A reader in overlay mode (lock_read.c: the writer stalled mid-operation) has
 * its copy of the undo log in lk_ov_cur, and lk_ov_word gives a word's
 * committed value.  lk_ov_active counts the threads of the process in
 * overlay mode: a PC-relative load that is 0 unless a writer is stalled,
 * so the fast path pays one compare per load (SH_OV_ANY lets a loop pay
 * it once).
 */
struct lk_ov;
extern int lk_ov_active __attribute__((visibility("hidden")));
/*
 * No initial-exec TLS model: a library using it cannot be dlopen'ed once
 * glibc's static TLS surplus is used up (Python's ctypes, Erlang NIFs,
 * JNI).  lk_ov_cur is read only when SH_OV_ANY(), off the fast path.
 */
extern __thread struct lk_ov *lk_ov_cur;
uint64_t lk_ov_word(const struct lk_ov *ov, const uint64_t *p, uint64_t v);

#define SH_OV_ANY()	__builtin_expect(SH_LOAD(&lk_ov_active) != 0, 0)
/*
 * SH_RLOAD in a function compiled twice, ov a constant: 0 in the copy for
 * the fast path (plain loads), 1 in the copy called when SH_OV_ANY().
 */
#define SH_OVLOAD(ov, p)	((ov) ? sh_rload(p) : SH_LOAD(p))

static inline uint64_t
sh_rload(const uint64_t *p)
{
	uint64_t	v = SH_LOAD(p);

	if (SH_OV_ANY() && lk_ov_cur != NULL)
		v = lk_ov_word(lk_ov_cur, p, v);
	return v;
}

/*
 * Where a word or bucket out of the segment, or misaligned, points
 * instead (tbl_word, tbl_line): a line of this thread's own.  The code
 * validates every offset it reads before it follows it, but a writer of
 * the table may change a word under a lock holder between the check and
 * a later read: that later access lands here, never outside the segment
 * (the table's data is damaged, as the writer chose, and nothing else).
 * Reads of it see what was last written to it, as good as any garbage.
 */
extern __thread uint64_t tbl_scratch[8];

/* The 8-byte word at off; the scratch line if off is not one. */
static inline uint64_t *
tbl_word(const struct tbl *t, uint64_t off)
{
	if (__builtin_expect(off > t->size - 8 || (off & 7) != 0, 0))
		return tbl_scratch;
	return (uint64_t *)(void *)(t->base + off);
}

/*
 * The word at off, which the caller has just bounded (tbl_inheap) and
 * holds in a local: no second check on a reader's hot path.
 */
static inline uint64_t *
tbl_word_in(const struct tbl *t, uint64_t off)
{
	return (uint64_t *)(void *)(t->base + off);
}

/* The 64-byte line at off (an index bucket), as tbl_word. */
static inline void *
tbl_line(const struct tbl *t, uint64_t off)
{
	if (__builtin_expect(off > t->size - 64 || (off & 7) != 0, 0))
		return tbl_scratch;
	return t->base + off;
}

static inline struct tbl_hdr *
tbl_hdr(const struct tbl *t)
{
	return (struct tbl_hdr *)(void *)t->base;
}

/*
 * A private copy of the header at h, to validate and use: whoever may
 * write the segment may change a field between two reads of it (a size
 * checked, then used).  The barrier keeps the compiler from reading the
 * segment again in place of the copy.
 */
static inline void
tbl_hdr_copy(struct tbl_hdr *dst, const struct tbl_hdr *h)
{
	memcpy(dst, h, sizeof(*dst));
	__asm__ __volatile__("" ::: "memory");
}

static inline struct tbl_state *
tbl_state(const struct tbl *t)
{
	return (struct tbl_state *)(void *)(t->base + TBL_STATE_OFF);
}

/* The shard of a routed (sharded) table that holds hash h. */
static inline unsigned
tbl_shard_of(const struct tbl *t, uint64_t h)
{
	return (unsigned)(h >> TBL_SHARD_SHIFT) & (t->nshards - 1);
}

/*
 * The view of shard k of t (a routed table, or another view of its
 * segment): a table of its own whose offsets are relative to the shard.
 */
static inline void
tbl_view(const struct tbl *t, unsigned k, struct tbl *v)
{
	*v = *t;
	v->base = t->base - (size_t)t->shard * t->shard_size +
	    (size_t)k * t->shard_size;
	v->size = t->shard_size;
	v->shard = k;
	v->route = 0;
	v->lock_timeout_ms = __atomic_load_n(&t->lock_timeout_ms,
	    __ATOMIC_RELAXED);
}

/*
 * A number for this view of a mapping: per-thread caches (update_counter's
 * hints, fastpath.c's slots) tell mappings and shards apart by it.  tbl_open
 * numbers its handles (gen); views of shards share it.  Never 0.
 */
static inline uint64_t
tbl_view_id(const struct tbl *t)
{
	return t->gen * TBL_SHARD_MAX + t->shard + 1;
}

/* Is id (tbl_view_id, 0: none) a view of t's mapping, any shard? */
static inline int
tbl_view_of(const struct tbl *t, uint64_t id)
{
	return id != 0 && (id - 1) / TBL_SHARD_MAX == t->gen;
}

/*
 * Is [off, off + len) a heap object of the segment, aligned to align (a
 * power of two)?  Written so that no sum can overflow whatever off and
 * len hold.
 */
static inline int
tbl_inheap(const struct tbl *t, uint64_t off, uint64_t len, uint64_t align)
{
	return off >= TBL_HEAP_OFF && off <= t->size &&
	    len <= t->size - off && (off & (align - 1)) == 0;
}

#endif /* PROTETS_SHM_SEG_H */
