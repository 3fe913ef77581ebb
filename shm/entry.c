/*
 * shm/entry.c - entry records (see entry.h).
 *
 * Shared bytes are moved a whole aligned word at a time with relaxed
 * atomic loads and stores: entry blocks are 8-aligned and a whole number
 * of words, so the words covering any part of an entry are inside its
 * block, and the compiler sees no plain access to racy memory.
 */
#include <string.h>

#include <xxhash.h>

#include "alloc.h"
#include "crash.h"
#include "entry.h"
#include "lock.h"

uint64_t
en_hash(const void *key, size_t klen)
{
	return XXH3_64bits(key, klen);
}

/* Copy up to 8 bytes; small enough that a loop beats a memcpy call. */
static inline void
sh_bytes(unsigned char *d, const unsigned char *s, size_t n)
{
	while (n-- > 0)
		*d++ = *s++;
}

/*
 * Copy n <= 32 private bytes from s to d with fixed-size moves (two
 * overlapping ones), not a byte loop or a memcpy call.
 */
static inline __attribute__((always_inline)) void
sh_small(unsigned char *d, const unsigned char *s, size_t n)
{
	unsigned char	p[16], q[16];
	uint64_t	a, b;
	uint32_t	x, y;

	if (n >= 16) {
		memcpy(p, s, 16);
		memcpy(q, s + n - 16, 16);
		memcpy(d, p, 16);
		memcpy(d + n - 16, q, 16);
	} else if (n >= 8) {
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else
		sh_bytes(d, s, n);
}

/* Copy n bytes at src (shared, any alignment) to dst (private). */
static inline __attribute__((always_inline)) void
sh_copyout_ov(void *dst, const unsigned char *src, size_t n, int ov)
{
	const uint64_t	*w = (const uint64_t *)(void *)((uintptr_t)src & ~7UL);
	unsigned char	*d = dst;
	size_t		 skip = (size_t)(src - (const unsigned char *)w), take;
	uint64_t	 v, lw[5];
	size_t		 i;

	/* Short (a counter, a small value): the words, then one move. */
	if (n <= 32) {
		for (i = 0; i * 8 < skip + n; i++)
			lw[i] = SH_OVLOAD(ov, w + i);
		sh_small(d, (unsigned char *)lw + skip, n);
		return;
	}
	if (skip != 0 && n > 0) {
		v = SH_OVLOAD(ov, w);
		w++;
		take = 8 - skip < n ? 8 - skip : n;
		sh_bytes(d, (unsigned char *)&v + skip, take);
		d += take;
		n -= take;
	}
	for (; n >= 8; n -= 8, d += 8, w++) {
		v = SH_OVLOAD(ov, w);
		memcpy(d, &v, 8);
	}
	if (n > 0) {
		v = SH_OVLOAD(ov, w);
		sh_bytes(d, (unsigned char *)&v, n);
	}
}

/* The copy for overlay mode, out of the fast path's way. */
static __attribute__((noinline)) void
sh_copyout_slow(void *dst, const unsigned char *src, size_t n)
{
	sh_copyout_ov(dst, src, n, 1);
}

static void
sh_copyout(void *dst, const unsigned char *src, size_t n)
{
	if (SH_OV_ANY()) {
		sh_copyout_slow(dst, src, n);
		return;
	}
	sh_copyout_ov(dst, src, n, 0);
}

/*
 * Compare n shared bytes at src, which is 8-aligned (keys start right
 * after the entry's header word), with private ones.
 */
static inline __attribute__((always_inline)) int
sh_equal_ov(const unsigned char *src, const unsigned char *p, size_t n,
    int ov)
{
	const uint64_t	*w = (const uint64_t *)(const void *)src;
	uint64_t	 v, x;
	size_t		 i, len = n;

	for (; n >= 8; n -= 8, p += 8, w++) {
		v = SH_OVLOAD(ov, w);
		memcpy(&x, p, 8);
		if (v != x)
			return 0;
	}
	if (n == 0)
		return 1;
	v = SH_OVLOAD(ov, w);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (len >= 8) {
		/*
		 * The last 8 private bytes, shifted down, are the n tail
		 * bytes: one compare with the low n bytes of v.
		 */
		memcpy(&x, p + n - 8, 8);
		return (v & ((1ULL << (8 * n)) - 1)) == x >> (8 * (8 - n));
	}
#endif
	for (i = 0; i < n; i++)
		if (((unsigned char *)&v)[i] != p[i])
			return 0;
	return 1;
}

static __attribute__((noinline)) int
sh_equal_slow(const unsigned char *src, const unsigned char *p, size_t n)
{
	return sh_equal_ov(src, p, n, 1);
}

static int
sh_equal(const unsigned char *src, const unsigned char *p, size_t n)
{
	if (SH_OV_ANY())
		return sh_equal_slow(src, p, n);
	return sh_equal_ov(src, p, n, 0);
}

/* A word-at-a-time writer into shared memory. */
struct sh_wr {
	uint64_t	*w;
	uint64_t	 acc;
	unsigned	 fill;
};

static void
sh_put(struct sh_wr *o, const void *src, size_t n)
{
	const unsigned char	*s = src;
	uint64_t		 v;
	size_t			 take;

	while (n > 0) {
		if (o->fill == 0 && n >= 8) {
			memcpy(&v, s, 8);
			SH_STORE(o->w, v);
			o->w++;
			s += 8;
			n -= 8;
			continue;
		}
		take = 8 - o->fill;
		if (take > n)
			take = n;
		memcpy((unsigned char *)&o->acc + o->fill, s, take);
		o->fill += (unsigned)take;
		s += take;
		n -= take;
		if (o->fill == 8) {
			SH_STORE(o->w, o->acc);
			o->w++;
			o->acc = 0;
			o->fill = 0;
		}
	}
}

static void
sh_flush(struct sh_wr *o)
{
	if (o->fill > 0)
		SH_STORE(o->w, o->acc);	/* zero-padded */
	o->fill = 0;
}

static inline __attribute__((always_inline)) int
en_read_ov(const struct tbl *t, uint64_t off, struct en_hdr *h, int ov)
{
	uint64_t	w;

	if (!tbl_inheap(t, off, TBL_ENTRY_HDR, 8))
		return PROTETS_ECORRUPT;
	w = SH_OVLOAD(ov, tbl_word_in(t, off));
	h->vlen = (uint32_t)w;
	h->klen = (uint32_t)(w >> 32) & 0xffff;
	h->cls = (unsigned)(w >> 48) & 0xff;
	if ((w >> 56) != TBL_ENTRY_MARK || h->klen == 0 ||
	    h->klen > PROTETS_KEY_MAX || h->vlen > PROTETS_VALUE_MAX ||
	    h->cls >= TBL_NCLASS ||
	    al_csize(h->cls) < en_size(h->klen, h->vlen) ||
	    !tbl_inheap(t, off, al_csize(h->cls), 8))
		return PROTETS_ECORRUPT;
	return 0;
}

static __attribute__((noinline)) int
en_read_slow(const struct tbl *t, uint64_t off, struct en_hdr *h)
{
	return en_read_ov(t, off, h, 1);
}

int
en_read(const struct tbl *t, uint64_t off, struct en_hdr *h)
{
	if (SH_OV_ANY())
		return en_read_slow(t, off, h);
	return en_read_ov(t, off, h, 0);
}

void
en_write(struct tbl *t, uint64_t off, unsigned cls, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	struct sh_wr	o = { tbl_word(t, off), 0, 0 };
	uint64_t	w;

	/*
	 * off came from the allocator, which bounds it; a writer of the
	 * table racing this one could still have handed it a block out of
	 * the heap: write nothing (that table's damage) rather than outside.
	 */
	if (!tbl_inheap(t, off, en_size(klen, vlen), 8))
		return;
	w = (uint64_t)vlen | (uint64_t)klen << 32 | (uint64_t)cls << 48 |
	    (uint64_t)TBL_ENTRY_MARK << 56;
	sh_put(&o, &w, sizeof(w));
	sh_put(&o, key, klen);
	if (vlen > 0)
		sh_put(&o, val, vlen);
	sh_flush(&o);
}

int
en_keyeq(const struct tbl *t, uint64_t off, const struct en_hdr *h,
    const void *key, size_t klen)
{
	return h->klen == klen &&
	    sh_equal(t->base + off + TBL_ENTRY_HDR, key, klen);
}

void
en_getkey(const struct tbl *t, uint64_t off, const struct en_hdr *h,
    void *dst)
{
	sh_copyout(dst, t->base + off + TBL_ENTRY_HDR, h->klen);
}

void
en_getval(const struct tbl *t, uint64_t off, const struct en_hdr *h,
    void *dst, size_t n)
{
	if (n > h->vlen)
		n = h->vlen;
	sh_copyout(dst, t->base + off + TBL_ENTRY_HDR + h->klen, n);
}

int
en_valeq(const struct tbl *t, uint64_t off, const struct en_hdr *h,
    const void *val, size_t vlen)
{
	const unsigned char	*src = t->base + off + TBL_ENTRY_HDR + h->klen;
	const unsigned char	*p = val;
	unsigned char		 buf[256];
	size_t			 n, done;

	if (h->vlen != vlen)
		return 0;
	for (done = 0; done < vlen; done += n) {
		n = vlen - done < sizeof(buf) ? vlen - done : sizeof(buf);
		sh_copyout(buf, src + done, n);
		if (memcmp(buf, p + done, n) != 0)
			return 0;
	}
	return 1;
}

uint64_t
en_keyhash(const struct tbl *t, uint64_t off, const struct en_hdr *h)
{
	unsigned char	key[PROTETS_KEY_MAX];

	en_getkey(t, off, h, key);
	return en_hash(key, h->klen);
}

/*
 * Every word the value overlaps is logged before any changes: a roll back
 * (or a recoverer) restores the old value whole, and an overlay reader
 * sees it.  The bytes of those words outside the value (the end of the
 * key, the block's padding) are written back as they were.
 */
void
en_setval(struct tbl *t, uint64_t off, const struct en_hdr *h,
    const void *val)
{
	const unsigned char	*p = val;
	uint64_t		 start, end, w, ws[8];
	size_t			 n, j, lo, hi;

	if (h->vlen == 0)
		return;
	start = off + TBL_ENTRY_HDR + h->klen;
	end = start + h->vlen;
	for (w = start & ~7ULL; w < end; w += 8)
		lk_log(t, w);
	/* Eight words at a time: loaded, patched in a copy, stored whole. */
	for (w = start & ~7ULL; w < end; w += 8 * n) {
		n = (size_t)((end - w + 7) / 8);
		if (n > 8)
			n = 8;
		for (j = 0; j < n; j++)
			ws[j] = SH_LOAD(tbl_word(t, w + 8 * j));
		lo = w < start ? (size_t)(start - w) : 0;
		hi = end < w + 8 * n ? (size_t)(end - w) : 8 * n;
		memcpy((unsigned char *)ws + lo, p + (w + lo - start), hi - lo);
		for (j = 0; j < n; j++) {
			SH_STORE(tbl_word(t, w + 8 * j), ws[j]);
			CRASH_POINT();
		}
	}
}
